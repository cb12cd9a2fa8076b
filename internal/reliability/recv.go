package reliability

import (
	"errors"
	"io"
	"time"
	"unsafe"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/snp"
)

// recvLane is one lane's incoming state.
type recvLane struct {
	delivered int64  // stream position of buf[0]: the first byte not yet delivered
	buf       []byte // stream bytes from delivered on, holes included
	holes     []span // missing ranges within buf, sorted
	spare     []span // storage swapped with holes when they are rewritten
	lastRel   int64  // number of the last reliable message delivered
	highest   int64  // highest message number seen, reliable or not
	frags     []frag // unreliable fragments, sorted by (num, offset)
}

// frag is a buffered piece of an unreliable message.
type frag struct {
	num    int64
	offset int
	end    bool
	data   []byte // from bufpool
	seq    uint64 // arrival order across all lanes
}

func (s *Session) recvLane(lane int) *recvLane {
	for len(s.recvLanes) <= lane {
		s.recvLanes = append(s.recvLanes, &recvLane{delivered: 1})
	}
	return s.recvLanes[lane]
}

// HighestMsgNum implements snp.Refs.
func (s *Session) HighestMsgNum(lane int) int64 { return s.recvLane(lane).highest }

// NextStreamPos implements snp.Refs.
func (s *Session) NextStreamPos(lane int) int64 {
	l := s.recvLane(lane)
	return l.delivered + int64(len(l.buf))
}

// NextPacketToSend implements snp.Refs.
func (s *Session) NextPacketToSend() int64 { return s.nextPkt }

// ObserveSent tells a session that only receives (a capture replay) that
// its side sent packet num, so acks naming it are understood.
func (s *Session) ObserveSent(num int64) { s.nextPkt = max(s.nextPkt, num+1) }

// Receive processes the decrypted payload of packet pktNum, handing each
// completed message to deliver. deliver returns false to refuse a message
// (its queue is full); the packet is then not acknowledged, so the peer
// resends the reliable data in it later. A returned *Error means the
// connection must close.
func (s *Session) Receive(now time.Time, pktNum int64, payload []byte, deliver func(Message) bool) error {
	s.lastNow = now
	if deliver == nil {
		deliver = discard
	}
	if s.alreadyReceived(pktNum) {
		return nil
	}
	refused := false
	lastCtxReliable := false
	repair := false // a segment below the end of the stream: a resend filling a hole
	s.reader.Reset(payload, pktNum, s.cfg.RecvMaxSegmentsPerPacket, s)
	for {
		f, err := s.reader.Next()
		if err == io.EOF {
			break
		}
		if err == snp.ErrAckFromFuture {
			return nil // abandon, unrecorded
		}
		if err == snp.ErrSegmentBudget {
			refused = true
			break
		}
		if err != nil {
			var de *snp.DecodeError
			if errors.As(err, &de) {
				return &Error{EndReason: EndMiscInternalError, Err: err}
			}
			return err
		}
		switch f.Type {
		case snp.FrameStopWaiting:
			if err := s.onStopWaiting(pktNum, f.Stop); err != nil {
				return err
			}
		case snp.FrameAck:
			s.onAck(now, &f.Ack)
		case snp.FrameSelectLane:
			s.recvLane(f.Lane)
			lastCtxReliable = false
		case snp.FrameReliable:
			lastCtxReliable = true
			if f.Pos < s.NextStreamPos(f.Lane) {
				repair = true
			}
			ok, err := s.onReliable(f.Lane, f.Pos, f.Data, deliver)
			if err != nil {
				return err
			}
			refused = refused || !ok
		case snp.FrameUnreliable:
			ok, err := s.onUnreliable(f, deliver)
			if err != nil {
				return err
			}
			refused = refused || !ok
		}
	}
	if refused {
		ping := 100 * time.Millisecond
		if s.havePing {
			ping = min(s.ping, ping)
		}
		s.scheduleAck(now.Add(2 * (ping + 5*time.Millisecond)))
		return nil
	}
	s.recordReceived(now, pktNum)
	if lastCtxReliable {
		s.scheduleAck(now.Add(maxDataAckDelay))
		// At high packet rates 50 ms is many packets: ack every few
		// data packets so the sender hears of losses before the gap list
		// fills up and has to merge gaps.
		s.unackedData++
		if s.unackedData >= ackEveryPackets {
			s.scheduleAck(now)
		}
	}
	if repair {
		// A resend: the sender's window may be waiting on it, with
		// nothing else in flight whose acks would carry the news.
		s.scheduleAck(now)
	}
	return nil
}

// discard accepts a message and drops it.
func discard(m Message) bool {
	bufpool.Put(m.Data)
	return true
}

// onStopWaiting applies the peer's stop value.
func (s *Session) onStopWaiting(pktNum, stop int64) error {
	stop = min(stop, s.nextRecv-1)
	switch {
	case stop == s.peerStop:
	case stop < s.peerStop:
		if pktNum >= s.peerStopPkt {
			return fatal("stop-waiting lowered from %d to %d by packet %d", s.peerStop, stop, pktNum)
		}
	default:
		s.peerStop, s.peerStopPkt = stop, pktNum
		i := 0
		for i < len(s.gaps) && s.gaps[i].e <= stop {
			i++
		}
		s.gaps = append(s.gaps[:0], s.gaps[i:]...)
		if len(s.gaps) > 0 && s.gaps[0].b < stop {
			s.gaps[0].b = stop
		}
	}
	return nil
}

// onReliable stores a reliable segment and delivers what it completes. It
// returns false if the segment could not be stored or a message could not
// be delivered.
func (s *Session) onReliable(lane int, b int64, data []byte, deliver func(Message) bool) (bool, error) {
	l := s.recvLane(lane)
	e := b + int64(len(data))
	if len(data) == 0 || e <= l.delivered {
		return true, nil // empty or already delivered
	}
	expected := l.delivered + int64(len(l.buf))
	if e > expected {
		if e-l.delivered > int64(s.cfg.RecvBufferSize) {
			return false, nil
		}
		if b > expected && len(l.holes) >= maxHolesExtend {
			return false, nil
		}
	}
	// A segment strictly inside a hole splits it.
	for _, h := range l.holes {
		if h.b < b && e < h.e && len(l.holes) >= maxHolesFragment {
			return false, nil
		}
	}
	if e > expected {
		// Refused when all lanes together are at the limit; the peer
		// resends it, and segments filling holes are always taken, so
		// every lane's buffered data can still complete and drain.
		if !s.growRecvBuf(l, int(e-l.delivered)) {
			return false, nil
		}
		if b > expected {
			l.holes = append(l.holes, span{expected, b})
		}
	}
	if b < l.delivered {
		data = data[l.delivered-b:]
		b = l.delivered
	}
	copy(l.buf[b-l.delivered:], data)
	l.fillHoles(b, e)
	if len(l.holes) > 0 && l.holes[0].b <= b {
		return true, nil // nothing new to deliver before this segment
	}
	return s.deliverReliable(lane, l, deliver)
}

// shrinkRecvBufAbove is the reassembly buffer capacity above which a
// mostly empty buffer is replaced by a small one.
const shrinkRecvBufAbove = 1 << 20

// trimRecvAbove is how much the receive side may hold before delivering
// a message checks it against the budget, giving back spare capacity when
// the unread messages and the buffers together exceed it.
const trimRecvAbove = 64 * 1024

// recvBudget is how much memory the reassembly buffers and fragments of
// all lanes may hold: RecvBufferSize less what the application has not
// read yet.
func (s *Session) recvBudget() int {
	s.unreadBound = 0
	if s.cfg.UnreadBytes != nil {
		s.unreadBound = s.cfg.UnreadBytes()
	}
	return s.cfg.RecvBufferSize - s.unreadBound
}

// overBudget reports whether the receive side and the unread messages
// together exceed RecvBufferSize. The unread bytes are asked for (which
// takes the application queue's lock) only when the bound kept from
// the last answer plus what was delivered since could exceed it.
func (s *Session) overBudget() bool {
	if s.recvHeld+s.unreadBound <= s.cfg.RecvBufferSize {
		return false
	}
	return s.recvHeld > s.recvBudget()
}

// growRecvBuf extends l's reassembly buffer to n bytes, keeping its
// contents, if the budget allows: first by giving up buffered unreliable
// fragments and the spare capacity of other lanes. It reports whether
// the buffer now holds n bytes.
func (s *Session) growRecvBuf(l *recvLane, n int) bool {
	if n <= cap(l.buf) {
		l.buf = l.buf[:n]
		return true
	}
	budget := s.recvBudget()
	room := func() int { return budget - (s.recvHeld - cap(l.buf)) }
	if n > room() {
		s.reclaimRecv(l)
		for n > room() && s.dropOldestFragments() {
		}
		if n > room() {
			return false
		}
	}
	c := min(max(n, 2*cap(l.buf)), room())
	nb := make([]byte, n, c)
	copy(nb, l.buf)
	s.recvHeld += c - cap(l.buf)
	l.buf = nb
	return true
}

// reclaimRecv gives back the spare capacity of every lane's reassembly
// buffer except keep.
func (s *Session) reclaimRecv(keep *recvLane) {
	for _, l := range s.recvLanes {
		if l == keep || cap(l.buf) == len(l.buf) {
			continue
		}
		s.recvHeld -= cap(l.buf)
		if len(l.buf) == 0 {
			l.buf = nil
		} else {
			l.buf = append([]byte(nil), l.buf...)
			l.buf = l.buf[:len(l.buf):len(l.buf)]
		}
		s.recvHeld += cap(l.buf)
	}
}

// dropOldestFragments discards every buffered fragment of the unreliable
// message whose fragment arrived first, on whatever lane. It reports
// false if no fragment is buffered.
func (s *Session) dropOldestFragments() bool {
	var oldest *recvLane
	var num int64
	var seq uint64
	for _, l := range s.recvLanes {
		for _, f := range l.frags {
			if oldest == nil || f.seq < seq {
				oldest, num, seq = l, f.num, f.seq
			}
		}
	}
	if oldest == nil {
		return false
	}
	kept := oldest.frags[:0]
	for _, f := range oldest.frags {
		if f.num == num {
			s.putFrag(f)
		} else {
			kept = append(kept, f)
		}
	}
	clear(oldest.frags[len(kept):])
	oldest.frags = kept
	if len(kept) == 0 {
		oldest.frags = nil // idle lanes keep no list
	}
	return true
}

// fragOverhead is what a buffered fragment costs besides its data: its
// entry in the lane's list, which may be half empty. Counting it keeps a
// peer sending many tiny fragments within the budget too.
const fragOverhead = 2 * int(unsafe.Sizeof(frag{}))

// fragCost is the memory a buffered fragment holding data accounts for.
func fragCost(data []byte) int { return cap(data) + fragOverhead }

// putFrag releases a fragment's buffer.
func (s *Session) putFrag(f frag) {
	s.recvHeld -= fragCost(f.data)
	bufpool.Put(f.data)
}

// fillHoles removes [b, e) from the hole list.
func (l *recvLane) fillHoles(b, e int64) {
	out := l.holes[:0:0]
	if len(l.holes) > 0 {
		out = l.scratchHoles(len(l.holes) + 1)
	}
	for _, h := range l.holes {
		if h.e <= b || h.b >= e {
			out = append(out, h)
			continue
		}
		if h.b < b {
			out = append(out, span{h.b, b})
		}
		if e < h.e {
			out = append(out, span{e, h.e})
		}
	}
	l.holes, l.spare = out, l.holes[:0]
}

// scratchHoles returns an empty hole list with room for n, reusing the
// previous list's storage.
func (l *recvLane) scratchHoles(n int) []span {
	if cap(l.spare) >= n {
		return l.spare[:0]
	}
	return make([]span, 0, max(n, 8))
}

// deliverReliable delivers every complete message at the front of the
// lane's buffer.
func (s *Session) deliverReliable(lane int, l *recvLane, deliver func(Message) bool) (bool, error) {
	avail := len(l.buf)
	if len(l.holes) > 0 {
		avail = int(l.holes[0].b - l.delivered)
	}
	off := 0
	ok := true
	for off < avail {
		h, n, err := snp.ParseMessageHeader(l.buf[off:avail])
		if err == snp.ErrIncomplete {
			break
		}
		if err != nil {
			return false, &Error{EndReason: EndMiscInternalError, Err: err}
		}
		num := l.lastRel + int64(h.NumGap)
		if h.NumGap > 1<<62 || num < l.lastRel {
			return false, fatal("reliable message number overflows on lane %d", lane)
		}
		// GNS also rejects gaps over 1,000,000 here; mist accepts them:
		// a peer may legitimately send that many unreliable messages
		// between two reliable ones.
		l.highest = max(l.highest, num)
		if h.Size > uint64(s.cfg.RecvMaxMessageSize) || h.Size > uint64(s.cfg.RecvBufferSize) {
			return false, fatal("reliable message of %d bytes on lane %d exceeds the receive limit", h.Size, lane)
		}
		if uint64(avail-off-n) < h.Size {
			break
		}
		body := l.buf[off+n : off+n+int(h.Size)]
		msg := Message{Lane: lane, Num: num, Reliable: true, Data: append(bufpool.Get(len(body))[:0], body...)}
		if !deliver(msg) {
			bufpool.Put(msg.Data)
			ok = false
			break
		}
		s.unreadBound += len(body)
		l.lastRel = num
		off += n + int(h.Size)
	}
	if off > 0 {
		rest := copy(l.buf, l.buf[off:])
		l.buf = l.buf[:rest]
		l.delivered += int64(off)
		// Give back a buffer that grew for an unusually large message,
		// but keep one a steady stream of ordinary messages reuses:
		// shrinking and regrowing it for each would copy every byte
		// again.
		if cap(l.buf) > shrinkRecvBufAbove && rest < cap(l.buf)/8 {
			s.recvHeld -= cap(l.buf)
			l.buf = append(make([]byte, 0, max(rest, 4096)), l.buf...)
			s.recvHeld += cap(l.buf)
		}
		// What was delivered now counts as unread: the buffers give
		// back their spare capacity if both together exceed the limit.
		if s.recvHeld > trimRecvAbove && s.overBudget() {
			s.reclaimRecv(nil)
		}
	}
	return ok, nil
}

// onUnreliable handles an unreliable segment. It returns false if the
// message it completed was refused.
func (s *Session) onUnreliable(f snp.Frame, deliver func(Message) bool) (bool, error) {
	l := s.recvLane(f.Lane)
	l.highest = max(l.highest, f.MsgNum)
	off := int(f.FragOffset)
	if len(f.Data) > maxUnreliableSegmentRecv || off+len(f.Data) > maxUnreliableRecvSize {
		return true, nil // ignored, as GNS does
	}
	if off+len(f.Data) > s.cfg.RecvMaxMessageSize {
		return false, fatal("unreliable message of at least %d bytes on lane %d exceeds the receive limit", off+len(f.Data), f.Lane)
	}
	if off == 0 && f.End {
		if s.cfg.LendUnreliable {
			if !deliver(Message{Lane: f.Lane, Num: f.MsgNum, Data: f.Data, Lent: true}) {
				return false, nil
			}
			s.unreadBound += len(f.Data)
			return true, nil
		}
		msg := Message{Lane: f.Lane, Num: f.MsgNum, Data: append(bufpool.Get(len(f.Data))[:0], f.Data...)}
		if !deliver(msg) {
			bufpool.Put(msg.Data)
			return false, nil
		}
		s.unreadBound += len(f.Data)
		return true, nil
	}
	// A fragment already held is a duplicate, even if this one is longer.
	for _, fr := range l.frags {
		if fr.num == f.MsgNum && fr.offset == off {
			return true, nil
		}
	}
	if len(l.frags) > maxBufferedFragments {
		// Make room by dropping every fragment of the oldest message.
		oldest := l.frags[0].num
		n := 0
		for n < len(l.frags) && l.frags[n].num == oldest {
			s.putFrag(l.frags[n])
			n++
		}
		l.frags = append(l.frags[:0], l.frags[n:]...)
	}
	data := append(bufpool.Get(len(f.Data))[:0], f.Data...)
	// Fragments share the receive budget of all lanes: the oldest
	// messages' fragments go first, and with the budget taken by
	// reliable data the fragment is dropped, as loss would.
	for s.recvHeld+fragCost(data)+s.unreadBound > s.cfg.RecvBufferSize && s.recvHeld+fragCost(data) > s.recvBudget() {
		if !s.dropOldestFragments() {
			bufpool.Put(data)
			return true, nil
		}
	}
	s.recvHeld += fragCost(data)
	s.fragSeq++
	i := 0
	for i < len(l.frags) && (l.frags[i].num < f.MsgNum || l.frags[i].num == f.MsgNum && l.frags[i].offset < off) {
		i++
	}
	fr := frag{num: f.MsgNum, offset: off, end: f.End, data: data, seq: s.fragSeq}
	l.frags = append(l.frags, frag{})
	copy(l.frags[i+1:], l.frags[i:])
	l.frags[i] = fr
	return s.completeUnreliable(f.Lane, l, f.MsgNum, deliver), nil
}

// completeUnreliable delivers message num if its fragments now cover it
// from offset 0 through a fragment flagged as the end.
func (s *Session) completeUnreliable(lane int, l *recvLane, num int64, deliver func(Message) bool) bool {
	first := 0
	for first < len(l.frags) && l.frags[first].num != num {
		first++
	}
	last := first
	covered := 0
	complete := false
	for ; last < len(l.frags) && l.frags[last].num == num; last++ {
		fr := l.frags[last]
		if fr.offset > covered {
			return true
		}
		covered = max(covered, fr.offset+len(fr.data))
		if fr.end {
			complete = true
			last++
			break
		}
	}
	if !complete {
		return true
	}
	data := bufpool.Get(covered)
	for _, fr := range l.frags[first:last] {
		copy(data[fr.offset:], fr.data)
	}
	// Drop all of this message's fragments, including any past the end.
	stop := last
	for stop < len(l.frags) && l.frags[stop].num == num {
		stop++
	}
	for _, fr := range l.frags[first:stop] {
		s.putFrag(fr)
	}
	l.frags = append(l.frags[:first], l.frags[stop:]...)
	if len(l.frags) == 0 {
		l.frags = nil // idle lanes keep no list
	}
	if !deliver(Message{Lane: lane, Num: num, Data: data}) {
		bufpool.Put(data)
		return false
	}
	s.unreadBound += covered
	return true
}
