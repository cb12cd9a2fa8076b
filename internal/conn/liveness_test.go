package conn

import (
	"testing"
	"time"
)

// TestDeadPeerNoticedWhileSending: a peer that dies while we send reliable
// data is declared dead TimeoutConnected plus about one reply timeout
// after it last spoke, not after a keepalive interval on top.
func TestDeadPeerNoticedWhileSending(t *testing.T) {
	for _, timeout := range []time.Duration{2 * time.Second, 10 * time.Second} {
		h := newPairHarness(t, 0, 0)
		h.serverCfg.TimeoutConnected = timeout
		h.client.cfg.TimeoutConnected = timeout
		h.connect()
		lastHeard := h.now
		// The server is gone: nothing reaches it and nothing comes back.
		nextSend := h.now
		for h.client.State() == StateConnected {
			if !h.now.Before(nextSend) {
				if _, err := h.client.Send(h.now, 0, []byte("data"), true, true); err != nil {
					t.Fatal(err)
				}
				nextSend = h.now.Add(50 * time.Millisecond)
			}
			h.client.Service(h.now)
			h.client.Drain(func([]byte) {})
			next := nextSend
			if d := h.client.NextDeadline(h.now); !d.IsZero() && d.Before(next) {
				next = d
			}
			h.now = next
			if h.now.Sub(lastHeard) > time.Minute {
				t.Fatal("never timed out")
			}
		}
		took := h.now.Sub(lastHeard)
		t.Logf("TimeoutConnected %v: dead peer noticed after %v", timeout, took)
		if h.client.State() != StateProblemDetectedLocally || h.client.EndReason() != ReasonMiscTimeout {
			t.Fatalf("state %d reason %d", h.client.State(), h.client.EndReason())
		}
		if took < timeout || took > timeout+1500*time.Millisecond {
			t.Errorf("TimeoutConnected %v: dead peer noticed after %v, want %v + at most 1.5 s", timeout, took, timeout)
		}
	}
}
