package reliability

import "time"

// LaneStatus is one send lane's share of the session's queue counters.
type LaneStatus struct {
	// PendingReliable and PendingUnreliable are the bytes queued on the
	// lane and not yet on the wire (reliable: headers and retransmissions
	// included), as PendingReliable and PendingUnreliable count them for
	// the whole session.
	PendingReliable, PendingUnreliable int
	// SentUnacked is the lane's reliable bytes sent and not acknowledged.
	SentUnacked int
	// QueueTime estimates how long a message queued on the lane now would
	// wait: the pending bytes of its lane and of every lane of higher
	// priority at the current send rate.
	QueueTime time.Duration
}

// LaneStatus fills out[i] for lanes 0..len(out)-1; lanes that are not
// configured get zeros.
func (s *Session) LaneStatus(out []LaneStatus) {
	pending := make([]int, len(s.sendLanes))
	for i, l := range s.sendLanes {
		if i >= len(out) {
			break
		}
		var st LaneStatus
		for _, m := range l.queue[l.qhead:] {
			if m.reliable {
				st.PendingReliable += len(m.buf) - m.sent
			} else {
				st.PendingUnreliable += len(m.buf) - m.sent
			}
		}
		for _, r := range l.retry {
			st.PendingReliable += int(r.e - r.b)
		}
		st.SentUnacked = l.sentUnacked()
		pending[i] = st.PendingReliable + st.PendingUnreliable
		out[i] = st
	}
	for i := len(s.sendLanes); i < len(out); i++ {
		out[i] = LaneStatus{}
	}
	rate := 0
	if s.cfg.Rate != nil {
		rate = s.cfg.Rate.Rate()
	}
	if rate <= 0 {
		return
	}
	for i := range out[:min(len(out), len(s.sendLanes))] {
		ahead := 0
		for j, l := range s.sendLanes {
			if l.priority < s.sendLanes[i].priority || j == i {
				ahead += pending[j]
			}
		}
		out[i].QueueTime = time.Duration(int64(ahead) * int64(time.Second) / int64(rate))
	}
}
