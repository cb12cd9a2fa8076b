package reliability

import (
	"time"

	"github.com/mistnet/mist/internal/snp"
)

// recvGap is a run [b, e) of packets not received.
type recvGap struct {
	b, e     int64
	before   time.Time // receive time of packet b-1 (zero: unknown)
	opened   time.Time // when the gap appeared
	okToNack time.Time // not reported before this, in case the packets are only reordered
}

// alreadyReceived reports whether pktNum is recorded as received. Packets
// below the peer's stop value can no longer be told apart; the caller's
// replay window rejects duplicates of those.
func (s *Session) alreadyReceived(pktNum int64) bool {
	if pktNum < s.peerStop || pktNum >= s.nextRecv {
		return false
	}
	for _, g := range s.gaps {
		if pktNum < g.b {
			return true
		}
		if pktNum < g.e {
			return false
		}
	}
	return true
}

// recordReceived adds pktNum to the ack state.
func (s *Session) recordReceived(now time.Time, p int64) {
	switch {
	case p < s.peerStop:
		return
	case p == s.nextRecv:
		s.nextRecv, s.nextTime = p+1, now
	case p > s.nextRecv:
		// GNS holds a new gap 3 ms before reporting it. mist stretches
		// the hold to the reordering it has seen, up to maxNackHold, so
		// that a jittery path does not cause needless retransmissions.
		s.nackHold = max(nackFlush, s.nackHold-s.nackHold/64)
		s.gaps = append(s.gaps, recvGap{b: s.nextRecv, e: p, before: s.nextTime, opened: now, okToNack: now.Add(s.nackHold)})
		s.nextRecv, s.nextTime = p+1, now
		if len(s.gaps)+1 >= maxPacketGaps {
			s.mergeGaps()
		}
	default:
		for i := range s.gaps {
			g := &s.gaps[i]
			if p < g.b {
				return // already received
			}
			if p >= g.e {
				continue
			}
			if late := now.Sub(g.opened) + time.Millisecond; late > s.nackHold {
				s.nackHold = min(late, maxNackHold)
			}
			switch {
			case g.e-g.b == 1:
				s.gaps = append(s.gaps[:i], s.gaps[i+1:]...)
			case p == g.b:
				g.b, g.before = p+1, now
			case p == g.e-1:
				g.e = p
			default:
				upper := recvGap{b: p + 1, e: g.e, before: now, opened: g.opened, okToNack: g.okToNack}
				g.e = p
				s.gaps = append(s.gaps, recvGap{})
				copy(s.gaps[i+2:], s.gaps[i+1:])
				s.gaps[i+1] = upper
			}
			return
		}
	}
}

// mergeGaps keeps the gap list bounded: of the ten oldest gaps, the two
// neighbours with the fewest received packets between them become one, and
// those packets are reported missing again (safe, at worst a needless
// retransmission).
func (s *Session) mergeGaps() {
	best := -1
	var bestRun int64
	for i := 0; i+1 < len(s.gaps) && i < 9; i++ {
		run := s.gaps[i+1].b - s.gaps[i].e
		if best < 0 || run < bestRun {
			best, bestRun = i, run
		}
	}
	if best < 0 {
		return
	}
	s.gaps[best].e = s.gaps[best+1].e
	s.gaps = append(s.gaps[:best+1], s.gaps[best+2:]...)
}

// scheduleAck makes sure an ack goes out by t.
func (s *Session) scheduleAck(t time.Time) {
	if s.ackDue.IsZero() || t.Before(s.ackDue) {
		s.ackDue = t
	}
}

// RequestAck asks for an ack to go out now (the peer set
// ACK_REQUEST_IMMEDIATE) or within the usual 50 ms (ACK_REQUEST_E2E, or
// inline stats received).
func (s *Session) RequestAck(now time.Time, immediate bool) {
	s.lastNow = now
	if immediate {
		s.scheduleAck(now)
	} else {
		s.scheduleAck(now.Add(maxDataAckDelay))
	}
}

// appendAck writes an ack frame reporting everything received, within
// limit bytes, and updates the ack deadline.
func (s *Session) appendAck(dst []byte, now time.Time, limit int) []byte {
	// Gaps still inside their reorder allowance are held back, even when
	// the peer asked for an immediate ack. GNS reports them then, and once
	// its 50 ms ack deadline has passed; mist does not, since a sender
	// asks for immediate acks every few dozen packets at high rates (mist
	// does, to keep its window moving) and the ack after every eighth data
	// packet makes the deadline fall just as often, while the hold can
	// exceed 50 ms on a jittery path: reordered packets would be reported
	// missing and sent again. The hold is bounded, so the gap is reported
	// within maxNackHold anyway.
	n := 0
	for n < len(s.gaps) && n < maxAckBlocks && !s.gaps[n].okToNack.After(now) {
		n++
	}
	// Latest travels as 16 bits and the peer expands it near its next
	// packet number: a latest stopped far behind by held gaps (after a
	// jump in the peer's packet numbers) would expand wrongly, so such
	// gaps are reported at once.
	for n < len(s.gaps) && n < maxAckBlocks && s.nextRecv-s.gaps[n].b > maxAckLag {
		n++
	}
	for {
		s.blocks = s.blocks[:0]
		latest, latestTime := s.nextRecv-1, s.nextTime
		if n < len(s.gaps) {
			latest, latestTime = s.gaps[n].b-1, s.gaps[n].before
		}
		for i := n - 1; i >= 0; i-- {
			upper := latest + 1
			if i+1 < n {
				upper = s.gaps[i+1].b
			}
			g := s.gaps[i]
			// Merged gaps after a jump in the peer's packet numbers can
			// exceed what one block may say; those take several blocks.
			s.blocks = snp.AppendAckBlock(s.blocks, uint64(upper-g.e), uint64(g.e-g.b))
		}
		if n > 0 && (len(s.blocks) > maxAckBlocks || snp.AckLen(s.blocks) > limit) {
			n-- // drop the newest block and report less
			continue
		}
		delay := uint16(snp.AckDelayUnknown)
		if !latestTime.IsZero() {
			delay = snp.EncodeAckDelay(now.Sub(latestTime))
		}
		dst = snp.AppendAck(dst, latest, delay, s.blocks)
		break
	}
	s.unackedData = 0
	switch {
	case n == len(s.gaps):
		s.ackDue = time.Time{}
	case s.gaps[n].okToNack.After(now):
		s.ackDue = s.gaps[n].okToNack
	default:
		// Ran out of room: report the rest soon, without turning every
		// call into another ack-only packet.
		s.ackDue = now.Add(nackFlush)
	}
	return dst
}
