package reliability

import (
	"testing"
	"time"
)

// TestProbeOnlyWhenWindowBlocked: a sender whose window is full and hears
// no ack resends its oldest packet in flight after about two round trips;
// one that merely paused waits for the peer's delayed ack.
func TestProbeOnlyWhenWindowBlocked(t *testing.T) {
	const ping = 2 * time.Millisecond
	newSender := func() *Session {
		s := New(Config{NagleTime: -1})
		s.ping, s.havePing = ping, true
		return s
	}
	t.Run("paused", func(t *testing.T) {
		s := newSender()
		s.Send(t0, 0, []byte("request"), SendReliable)
		if _, ok := s.AppendPacket(nil, t0, 2, 1232, true); !ok {
			t.Fatal("nothing sent")
		}
		if _, ok := s.AppendPacket(nil, t0.Add(40*time.Millisecond), 3, 1232, true); ok {
			t.Error("a paused sender resent before the peer's ack delay had passed")
		}
		if s.AckRequestDue() {
			t.Error("a paused sender asks for an immediate ack")
		}
	})
	t.Run("window full", func(t *testing.T) {
		s := newSender()
		s.lossRate = 0.3 // heavy loss: a window of about 216 KB
		for range 6 {
			if _, err := s.Send(t0, 0, make([]byte, 64<<10), SendReliable); err != nil {
				t.Fatal(err)
			}
		}
		pkt := int64(2)
		for {
			if _, ok := s.AppendPacket(nil, t0, pkt, 1232, true); !ok {
				break
			}
			pkt++
		}
		if s.PendingReliable() == 0 {
			t.Fatal("the window let everything out")
		}
		d := s.NextDeadline()
		if d.IsZero() || d.Sub(t0) > 3*ping+probeMargin {
			t.Fatalf("next deadline %v after the window filled, want a probe within %v", d.Sub(t0), 3*ping+probeMargin)
		}
		s.AckRequestSent()
		if !s.AckRequestDue() {
			t.Error("a blocked window does not ask for an immediate ack")
		}
		if _, ok := s.AppendPacket(nil, d, pkt, 1232, true); !ok || !s.LastPacketReliable() {
			t.Fatalf("no probe at %v", d.Sub(t0))
		}
		if retrans, _ := s.Retransmitted(); retrans != 1 {
			t.Errorf("%d segments resent by the probe, want the oldest packet's one", retrans)
		}
		if s.lossLost != 0 {
			t.Error("the probed packet was counted as lost")
		}
	})
}
