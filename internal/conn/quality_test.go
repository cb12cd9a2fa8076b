package conn

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/wire"
)

// runTraffic has both ends send a message every 100 ms for d; keep decides
// which client datagrams (numbered from 0) reach the server; one for which
// reorder is true arrives after the next one.
func (h *pairHarness) runTraffic(d time.Duration, keep func(i int) bool, reorder func(i int) bool) {
	h.t.Helper()
	end := h.now.Add(d)
	i := 0
	var held []byte
	for h.now.Before(end) {
		h.advance(100 * time.Millisecond)
		h.client.Send(h.now, 0, []byte("c"), false, true)
		h.server.Send(h.now, 0, []byte("s"), false, true)
		var sent [][]byte
		h.client.Drain(func(b []byte) { sent = append(sent, bytes.Clone(b)) })
		var kept [][]byte
		for _, b := range sent {
			switch {
			case !keep(i):
			case reorder(i) && held == nil:
				held = b
			default:
				kept = append(kept, b)
				if held != nil {
					kept = append(kept, held)
					held = nil
				}
			}
			i++
		}
		for _, b := range kept {
			h.server.Receive(h.now, b)
		}
		h.server.Service(h.now)
		h.server.Drain(func(b []byte) { h.client.Receive(h.now, bytes.Clone(b)) })
		h.client.Service(h.now)
		if h.client.State() != StateConnected || h.server.State() != StateConnected {
			h.t.Fatalf("connection lost")
		}
	}
}

func near(a float32, want, tol float64) bool { return math.Abs(float64(a)-want) <= tol }

func TestQualityUnknownBeforeFirstInterval(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.runTraffic(2*time.Second, func(int) bool { return true }, func(int) bool { return false })
	local, remote, jitter := h.server.Quality(h.now)
	if local != -1 || remote != -1 || jitter != -1 {
		t.Errorf("after 2 s: local %v remote %v jitter %v, want all -1", local, remote, jitter)
	}
}

func TestQualityNoLoss(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.runTraffic(6*time.Second, func(int) bool { return true }, func(int) bool { return false })
	if local, _, _ := h.server.Quality(h.now); local != 1 {
		t.Errorf("local quality %v without loss, want 1", local)
	}
}

func TestQualityUnderLoss(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	// Every fifth client datagram is lost: 20%.
	h.runTraffic(31*time.Second, func(i int) bool { return i%5 != 4 }, func(int) bool { return false })
	local, _, _ := h.server.Quality(h.now)
	if !near(local, 0.8, 0.03) {
		t.Errorf("server's local quality %v under 20%% loss, want 0.8", local)
	}
	// The server's report (every 25 s) tells the client how its packets fare.
	_, remote, _ := h.client.Quality(h.now)
	if !near(remote, 0.8, 0.03) {
		t.Errorf("client's remote quality %v, want 0.8", remote)
	}
	// The other direction is clean.
	if local, _, _ := h.client.Quality(h.now); local != 1 {
		t.Errorf("client's local quality %v, want 1", local)
	}
}

func TestQualityCountsReordering(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	// Every tenth datagram swaps places with the one before it: the later
	// one first counts a drop that the earlier one then undoes as out of
	// order, so 10% of packets are "weird".
	h.runTraffic(6*time.Second, func(int) bool { return true }, func(i int) bool { return i%10 == 9 })
	local, _, _ := h.server.Quality(h.now)
	if !near(local, 0.9, 0.04) {
		t.Errorf("local quality %v with 10%% reordered, want 0.9", local)
	}
}

func TestQualityJitter(t *testing.T) {
	var q quality
	q.init(t0)
	now := t0
	// Packets sent 20 ms apart arrive 20, 25 and 18 ms apart.
	q.onPacket(now, 2, 0, false)
	for i, gap := range []time.Duration{20, 25, 18} {
		now = now.Add(gap * time.Millisecond)
		q.onPacket(now, int64(3+i), 20*time.Millisecond, true)
	}
	if !q.haveJitter || q.maxJitter != 5*time.Millisecond {
		t.Errorf("max jitter %v (known %v), want 5ms", q.maxJitter, q.haveJitter)
	}
}

func TestQualityReportFields(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.runTraffic(24*time.Second, func(i int) bool { return i%4 != 3 }, func(int) bool { return false })
	var dropped int = -1
	for range 40 {
		h.advance(100 * time.Millisecond)
		h.server.Send(h.now, 0, []byte("s"), false, true)
		h.server.Drain(func(b []byte) {
			hd, _, err := wire.ParseDataHeader(b)
			if err != nil || hd.Stats == nil {
				return
			}
			// Urgent pings carry flags only.
			if m, err := wire.ParseStats(hd.Stats); err == nil && m.GetStats().GetInstantaneous() != nil && m.GetStats().GetInstantaneous().PacketsDroppedPct != nil {
				dropped = int(m.GetStats().GetInstantaneous().GetPacketsDroppedPct())
			}
		})
	}
	if dropped < 22 || dropped > 28 {
		t.Errorf("report says %d%% dropped, want 25", dropped)
	}
}
