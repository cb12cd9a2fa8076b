package reliability

import (
	"time"

	"github.com/mistnet/mist/internal/snp"
)

// minDataRoom is the least room worth starting a new segment in.
const minDataRoom = 4

// AppendPacket appends the SNP payload of the next data packet, numbered
// pktNum, to dst: a stop-waiting frame, an ack frame, then (if allowData)
// retransmissions and new data, at most maxPlaintext bytes in all. It
// reports false, appending nothing, if no packet is due: no ack is due and
// either data is not allowed or none is ready (Nagle). The caller must send
// every packet it gets, with consecutive packet numbers.
func (s *Session) AppendPacket(dst []byte, now time.Time, pktNum int64, maxPlaintext int, allowData bool) ([]byte, bool) {
	s.lastNow = now
	s.checkTimeouts(now)
	ackDue := !s.ackDue.IsZero() && !s.ackDue.After(now)
	if !ackDue && !(allowData && s.dataReady(now)) {
		return dst, false
	}
	return s.build(dst, now, pktNum, maxPlaintext, allowData), true
}

// AppendAckPacket appends a packet that carries at least stop-waiting and
// an ack, for keepalives and immediate ack replies. With allowData set it
// also carries whatever data is queued.
func (s *Session) AppendAckPacket(dst []byte, now time.Time, pktNum int64, maxPlaintext int, allowData bool) []byte {
	s.lastNow = now
	s.checkTimeouts(now)
	return s.build(dst, now, pktNum, maxPlaintext, allowData)
}

// LastPacketReliable reports whether the packet built last carried
// reliable data, which the peer must acknowledge.
func (s *Session) LastPacketReliable() bool { return s.lastPacketReliable }

// build assembles one packet.
func (s *Session) build(dst []byte, now time.Time, pktNum int64, maxPlaintext int, allowData bool) []byte {
	start := len(dst)
	if pktNum >= s.nextPkt {
		s.nextPkt = pktNum + 1
	}
	p := s.recordSent(now, pktNum, 0)
	dst = snp.AppendStopWaiting(dst, pktNum, s.minWaiting)
	// Acks come first and may take up to half the packet when data waits.
	ackLimit := maxPlaintext - (len(dst) - start)
	if allowData {
		ackLimit /= 2
	}
	dst = s.appendAck(dst, now, ackLimit)
	if allowData {
		before := len(dst)
		dst = s.appendData(dst, p, maxPlaintext-(len(dst)-start))
		s.sentSinceAckRequest += len(dst) - before
	}
	p.bytes = len(dst) - start + s.cfg.PacketOverhead
	s.lastPacketReliable = len(p.segs) > 0
	if s.lastPacketReliable {
		s.lastRelSent = now
	}
	if s.cfg.Rate != nil {
		s.cfg.Rate.OnPacketSent(now, p.bytes)
	}
	return dst
}

// appendData places retransmissions, then new messages, in at most room
// bytes, and records the reliable segments in p. Lane 0's segments come
// first with no select-lane frame, then each other lane behind its own.
func (s *Session) appendData(dst []byte, p *sentPacket, room int) []byte {
	base := len(dst)
	for i := range s.laneBufs {
		s.laneBufs[i] = s.laneBufs[i][:0]
		s.laneWr[i].Reset()
		s.laneLast[i] = -1
	}
	s.laneBufs[0] = dst // lane 0 writes straight into the packet
	used := 0           // bytes used so far, select-lane frames included
	// put appends one segment to lane's buffer if it fits.
	put := func(lane, dataLen int, last bool, enc func(w *snp.Writer, b []byte) []byte) bool {
		b := s.laneBufs[lane]
		before := len(b)
		extra := 0
		if lane != 0 && before == 0 {
			extra = snp.SelectLaneLen(lane)
		}
		// Encode with the lane's writer in place (a local copy would
		// escape to the heap through enc) and restore it if the segment
		// does not fit.
		saved := s.laneWr[lane]
		b = enc(&s.laneWr[lane], b)
		n := len(b) - before + extra
		if used+n > room {
			s.laneBufs[lane], s.laneWr[lane] = b[:before], saved
			return false
		}
		s.laneBufs[lane] = b
		s.laneLast[lane], s.laneLastLen[lane] = before, dataLen
		if last {
			s.laneLast[lane] = -1 // already in final form
		}
		if lane == 0 {
			s.laneLast[lane] -= base
		}
		used += n
		return true
	}

	// Retransmissions first, in stream order per lane.
retries:
	for lane, l := range s.sendLanes {
		for len(l.retry) > 0 {
			r := l.retry[0]
			if l.isAcked(r.b, r.e) {
				l.retry = l.retry[1:]
				s.pendingRel -= int(r.e - r.b)
				continue
			}
			if room-used <= 2 {
				break retries
			}
			data := l.streamBytes(r.b, r.e)
			if !put(lane, len(data), false, func(w *snp.Writer, b []byte) []byte { return w.AppendReliable(b, r.b, data, false) }) {
				break retries
			}
			l.retry = l.retry[1:]
			s.pendingRel -= int(r.e - r.b)
			s.retransmittedSegments++
			s.retransmittedBytes += r.e - r.b
			p.segs = append(p.segs, segRef{lane, r.b, r.e})
		}
	}

	// New data, lane by lane in priority order, weighted within a class.
	// A piece that is cut short (by the room left or the segment cap) ends
	// the packet's data; if nothing follows it on the wire it is written
	// as the final frame, without a length byte, as GNS does.
	for room-used > minDataRoom {
		lane := s.pickLane()
		if lane < 0 {
			break
		}
		l := s.sendLanes[lane]
		m := l.head()
		w := &s.laneWr[lane]
		avail := room - used
		if lane != 0 && len(s.laneBufs[lane]) == 0 {
			avail -= snp.SelectLaneLen(lane)
		}
		rest := len(m.buf) - m.sent
		lastOnWire := s.noLaneAfter(lane)
		if m.reliable {
			pos := m.pos + int64(m.sent)
			hdr := w.ReliableLen(pos, 0)
			most := min(rest, s.cfg.MaxReliableSegment, int(l.ackedBelow+s.window()-pos))
			n := min(most, avail-hdr)
			final := n < rest
			if lastOnWire && min(most, avail-hdr+1) > n {
				n, final = n+1, true
			}
			if n <= 0 || (n < rest && n < 16) {
				break
			}
			data := m.buf[m.sent : m.sent+n]
			if !put(lane, n, final && lastOnWire, func(w *snp.Writer, b []byte) []byte {
				return w.AppendReliable(b, pos, data, final && lastOnWire)
			}) {
				break
			}
			p.segs = append(p.segs, segRef{lane, pos, pos + int64(n)})
			l.sentBelow = max(l.sentBelow, pos+int64(n))
			m.sent += n
			s.pendingRel -= n
			if m.sent == len(m.buf) {
				l.popHead() // stays in unacked until acknowledged
			}
			if final {
				break
			}
			continue
		}
		hdr := w.UnreliableLen(m.num, m.sent, 0)
		n := min(rest, snp.MaxSegmentLen, avail-hdr)
		final := n < rest
		if lastOnWire && min(rest, snp.MaxSegmentLen, avail-hdr+1) > n {
			n, final = n+1, true
		}
		if n < min(16, rest) || n < 0 {
			break // sliver rule: wait for the next packet
		}
		off, data, end := m.sent, m.buf[m.sent:m.sent+n], m.sent+n == len(m.buf)
		if !put(lane, n, final && lastOnWire, func(w *snp.Writer, b []byte) []byte {
			return w.AppendUnreliable(b, m.num, off, end, data, final && lastOnWire)
		}) {
			break
		}
		m.sent += n
		s.pendingUnrel -= n
		if end {
			l.popHead()
			s.freeMsg(m)
		}
		if final {
			break
		}
	}

	// Assemble: lane 0 is already in place; the rest follow.
	dst = s.laneBufs[0]
	s.laneBufs[0] = nil
	lastLead, lastData := -1, 0
	if s.laneLast[0] >= 0 {
		lastLead, lastData = base+s.laneLast[0], s.laneLastLen[0]
	}
	for lane := 1; lane < len(s.laneBufs); lane++ {
		b := s.laneBufs[lane]
		if len(b) == 0 {
			continue
		}
		dst = snp.AppendSelectLane(dst, lane)
		lastLead, lastData = len(dst)+s.laneLast[lane], s.laneLastLen[lane]
		dst = append(dst, b...)
	}
	if lastLead >= 0 {
		dst = snp.ExtendLastSegment(dst, lastLead, lastData)
	}
	return dst
}

// noLaneAfter reports whether no lane serialized after lane has segments
// in the packet being built (lane 0 goes first, then ascending).
func (s *Session) noLaneAfter(lane int) bool {
	for l := max(lane+1, 1); l < len(s.laneBufs); l++ {
		if len(s.laneBufs[l]) > 0 {
			return false
		}
	}
	return true
}

// pickLane chooses the lane whose head message goes next: the lowest
// priority value with anything queued that may go (see windowFull), and
// within it the earliest virtual
// finish time. It returns -1 when nothing is queued.
func (s *Session) pickLane() int {
	best := -1
	for _, lane := range s.laneOrder {
		l := s.sendLanes[lane]
		h := l.head()
		if h == nil || l.windowFull(h, s.window()) {
			continue
		}
		if best >= 0 {
			b := s.sendLanes[best]
			if l.priority != b.priority || h.finish >= b.head().finish {
				continue
			}
		}
		best = lane
	}
	return best
}
