package reliability

import (
	"time"

	"github.com/mistnet/mist/internal/snp"
)

// segRef is a reliable segment carried by a sent packet.
type segRef struct {
	lane int
	b, e int64
}

// sentPacket is what we remember about a packet until it is acknowledged
// or given up on.
type sentPacket struct {
	num    int64
	at     time.Time
	bytes  int
	nacked bool // reported missing or timed out; its segments were queued for retry
	done   bool // acknowledged
	segs   []segRef
}

// sentRing holds sent packets in packet-number order. Slots are reused so
// that their segment lists keep their capacity. Its size is a power of two.
type sentRing struct {
	buf   []sentPacket
	start int
	n     int
	// scan is a packet number below which every packet is acked or
	// nacked, so timeout checks need not look there again.
	scan int64
}

func (r *sentRing) at(i int) *sentPacket { return &r.buf[(r.start+i)&(len(r.buf)-1)] }

func (r *sentRing) push() *sentPacket {
	if r.n == len(r.buf) {
		nb := make([]sentPacket, max(16, 2*len(r.buf)))
		for i := range r.n {
			nb[i] = *r.at(i)
		}
		r.buf, r.start = nb, 0
	}
	p := r.at(r.n)
	r.n++
	segs := p.segs[:0]
	*p = sentPacket{segs: segs}
	return p
}

func (r *sentRing) popFront() {
	r.start = (r.start + 1) & (len(r.buf) - 1)
	r.n--
}

// search returns the index of the first packet numbered >= num.
func (r *sentRing) search(num int64) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.at(mid).num < num {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// oldestInFlight is the oldest packet neither acked nor nacked.
func (r *sentRing) oldestInFlight() *sentPacket {
	for i := r.search(r.scan); i < r.n; i++ {
		p := r.at(i)
		if !p.done && !p.nacked {
			return p
		}
		r.scan = p.num + 1
	}
	return nil
}

// recordSent remembers a packet just built.
func (s *Session) recordSent(now time.Time, num int64, bytes int) *sentPacket {
	p := s.sent.push()
	p.num, p.at, p.bytes = num, now, bytes
	return p
}

// onAck processes an ack frame from the peer about our packets.
func (s *Session) onAck(now time.Time, a *snp.Ack) {
	var rtt time.Duration
	if a.Delay != snp.AckDelayUnknown {
		if i := s.sent.search(a.Latest); i < s.sent.n {
			if p := s.sent.at(i); p.num == a.Latest && !p.done {
				sample := now.Sub(p.at) - time.Duration(a.Delay)*32*time.Microsecond
				if sample >= -time.Millisecond && sample <= 2*time.Second {
					rtt = max(sample, 0)
					s.samplePing(rtt)
				}
			}
		}
	}
	acked := 0
	end := a.Latest + 1
	it := a.Blocks()
	for blk, ok := it.Next(); ok; blk, ok = it.Next() {
		ackB := end - int64(blk.Acked)
		acked += s.ackRange(ackB, end)
		s.nackRange(now, ackB-int64(blk.Nacked), ackB)
		end = ackB - int64(blk.Nacked)
	}
	// Everything from our stop value up to the last block counts as
	// received: the peer reports every gap above the stop value.
	acked += s.ackRange(s.minWaiting, end)
	if a.Latest > s.minWaiting {
		s.minWaiting = a.Latest
	}
	if acked > 0 {
		s.rtoBackoff = 0
		s.probes = 0
	}
	if s.cfg.Rate != nil && (acked > 0 || rtt > 0) {
		s.cfg.Rate.OnAck(now, acked, rtt)
	}
	if a.NumBlocks > 0 {
		// The peer sees loss: make sure it hears from us soon.
		s.scheduleAck(now.Add(250 * time.Millisecond / time.Duration(a.NumBlocks)))
	}
	s.trimSent(now)
}

// samplePing folds a round-trip sample into the smoothed ping.
func (s *Session) samplePing(rtt time.Duration) {
	if !s.havePing {
		s.ping, s.havePing, s.pingVar = rtt, true, rtt/2
		return
	}
	dev := rtt - s.ping
	if dev < 0 {
		dev = -dev
	}
	s.pingVar = (3*s.pingVar + dev) / 4
	s.ping = (3*s.ping + rtt) / 4
}

// ackRange marks packets [b, e) acknowledged and returns their bytes.
func (s *Session) ackRange(b, e int64) int {
	bytes := 0
	for i := s.sent.search(b); i < s.sent.n; i++ {
		p := s.sent.at(i)
		if p.num >= e {
			break
		}
		if p.done {
			continue
		}
		p.done = true
		bytes += p.bytes
		s.noteFate(false)
		for _, sg := range p.segs {
			l := s.sendLanes[sg.lane]
			l.markAcked(sg.b, sg.e, s)
			s.dropRetry(l, sg)
		}
	}
	return bytes
}

// dropRetry removes an acknowledged segment from the retry list.
func (s *Session) dropRetry(l *sendLane, sg segRef) {
	for i, r := range l.retry {
		if r.b > sg.b {
			return
		}
		if r.b == sg.b && r.e == sg.e {
			l.retry = append(l.retry[:i], l.retry[i+1:]...)
			s.pendingRel -= int(sg.e - sg.b)
			return
		}
	}
}

// nackRange marks packets [b, e) missing and queues their reliable
// segments for retransmission.
func (s *Session) nackRange(now time.Time, b, e int64) {
	for i := s.sent.search(b); i < s.sent.n; i++ {
		p := s.sent.at(i)
		if p.num >= e {
			break
		}
		s.nackPacket(now, p)
	}
}

func (s *Session) nackPacket(now time.Time, p *sentPacket) {
	if p.done || p.nacked {
		return
	}
	p.nacked = true
	s.noteFate(true)
	for _, sg := range p.segs {
		if s.sendLanes[sg.lane].queueRetry(sg.b, sg.e) {
			s.pendingRel += int(sg.e - sg.b)
		}
	}
	if s.cfg.Rate != nil {
		s.cfg.Rate.OnLoss(now, p.bytes)
	}
}

// checkTimeouts treats packets unacknowledged for an RTO as lost, and
// forgets old records.
func (s *Session) checkTimeouts(now time.Time) {
	rto := s.rto()
	fired := false
	for {
		p := s.sent.oldestInFlight()
		if p == nil || p.at.Add(rto).After(now) {
			break
		}
		s.nackPacket(now, p)
		fired = true
		if s.rtoBackoff > 0 {
			// Timed out again with no ack since: probe with the oldest
			// packet only, rather than resend everything in flight.
			break
		}
	}
	if fired {
		s.rtoBackoff = min(s.rtoBackoff+1, maxRTOBackoff)
	}
	if d := s.probeDeadline(); !d.IsZero() && !d.After(now) {
		s.probe(now)
	}
	s.trimSent(now)
}

// probeTimeout is how long the sender waits, after its last packet with
// reliable data, for an ack before it probes: ping twice over plus a
// margin, more when round trips swing widely, doubling for each probe
// that brings no ack, and never beyond the retransmission timeout.
func (s *Session) probeTimeout() time.Duration {
	rto := s.rto()
	if !s.havePing {
		return rto
	}
	base := max(2*s.ping, s.ping+4*s.pingVar) + probeMargin
	return min(base<<min(s.probes, maxRTOBackoff), rto)
}

// probeDeadline is when to probe: the send window holds new data back,
// nothing waits to be resent, and no ack has come for probeTimeout since
// the last packet with reliable data went out. Zero if there is nothing
// to probe. A sender that merely paused does not probe: the peer may
// delay its ack by 50 ms, and the retransmission timeout allows for that.
func (s *Session) probeDeadline() time.Time {
	if s.lastRelSent.IsZero() {
		return time.Time{}
	}
	blocked := false
	for _, l := range s.sendLanes {
		if len(l.retry) > 0 {
			return time.Time{}
		}
		if h := l.head(); h != nil && l.sentBelow > l.ackedBelow && l.windowFull(h, s.window()) {
			blocked = true
		}
	}
	if !blocked {
		return time.Time{}
	}
	return s.lastRelSent.Add(s.probeTimeout())
}

// probe resends the reliable segments of the oldest packet still in
// flight. With a small window (heavy loss) a lost packet at the tail of
// what the window allows, or a lost resend, has no later packets whose
// acks would report it missing, and waiting for the retransmission
// timeout idles the connection. The probe either repairs the hole the
// window waits on or, arriving after the lost packets, makes the peer's
// next ack report them. The packet is not counted as lost.
func (s *Session) probe(now time.Time) {
	s.probes++
	s.lastRelSent = now
	for i := s.sent.search(s.sent.scan); i < s.sent.n; i++ {
		p := s.sent.at(i)
		if p.done || p.nacked || len(p.segs) == 0 {
			continue
		}
		for _, sg := range p.segs {
			if s.sendLanes[sg.lane].queueRetry(sg.b, sg.e) {
				s.pendingRel += int(sg.e - sg.b)
			}
		}
		return
	}
}

// trimSent drops acknowledged records, and nacked ones kept long enough
// for a late ack to still yield a round-trip sample.
func (s *Session) trimSent(now time.Time) {
	keep := 2 * s.rto()
	if !s.havePing {
		keep += time.Second
	}
	for s.sent.n > 0 {
		p := s.sent.at(0)
		if !p.done && !(p.nacked && !p.at.Add(keep).After(now)) {
			return
		}
		s.sent.popFront()
	}
}
