package reliability

import (
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/snp"
)

// outMsg is a queued outgoing message.
type outMsg struct {
	reliable bool
	num      int64
	pos      int64  // reliable: stream position of the header's first byte
	buf      []byte // reliable: header + body, as it appears in the stream; unreliable: body
	sent     int    // bytes of buf placed in packets so far
	nagle    time.Time
	queued   time.Time
	finish   uint64 // virtual finish time for weighted fair queuing
}

func (m *outMsg) end() int64 { return m.pos + int64(len(m.buf)) }

// sendLane is one lane's outgoing state.
type sendLane struct {
	priority, weight int
	lastFinish       uint64

	lastNum    int64 // message numbers: shared by reliable and unreliable
	lastRelNum int64
	streamPos  int64 // next reliable stream position to assign

	queue   []*outMsg // messages with bytes not yet placed, in order
	qhead   int
	unacked []*outMsg // reliable messages not yet fully acknowledged, by position
	uhead   int

	ackedBelow int64  // every stream byte below is acknowledged
	acked      []span // acknowledged ranges above ackedBelow, sorted, disjoint
	retry      []span // segments to resend, sorted by position
	sentBelow  int64  // highest stream position placed in any packet
}

// span is a half-open range [b, e) of stream positions or packet numbers.
type span struct{ b, e int64 }

func (l *sendLane) head() *outMsg {
	if l.qhead < len(l.queue) {
		return l.queue[l.qhead]
	}
	return nil
}

func (l *sendLane) popHead() {
	l.queue[l.qhead] = nil
	l.qhead++
	if l.qhead == len(l.queue) {
		l.queue, l.qhead = l.queue[:0], 0
	} else if l.qhead > 64 && l.qhead*2 > len(l.queue) {
		n := copy(l.queue, l.queue[l.qhead:])
		clear(l.queue[n:])
		l.queue, l.qhead = l.queue[:n], 0
	}
}

func (l *sendLane) sentUnacked() int {
	n := l.sentBelow - l.ackedBelow
	for _, a := range l.acked {
		n -= a.e - a.b
	}
	return int(max(n, 0))
}

// isAcked reports whether every byte of [b, e) is acknowledged.
func (l *sendLane) isAcked(b, e int64) bool {
	if e <= l.ackedBelow {
		return true
	}
	for _, a := range l.acked {
		if a.b <= max(b, l.ackedBelow) && e <= a.e {
			return true
		}
		if a.b > b {
			break
		}
	}
	return false
}

// markAcked records [b, e) as acknowledged and releases messages that are
// now wholly acknowledged.
func (l *sendLane) markAcked(b, e int64, s *Session) {
	b = max(b, l.ackedBelow)
	if e <= b {
		return
	}
	// Insert and merge into the sorted span list.
	i := 0
	for i < len(l.acked) && l.acked[i].e < b {
		i++
	}
	j := i
	for j < len(l.acked) && l.acked[j].b <= e {
		b = min(b, l.acked[j].b)
		e = max(e, l.acked[j].e)
		j++
	}
	if i == j {
		l.acked = append(l.acked, span{})
		copy(l.acked[i+1:], l.acked[i:])
	} else {
		l.acked = append(l.acked[:i+1], l.acked[j:]...)
	}
	l.acked[i] = span{b, e}
	if l.acked[0].b <= l.ackedBelow {
		l.ackedBelow = l.acked[0].e
		l.acked = append(l.acked[:0], l.acked[1:]...)
	}
	for l.uhead < len(l.unacked) {
		m := l.unacked[l.uhead]
		if m.end() > l.ackedBelow || m.sent < len(m.buf) {
			break
		}
		l.unacked[l.uhead] = nil
		l.uhead++
		s.freeMsg(m)
	}
	if l.uhead == len(l.unacked) {
		l.unacked, l.uhead = l.unacked[:0], 0
	} else if l.uhead > 64 && l.uhead*2 > len(l.unacked) {
		n := copy(l.unacked, l.unacked[l.uhead:])
		clear(l.unacked[n:])
		l.unacked, l.uhead = l.unacked[:n], 0
	}
}

// maxReliableAhead bounds how far new reliable data may run ahead of what
// the peer has acknowledged. Without it a sender faster than the path or
// the receiving application fills the peer's reassembly buffer (GNS's
// default is 1 MiB past the last delivered byte); the peer then refuses
// whole packets, retransmissions included, and the stream stalls. The
// peer's delivered position can trail our acknowledged one by at most one
// message (512 KiB), so half of GNS's default keeps within it.
const maxReliableAhead = 512 * 1024

// maxPeerHoles is how many holes the peer's copy of the stream should
// have at most (see window); acks showing that many hold new data back
// until retransmissions fill them.
const maxPeerHoles = 19

// lossWindowHoles is how many lost segments the send window is sized to
// hold at the measured loss rate (see window). With fewer, at 30 % loss
// the window covered only a few milliseconds of sending at 8 MB/s, and a
// single slow repair idled the connection.
const lossWindowHoles = 3 * maxPeerHoles

// minReliableWindow is the smallest window loss shrinks it to.
const minReliableWindow = 64 * 1024

// lossSample is how many packets' fates make one loss-rate sample.
const lossSample = 64

// ackRequestEvery is how much data may go out before the sender asks the
// peer for an immediate ack. A GNS receiver otherwise acks within 50 ms,
// and 512 KiB per 50 ms would cap the send window at about 10 MB/s.
const ackRequestEvery = maxReliableAhead / 8

// Retransmitted reports how many reliable segments, and how many bytes of
// them, were sent again since the session began.
func (s *Session) Retransmitted() (segments, bytes int64) {
	return s.retransmittedSegments, s.retransmittedBytes
}

// AckRequestDue reports whether the next packet should ask the peer to ack
// at once, because much data went out since the last such request.
func (s *Session) AckRequestDue() bool {
	if s.sentSinceAckRequest >= ackRequestEvery {
		return true
	}
	// Every packet (probes included) while the window holds new data back
	// asks too: the window waits on their acks, and a peer that delays its
	// acks by 50 ms would stall it. Resends need not ask: the receiver acks
	// a repair at once, and asking on every packet while repairs were
	// queued raised the queueing delay the adaptive rate keeps on a lossy
	// bottleneck (10 Mbit/s, 1 % loss: p95 11.0 ms, 9.7 ms without).
	return s.windowBlocked()
}

// windowBlocked reports whether some lane holds new reliable data back
// until acks arrive.
func (s *Session) windowBlocked() bool {
	for _, l := range s.sendLanes {
		if h := l.head(); h != nil && l.sentBelow > l.ackedBelow && l.windowFull(h, s.window()) {
			return true
		}
	}
	return false
}

// AckRequestSent notes that a packet asking for an immediate ack went out.
// Only a packet actually built counts: asking before learning that nothing
// was due to send would lose the request, and a sender of unreliable data
// alone, which hears acks only when it asks, would then hardly hear any.
func (s *Session) AckRequestSent() { s.sentSinceAckRequest = 0 }

// windowFull reports whether m, the lane's head, is reliable and may not
// place a segment until more of the stream is acknowledged. A window with
// room for less than the 16-byte minimum segment counts as full: the head
// could not go, and a session that reported data ready without placing any
// would build empty packets in a loop.
func (l *sendLane) windowFull(m *outMsg, window int64) bool {
	if !m.reliable {
		return false
	}
	return l.ackedBelow+window-(m.pos+int64(m.sent)) < int64(min(16, len(m.buf)-m.sent)) ||
		len(l.acked) >= maxPeerHoles
}

// window is how far new reliable data may run ahead of what the peer
// acknowledged: maxReliableAhead, or less when packets are being lost, so
// that the holes loss leaves in the peer's copy of the stream stay under
// maxPeerHoles. A GNS receiver (and mist's) with 20 holes refuses segments
// that would split one, and with 30 refuses to extend the stream; the
// refused packets are resent and refused again, and most of what goes on
// the wire is resends. The window holds lossWindowHoles expected losses:
// holes are repaired about a round trip after they open, so the window
// spans several generations of them, and the count of holes in the acks
// (see windowFull) stops new data should repairs lag.
func (s *Session) window() int64 {
	w := float64(maxReliableAhead)
	if s.lossRate > 0 {
		w = min(w, float64(lossWindowHoles*s.cfg.MaxReliableSegment)/s.lossRate)
	}
	return int64(max(w, minReliableWindow))
}

// noteFate counts a packet of ours as acknowledged or lost, and folds
// every lossSample packets into the loss rate.
func (s *Session) noteFate(lost bool) {
	if lost {
		s.lossLost++
	} else {
		s.lossAcked++
	}
	if n := s.lossLost + s.lossAcked; n >= lossSample {
		s.lossRate += (float64(s.lossLost)/float64(n) - s.lossRate) / 4
		s.lossLost, s.lossAcked = 0, 0
	}
}

// queueRetry adds segment [b, e) to the retry list unless it is already
// there or acknowledged. It returns whether it was added.
func (l *sendLane) queueRetry(b, e int64) bool {
	if l.isAcked(b, e) {
		return false
	}
	i := len(l.retry)
	for i > 0 && l.retry[i-1].b > b {
		i--
	}
	if i > 0 && l.retry[i-1] == (span{b, e}) {
		return false
	}
	l.retry = append(l.retry, span{})
	copy(l.retry[i+1:], l.retry[i:])
	l.retry[i] = span{b, e}
	return true
}

// streamBytes returns the stream bytes [b, e), which lie within one message.
func (l *sendLane) streamBytes(b, e int64) []byte {
	ms := l.unacked[l.uhead:]
	lo, hi := 0, len(ms)
	for lo < hi {
		mid := (lo + hi) / 2
		if ms[mid].end() <= b {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(ms) || ms[lo].pos > b || ms[lo].end() < e {
		return nil
	}
	m := ms[lo]
	return m.buf[b-m.pos : e-m.pos]
}

func (s *Session) newMsg() *outMsg {
	if n := len(s.freeMsgs); n > 0 {
		m := s.freeMsgs[n-1]
		s.freeMsgs = s.freeMsgs[:n-1]
		return m
	}
	return new(outMsg)
}

func (s *Session) freeMsg(m *outMsg) {
	bufpool.Put(m.buf)
	*m = outMsg{}
	if len(s.freeMsgs) < 1024 {
		s.freeMsgs = append(s.freeMsgs, m)
	}
}

// Send queues a message on lane and returns its message number. Flags are
// the GNS send flags; unreliable messages over 16500 bytes go reliable.
// The data is copied.
func (s *Session) Send(now time.Time, lane int, data []byte, flags int) (int64, error) {
	s.lastNow = now
	if lane < 0 || lane >= len(s.sendLanes) || len(data) > MaxMessageSize {
		return 0, ErrInvalidParam
	}
	reliable := flags&SendReliable != 0 || len(data) > MaxUnreliableSize
	l := s.sendLanes[lane]
	hdr := snp.MessageHeader{NumGap: uint64(l.lastNum + 1 - l.lastRelNum), Size: uint64(len(data))}
	size := len(data)
	if reliable {
		size += snp.MessageHeaderLen(hdr)
	}
	// GNS compares the payload alone with the buffer, so a message of the
	// maximum size fits an empty buffer of the default size.
	if s.pendingRel+s.pendingUnrel+len(data) > s.cfg.SendBufferSize {
		return 0, ErrLimitExceeded
	}
	m := s.newMsg()
	l.lastNum++
	m.reliable, m.num, m.queued = reliable, l.lastNum, now
	if reliable {
		m.buf = snp.AppendMessageHeader(bufpool.Get(size)[:0], hdr)
		m.buf = append(m.buf, data...)
		m.pos = l.streamPos
		l.streamPos += int64(size)
		l.lastRelNum = m.num
		l.unacked = append(l.unacked, m)
		s.pendingRel += size
	} else {
		m.buf = append(bufpool.Get(size)[:0], data...)
		s.pendingUnrel += size
	}
	if flags&SendNoNagle != 0 {
		s.clearNagle()
	} else {
		m.nagle = now.Add(s.cfg.NagleTime)
	}
	// Weighted fair queuing within a priority class: the virtual finish
	// time grows by size / weight from the later of the lane's previous
	// finish and the class's current virtual time.
	start := max(l.lastFinish, s.classTime(l.priority))
	m.finish = start + uint64(size+1)*65536/uint64(l.weight)
	l.lastFinish = m.finish
	l.queue = append(l.queue, m)
	return m.num, nil
}

// classTime is the virtual time of a priority class: the smallest finish
// time queued in it.
func (s *Session) classTime(priority int) uint64 {
	var t uint64
	found := false
	for _, l := range s.sendLanes {
		if h := l.head(); h != nil && l.priority == priority && (!found || h.finish < t) {
			t, found = h.finish, true
		}
	}
	if !found {
		return 0
	}
	return t - 1
}

// Flush clears all Nagle timers, so queued data goes out as soon as the rate
// allows.
func (s *Session) Flush(now time.Time) {
	s.lastNow = now
	s.clearNagle()
}

func (s *Session) clearNagle() {
	for _, l := range s.sendLanes {
		for _, m := range l.queue[l.qhead:] {
			m.nagle = time.Time{}
		}
	}
}

// dataDeadline is when queued data wants out: now-ish (lastNow) if there are
// retransmissions, if a full packet's worth is pending, or if some message
// was flushed; otherwise the earliest head-of-queue Nagle expiry.
func (s *Session) dataDeadline() time.Time {
	return s.dataDeadlineFull(s.cfg.MaxReliableSegment + 95)
}

// dataDeadlineFull is dataDeadline with full meaning full bytes queued.
func (s *Session) dataDeadlineFull(full int) time.Time {
	var d time.Time
	for _, l := range s.sendLanes {
		if len(l.retry) > 0 {
			return s.lastNow
		}
		h := l.head()
		if h == nil || l.windowFull(h, s.window()) {
			continue
		}
		if h.nagle.IsZero() {
			return s.lastNow
		}
		if d.IsZero() || h.nagle.Before(d) {
			d = h.nagle
		}
	}
	if !d.IsZero() && s.pendingRel+s.pendingUnrel >= full {
		return s.lastNow
	}
	return d
}

// DataReady reports whether queued data should go out at now: false while
// Nagle holds what is queued (less than a packet of it, none due yet) or
// the send window is full.
func (s *Session) DataReady(now time.Time) bool {
	s.lastNow = now
	return s.dataReady(now)
}

// NagleBatchReady is DataReady for a sender that lets Nagle-held data
// gather into packets packets before sending them together: true once
// that much is queued, a Nagle deadline has passed or NoNagle data waits.
func (s *Session) NagleBatchReady(now time.Time, packets int) bool {
	s.lastNow = now
	d := s.dataDeadlineFull(packets * (s.cfg.MaxReliableSegment + 95))
	return !d.IsZero() && !d.After(now)
}

// dataReady reports whether data should go out at now.
func (s *Session) dataReady(now time.Time) bool {
	d := s.dataDeadline()
	return !d.IsZero() && !d.After(now)
}
