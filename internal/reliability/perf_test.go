package reliability

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/congestion"
)

// This file is a deterministic harness for the data path's efficiency: two
// sessions, each paced by the real congestion.Fixed controller, joined by a
// simulated link with a bottleneck bandwidth, delay, jitter, loss and
// reordering, under simulated time. Timer wake-ups may fire late, as Go
// timers do, so that pacing has to cope with coarse wake-ups.

// link describes one direction of the simulated path.
type link struct {
	bandwidth float64       // bytes per second through the bottleneck; 0: unlimited
	delay     time.Duration // one-way propagation delay
	jitter    time.Duration // extra delay, uniform in [0, jitter)
	loss      float64       // probability a datagram is dropped
	queue     int           // bottleneck queue limit in bytes (drop-tail); 0: unlimited
	// Datagrams due in [pauseAt, pauseAt+pauseFor) after the start arrive
	// at the end of that window instead: a receiver that is descheduled
	// or stuck in a long pause.
	pauseAt, pauseFor time.Duration
}

// perfCase is one harness run: side 0 sends msgSize reliable messages to
// side 1 for duration, as fast as the send buffer allows.
type perfCase struct {
	link     link
	rate     int           // SendRateMin = SendRateMax of both sides
	wakeLate time.Duration // timer wake-ups fire up to this much late
	msgSize  int
	duration time.Duration
	seed     uint64
}

// perfResult is what a run measured. Byte counts are of side 0's sending.
type perfResult struct {
	delivered int           // reliable payload bytes delivered to side 1
	wire      int           // datagram bytes side 0 put on the link
	dataSent  int           // reliable segment bytes side 0 sent, retransmissions included
	retrans   int           // of dataSent, bytes sent again
	spurious  int           // of retrans, bytes side 1 already had or that were still on their way
	lost      int           // datagram bytes the link dropped
	pkts      int           // datagrams side 0 sent
	maxStall  time.Duration // longest time without delivery while data was outstanding
	elapsed   time.Duration
}

func (r perfResult) goodput() float64 { return float64(r.delivered) / r.elapsed.Seconds() }

func (r perfResult) String() string {
	return fmt.Sprintf("goodput %.1f MB/s, delivered %d B, wire %d B (%d pkts), data %d B, retransmitted %d B (spurious %d B), lost %d B, max stall %v",
		r.goodput()/1e6, r.delivered, r.wire, r.pkts, r.dataSent, r.retrans, r.spurious, r.lost, r.maxStall)
}

// linkPkt is a datagram on the simulated link.
type linkPkt struct {
	at   time.Time
	seq  int
	to   int
	num  int64
	data []byte
	segs []segRef // reliable segments it carries, for spurious-retransmit accounting
	// ackReq: the packet asks for an immediate ack, as the connection
	// flags it (ACK_REQUEST_IMMEDIATE) when the session says so.
	ackReq bool
}

type linkHeap []linkPkt

func (h linkHeap) Len() int { return len(h) }
func (h linkHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h linkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *linkHeap) Push(x any)   { *h = append(*h, x.(linkPkt)) }
func (h *linkHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type perfSide struct {
	s        *Session
	rate     *congestion.Fixed
	nextPkt  int64
	seen     map[int64]bool
	wake     time.Time // when the side's timer fires (zero: not armed)
	linkFree time.Time // when its bottleneck is free again
}

type perfSim struct {
	c      perfCase
	rng    *rand.Rand
	now    time.Time
	sides  [2]*perfSide
	flight linkHeap
	seq    int
	res    perfResult
	start  time.Time
}

const perfOverhead = 7 + 16 // data header and AES-GCM tag

func runPerf(t testing.TB, c perfCase) perfResult {
	sm := &perfSim{c: c, rng: rand.New(rand.NewPCG(c.seed, c.seed^0x5851f42d4c957f2d)), now: time.Unix(1000, 0)}
	sm.start = sm.now
	for i := range sm.sides {
		r := congestion.NewFixed(c.rate, c.rate)
		r.Reset(sm.now)
		sm.sides[i] = &perfSide{
			s:       New(Config{Rate: r, PacketOverhead: perfOverhead}),
			rate:    r,
			nextPkt: 2,
			seen:    map[int64]bool{},
		}
	}
	msg := make([]byte, c.msgSize)
	fillPayload(msg, 7)
	lastDelivery := sm.now
	deliver := func(m Message) bool {
		if m.Reliable {
			sm.res.delivered += len(m.Data)
			sm.res.maxStall = max(sm.res.maxStall, sm.now.Sub(lastDelivery))
			lastDelivery = sm.now
		}
		bufpool.Put(m.Data)
		return true
	}
	start := sm.now
	end := start.Add(c.duration)
	sender := sm.sides[0].s
	for sm.now.Before(end) {
		queued := false
		for {
			if _, err := sender.Send(sm.now, 0, msg, SendReliable); err != nil {
				break
			}
			queued = true
		}
		if queued {
			sm.transmit(0)
		}
		sm.advance(deliver)
	}
	sm.res.maxStall = max(sm.res.maxStall, sm.now.Sub(lastDelivery))
	sm.res.elapsed = sm.now.Sub(start)
	for len(sm.flight) > 0 {
		bufpool.Put(heap.Pop(&sm.flight).(linkPkt).data)
	}
	for _, sd := range sm.sides {
		sd.s.Release()
	}
	t.Logf("%s", sm.res)
	return sm.res
}

// transmit lets side i send whatever is due now.
func (sm *perfSim) transmit(i int) {
	sd := sm.sides[i]
	for range 256 {
		allow := sd.rate.TimeUntilSend(sm.now) == 0
		var before []int64
		if i == 0 {
			for _, l := range sd.s.sendLanes {
				before = append(before, l.sentBelow)
			}
		}
		ackReq := sd.s.AckRequestDue()
		buf, ok := sd.s.AppendPacket(bufpool.Get(1300)[:0], sm.now, sd.nextPkt, 1232, allow)
		if !ok {
			bufpool.Put(buf)
			break
		}
		if ackReq {
			sd.s.AckRequestSent()
		}
		var segs []segRef
		if i == 0 {
			p := sd.s.sent.at(sd.s.sent.n - 1)
			segs = append(segs, p.segs...)
			for _, sg := range segs {
				n := int(sg.e - sg.b)
				sm.res.dataSent += n
				if sg.b < before[sg.lane] {
					sm.res.retrans += n
					if sm.peerHas(sg) {
						sm.res.spurious += n
					}
				}
			}
			sm.res.wire += len(buf) + perfOverhead
			sm.res.pkts++
		}
		sm.put(i, sd.nextPkt, buf, segs, ackReq)
		sd.nextPkt++
	}
	sm.arm(i)
}

// arm sets side i's timer from its session and pacing, firing late by a
// random amount as a real timer would.
func (sm *perfSim) arm(i int) {
	sd := sm.sides[i]
	d := sd.s.NextDeadline()
	if d.IsZero() {
		sd.wake = time.Time{}
		return
	}
	if !d.After(sm.now) {
		d = sm.now.Add(max(sd.rate.TimeUntilSend(sm.now), 20*time.Microsecond))
	}
	if sm.c.wakeLate > 0 {
		d = d.Add(time.Duration(sm.rng.Int64N(int64(sm.c.wakeLate))))
	}
	sd.wake = d
}

// peerHas reports whether side 1 already holds the stream bytes of sg, or
// a datagram still on the link carries them.
func (sm *perfSim) peerHas(sg segRef) bool {
	rs := sm.sides[1].s
	if sg.lane < len(rs.recvLanes) {
		l := rs.recvLanes[sg.lane]
		if sg.e <= l.delivered {
			return true
		}
		if sg.e <= l.delivered+int64(len(l.buf)) {
			inHole := false
			for _, h := range l.holes {
				if h.b < sg.e && sg.b < h.e {
					inHole = true
					break
				}
			}
			if !inHole && sg.b >= l.delivered {
				return true
			}
		}
	}
	for _, pk := range sm.flight {
		if pk.to != 1 {
			continue
		}
		for _, o := range pk.segs {
			if o.lane == sg.lane && o.b <= sg.b && sg.e <= o.e {
				return true
			}
		}
	}
	return false
}

// put sends a datagram from side i through the link.
func (sm *perfSim) put(from int, num int64, data []byte, segs []segRef, ackReq bool) {
	lk := sm.c.link
	size := len(data) + perfOverhead
	if sm.rng.Float64() < lk.loss {
		if from == 0 {
			sm.res.lost += size
		}
		bufpool.Put(data)
		return
	}
	sd := sm.sides[from]
	depart := sm.now
	if lk.bandwidth > 0 {
		if sd.linkFree.After(depart) {
			depart = sd.linkFree
		}
		backlog := int(depart.Sub(sm.now).Seconds() * lk.bandwidth)
		if lk.queue > 0 && backlog+size > lk.queue {
			if from == 0 {
				sm.res.lost += size
			}
			bufpool.Put(data)
			return
		}
		depart = depart.Add(time.Duration(float64(size) / lk.bandwidth * float64(time.Second)))
		sd.linkFree = depart
	}
	at := depart.Add(lk.delay)
	if lk.jitter > 0 {
		at = at.Add(time.Duration(sm.rng.Int64N(int64(lk.jitter))))
	}
	if lk.pauseFor > 0 {
		if pb := sm.start.Add(lk.pauseAt); !at.Before(pb) && at.Before(pb.Add(lk.pauseFor)) {
			at = pb.Add(lk.pauseFor)
		}
	}
	sm.seq++
	heap.Push(&sm.flight, linkPkt{at: at, seq: sm.seq, to: 1 - from, num: num, data: data, segs: segs, ackReq: ackReq})
}

// advance moves time to the next event (an arrival or a timer) and
// processes it. Arrivals are handled at once, and the receiving side then
// sends what became due, as the connection's receive path does.
func (sm *perfSim) advance(deliver func(Message) bool) {
	next := sm.now.Add(100 * time.Millisecond)
	if len(sm.flight) > 0 && sm.flight[0].at.Before(next) {
		next = sm.flight[0].at
	}
	for _, sd := range sm.sides {
		if !sd.wake.IsZero() && sd.wake.Before(next) {
			next = sd.wake
		}
	}
	sm.now = maxTime(next, sm.now)
	var got [2]bool
	for len(sm.flight) > 0 && !sm.flight[0].at.After(sm.now) {
		pk := heap.Pop(&sm.flight).(linkPkt)
		sd := sm.sides[pk.to]
		if !sd.seen[pk.num] {
			sd.seen[pk.num] = true
			if err := sd.s.Receive(sm.now, pk.num, pk.data, deliver); err != nil {
				panic(err)
			}
			if pk.ackReq {
				sd.s.RequestAck(sm.now, true)
			}
			got[pk.to] = true
		}
		bufpool.Put(pk.data)
	}
	for i, sd := range sm.sides {
		if got[i] || (!sd.wake.IsZero() && !sd.wake.After(sm.now)) {
			sm.transmit(i)
		}
	}
}

// TestPerfNoLossHighRate: a clean, fast path with coarse timers. Nothing
// is lost, so nothing should be sent twice, and pacing must keep up with
// the configured rate although each wake-up comes up to 1 ms late.
func TestPerfNoLossHighRate(t *testing.T) {
	const rate = 64 << 20
	r := runPerf(t, perfCase{
		link:     link{delay: 50 * time.Microsecond},
		rate:     rate,
		wakeLate: time.Millisecond,
		msgSize:  64 << 10,
		duration: 300 * time.Millisecond,
		seed:     1,
	})
	if r.retrans*100 > r.dataSent {
		t.Errorf("retransmitted %d of %d bytes on a lossless path (want < 1%%)", r.retrans, r.dataSent)
	}
	if g := r.goodput(); g < 0.8*rate {
		t.Errorf("goodput %.1f MB/s, want at least 80%% of the %.1f MB/s rate", g/1e6, rate/1e6)
	}
	if r.maxStall > 50*time.Millisecond {
		t.Errorf("delivery stalled for %v", r.maxStall)
	}
}

// TestPerfRandomLoss: with 20% of datagrams lost, the wire should carry
// little more than the payload plus the lost share resent.
func TestPerfRandomLoss(t *testing.T) {
	const loss = 0.2
	r := runPerf(t, perfCase{
		link:     link{delay: 5 * time.Millisecond, loss: loss},
		rate:     4 << 20,
		wakeLate: 200 * time.Microsecond,
		msgSize:  16 << 10,
		duration: 3 * time.Second,
		seed:     2,
	})
	ideal := float64(r.delivered) / (1 - loss)
	if float64(r.wire) > 1.4*ideal {
		t.Errorf("wire %d bytes for %d delivered: %.2f× the lossy ideal, want ≤ 1.4×", r.wire, r.delivered, float64(r.wire)/ideal)
	}
	if r.spurious*10 > r.retrans {
		t.Errorf("%d of %d retransmitted bytes were spurious", r.spurious, r.retrans)
	}
	if r.maxStall > time.Second {
		t.Errorf("delivery stalled for %v", r.maxStall)
	}
}

// TestPerfJitter: 50 ms of jitter reorders many packets; they are late,
// not lost, and should not be sent twice.
func TestPerfJitter(t *testing.T) {
	r := runPerf(t, perfCase{
		link:     link{delay: 10 * time.Millisecond, jitter: 50 * time.Millisecond},
		rate:     1 << 20,
		wakeLate: 200 * time.Microsecond,
		msgSize:  16 << 10,
		duration: 5 * time.Second,
		seed:     3,
	})
	if r.spurious*20 > r.dataSent {
		t.Errorf("spurious retransmissions: %d of %d data bytes (want < 5%%)", r.spurious, r.dataSent)
	}
	if g := r.goodput(); g < 0.7*(1<<20) {
		t.Errorf("goodput %.2f MB/s, want at least 70%% of the rate", g/1e6)
	}
}

// TestPerfReceiverPause: the path stops delivering for 300 ms and then
// delivers everything at once, as when the receiving process is
// descheduled. Nothing is lost, so timeouts during the pause should not
// resend the whole window again and again.
func TestPerfReceiverPause(t *testing.T) {
	r := runPerf(t, perfCase{
		link:     link{delay: 100 * time.Microsecond, pauseAt: 200 * time.Millisecond, pauseFor: 300 * time.Millisecond},
		rate:     16 << 20,
		wakeLate: time.Millisecond,
		msgSize:  64 << 10,
		duration: time.Second,
		seed:     5,
	})
	if r.retrans*10 > r.dataSent {
		t.Errorf("retransmitted %d of %d bytes around a pause with no loss (want < 10%%)", r.retrans, r.dataSent)
	}
	if r.maxStall > 500*time.Millisecond {
		t.Errorf("delivery stalled for %v", r.maxStall)
	}
}

// TestPerfBottleneck: the sender's fixed rate exceeds the path, so a queue
// builds up and round trips grow. Retransmission timers must follow the
// growing round trip instead of firing while acks are merely late, and the
// sender must not run so far ahead that the receiver's reassembly buffer
// overflows and it refuses every packet (the stream then stalls for good).
func TestPerfBottleneck(t *testing.T) {
	r := runPerf(t, perfCase{
		link:     link{delay: 100 * time.Microsecond, bandwidth: 12e6, queue: 1 << 20},
		rate:     16 << 20,
		wakeLate: time.Millisecond,
		msgSize:  64 << 10,
		duration: time.Second,
		seed:     4,
	})
	if r.spurious*20 > r.dataSent {
		t.Errorf("spurious retransmissions: %d of %d data bytes (want < 5%%)", r.spurious, r.dataSent)
	}
	if g := r.goodput(); g < 0.8*12e6 {
		t.Errorf("goodput %.1f MB/s through a 12 MB/s bottleneck, want at least 80%%", g/1e6)
	}
	if r.maxStall > 100*time.Millisecond {
		t.Errorf("delivery stalled for %v", r.maxStall)
	}
}

// BenchmarkDataPath runs 50 ms of simulated 64 MiB/s transfer per
// iteration: packet building, receiving, reassembly and acks on both sides.
func BenchmarkDataPath(b *testing.B) {
	c := perfCase{
		link:     link{delay: 50 * time.Microsecond},
		rate:     64 << 20,
		wakeLate: time.Millisecond,
		msgSize:  64 << 10,
		duration: 50 * time.Millisecond,
		seed:     1,
	}
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		bytes += runPerf(quietTB{b}, c).wire
	}
	b.SetBytes(int64(bytes / max(b.N, 1)))
}

// quietTB drops the per-run log line.
type quietTB struct{ testing.TB }

func (quietTB) Logf(string, ...any) {}

// TestSendWindowStopsCleanly: with nothing acknowledged, new reliable data
// stops at the send window, and once it is full the session reports nothing
// due rather than building empty packets forever, whatever sliver of the
// window is left.
func TestSendWindowStopsCleanly(t *testing.T) {
	// Message sizes vary so that the window ends at many different
	// offsets within a segment, some leaving a sliver.
	for size := 65_500; size < 65_560; size++ {
		s := New(Config{NagleTime: -1, SendBufferSize: 4 << 20})
		now := time.Unix(1000, 0)
		msg := make([]byte, size)
		for range (2*maxReliableAhead)/size + 1 {
			if _, err := s.Send(now, 0, msg, SendReliable); err != nil {
				t.Fatal(err)
			}
		}
		pkts := 0
		for pkt := int64(2); ; pkt++ {
			buf, ok := s.AppendPacket(nil, now, pkt, 1232, true)
			if !ok {
				break
			}
			if pkts++; pkts > 2*maxReliableAhead/1000 {
				t.Fatalf("message size %d: still building packets after %d (last %d bytes)", size, pkts, len(buf))
			}
		}
		l := s.sendLanes[0]
		if ahead := l.sentBelow - l.ackedBelow; ahead > maxReliableAhead || ahead < maxReliableAhead-1300 {
			t.Errorf("message size %d: %d bytes in flight, want just under %d", size, ahead, maxReliableAhead)
		}
		if !s.NextDeadline().IsZero() && !s.NextDeadline().After(now) && s.dataReady(now) {
			t.Errorf("message size %d: data reported ready with the window full", size)
		}
		s.Release()
	}
}

// TestPerfLossAndJitter: 20% loss with 50 ms of jitter leaves many holes
// in the receiver's stream; past 20 of them a GNS-style receiver refuses
// segments that split a hole, so a sender that keeps the full window in
// flight has most of its retransmissions refused and sends them again.
func TestPerfLossAndJitter(t *testing.T) {
	r := runPerf(t, perfCase{
		link:     link{delay: 5 * time.Millisecond, jitter: 50 * time.Millisecond, loss: 0.2},
		rate:     4 << 20,
		wakeLate: 200 * time.Microsecond,
		msgSize:  64 << 10,
		duration: 3 * time.Second,
		seed:     7,
	})
	if ratio := float64(r.wire) / float64(r.delivered); ratio > 3 {
		t.Errorf("wire %d bytes for %d delivered: %.2f×, want ≤ 3×", r.wire, r.delivered, ratio)
	}
}

// TestPerfLossBothWays: at a fixed 8 MB/s with up to 30 % of datagrams
// lost in each direction (acks too) over a short path, goodput stays at
// least (1 − loss) × 80 % of the rate and the wire carries at most 1.5
// bytes per byte delivered. Lost acks and lost resends at the tail of a
// small window must not idle the sender until its retransmission timeout.
func TestPerfLossBothWays(t *testing.T) {
	const rate = 8_000_000
	for _, loss := range []float64{0.1, 0.2, 0.3} {
		for _, delay := range []time.Duration{500 * time.Microsecond, 2 * time.Millisecond} {
			r := runPerf(t, perfCase{
				link:     link{delay: delay, loss: loss},
				rate:     rate,
				wakeLate: 200 * time.Microsecond,
				msgSize:  64 << 10,
				duration: 4 * time.Second,
				seed:     3,
			})
			if want := (1 - loss) * 0.8 * rate; r.goodput() < want {
				t.Errorf("loss %v, delay %v: goodput %.2f MB/s, want at least %.2f", loss, delay, r.goodput()/1e6, want/1e6)
			}
			if ratio := float64(r.wire) / float64(r.delivered); ratio > 1.5 {
				t.Errorf("loss %v, delay %v: wire/delivered %.3f, want at most 1.5", loss, delay, ratio)
			}
		}
	}
}
