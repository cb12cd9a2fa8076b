package reliability

import (
	"testing"
	"time"

	"github.com/mistnet/mist/internal/congestion"
)

func TestLaneStatus(t *testing.T) {
	rate := congestion.NewFixed(100_000, 100_000)
	p := newPair(t, Config{Rate: rate}, Config{})
	a := p.s[0]
	if err := a.ConfigureLanes([]int{0, 1, 1}, nil); err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{0: 3000, 1: 20_000} // lane 2 stays empty
	for lane, n := range sizes {
		if _, err := a.Send(t0, lane, make([]byte, n), SendReliable); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Send(t0, 1, make([]byte, 500), SendUnreliable); err != nil {
		t.Fatal(err)
	}
	out := make([]LaneStatus, 4)
	a.LaneStatus(out)
	sumRel, sumUnrel := 0, 0
	for _, l := range out {
		sumRel += l.PendingReliable
		sumUnrel += l.PendingUnreliable
	}
	if sumRel != a.PendingReliable() || sumUnrel != a.PendingUnreliable() {
		t.Errorf("lanes add up to %d/%d pending, session says %d/%d", sumRel, sumUnrel, a.PendingReliable(), a.PendingUnreliable())
	}
	if out[0].PendingReliable < 3000 || out[1].PendingReliable < 20_000 || out[1].PendingUnreliable != 500 {
		t.Errorf("pending per lane %+v", out)
	}
	// An idle lane has nothing pending, but a message queued on it would
	// wait for the lanes that go first.
	if idle := out[2]; idle.PendingReliable != 0 || idle.PendingUnreliable != 0 || idle.SentUnacked != 0 || idle.QueueTime != out[0].QueueTime {
		t.Errorf("idle lane %+v", idle)
	}
	if out[3] != (LaneStatus{}) {
		t.Errorf("unconfigured lane %+v", out[3])
	}
	// Lane 0 goes first: its queue time is its own bytes; lane 1 waits for
	// lane 0 as well.
	if want := time.Duration(out[0].PendingReliable) * time.Second / 100_000; out[0].QueueTime != want {
		t.Errorf("lane 0 queue time %v, want %v", out[0].QueueTime, want)
	}
	if out[1].QueueTime <= out[0].QueueTime {
		t.Errorf("lane 1 queue time %v not behind lane 0's %v", out[1].QueueTime, out[0].QueueTime)
	}

	// Once sent, the bytes are unacknowledged until the peer acks them.
	now := t0
	for range 50 {
		buf, ok := a.AppendPacket(nil, now, p.next[0], 1232, true)
		if !ok {
			break
		}
		p.next[0]++
		_ = buf // lost: never acknowledged
	}
	a.LaneStatus(out)
	if out[0].SentUnacked == 0 || out[0].SentUnacked+out[1].SentUnacked != a.SentUnacked() {
		t.Errorf("sent unacked per lane %d+%d, session %d", out[0].SentUnacked, out[1].SentUnacked, a.SentUnacked())
	}
}
