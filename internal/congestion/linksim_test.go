package congestion

import (
	"container/heap"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/linkemu"
)

// linkSim drives controllers in simulated time through one shared
// emulated bottleneck. Receivers ack the way mist's do: after every
// ackEvery data packets or ackDelay after the first unacked one, reporting
// how long they held the latest; the return path only delays. Senders
// always have data and send simPacket-byte datagrams when their
// controller allows.
type linkSim struct {
	link     *linkemu.Link
	back     time.Duration // return-path delay
	now      time.Time
	events   simEvents
	flows    []*simFlow
	binWidth time.Duration
}

const (
	simPacket   = 1200
	simAckEvery = 8
	simAckDelay = 50 * time.Millisecond
	simReorder  = 3 // packets acked past an unacked one before it is lost
)

type simFlow struct {
	c        Controller
	start    time.Time
	stop     time.Time // zero: runs to the end
	nextSend time.Time
	seq      int64
	sent     map[int64]time.Time
	highest  int64 // highest acked sequence number, -1 before any

	// receiver
	pending      []int64
	latest       int64
	latestRecv   time.Time
	ackScheduled bool

	bins []int // bytes received per bin
}

type simEvent struct {
	at   time.Time
	seq  uint64 // keeps simultaneous events in order
	kind int
	flow int
	pkt  int64
	// ack
	acked     []int64
	latest    int64
	heldFor   time.Duration
	sentEpoch time.Time
}

const (
	evArrive = iota
	evAckTimer
	evAck
)

type simEvents struct {
	h   []simEvent
	seq uint64
}

func (e *simEvents) Len() int { return len(e.h) }
func (e *simEvents) Less(i, j int) bool {
	if e.h[i].at.Equal(e.h[j].at) {
		return e.h[i].seq < e.h[j].seq
	}
	return e.h[i].at.Before(e.h[j].at)
}
func (e *simEvents) Swap(i, j int) { e.h[i], e.h[j] = e.h[j], e.h[i] }
func (e *simEvents) Push(x any)    { e.h = append(e.h, x.(simEvent)) }
func (e *simEvents) Pop() any {
	x := e.h[len(e.h)-1]
	e.h = e.h[:len(e.h)-1]
	return x
}
func (e *simEvents) add(ev simEvent) {
	e.seq++
	ev.seq = e.seq
	heap.Push(e, ev)
}

func newLinkSim(cfg linkemu.Config) *linkSim {
	return &linkSim{link: linkemu.New(cfg), back: cfg.Delay, now: t0, binWidth: 100 * time.Millisecond}
}

// addFlow adds a sender starting at start (relative to t0).
func (s *linkSim) addFlow(c Controller, start time.Duration) *simFlow {
	f := &simFlow{c: c, start: t0.Add(start), nextSend: t0.Add(start), sent: map[int64]time.Time{}, highest: -1}
	c.Reset(f.start)
	s.flows = append(s.flows, f)
	return f
}

// run advances the simulation to t0 + until.
func (s *linkSim) run(until time.Duration) {
	end := t0.Add(until)
	for {
		// The earliest sender due, if any is due before the next event.
		fi := -1
		for i, f := range s.flows {
			if !f.stop.IsZero() && !f.nextSend.Before(f.stop) {
				continue
			}
			if fi < 0 || f.nextSend.Before(s.flows[fi].nextSend) {
				fi = i
			}
		}
		var next time.Time
		if fi >= 0 {
			next = s.flows[fi].nextSend
		}
		if len(s.events.h) > 0 && (fi < 0 || !s.events.h[0].at.After(next)) {
			next = s.events.h[0].at
			fi = -1
		}
		if next.IsZero() || next.After(end) {
			s.now = end
			return
		}
		s.now = next
		if fi >= 0 {
			s.send(fi)
			continue
		}
		s.handle(heap.Pop(&s.events).(simEvent))
	}
}

func (s *linkSim) send(fi int) {
	f := s.flows[fi]
	if w := f.c.TimeUntilSend(s.now); w > 0 {
		f.nextSend = s.now.Add(w)
		return
	}
	seq := f.seq
	f.seq++
	f.sent[seq] = s.now
	f.c.OnPacketSent(s.now, simPacket)
	if at, fate := s.link.Send(s.now, simPacket); fate == linkemu.Delivered {
		s.events.add(simEvent{at: at, kind: evArrive, flow: fi, pkt: seq})
	}
	f.nextSend = s.now.Add(f.c.TimeUntilSend(s.now))
}

func (s *linkSim) handle(ev simEvent) {
	f := s.flows[ev.flow]
	switch ev.kind {
	case evArrive:
		bin := int(s.now.Sub(t0) / s.binWidth)
		for len(f.bins) <= bin {
			f.bins = append(f.bins, 0)
		}
		f.bins[bin] += simPacket
		f.pending = append(f.pending, ev.pkt)
		f.latest, f.latestRecv = ev.pkt, s.now
		if len(f.pending) >= simAckEvery {
			s.flushAck(ev.flow)
		} else if !f.ackScheduled {
			f.ackScheduled = true
			s.events.add(simEvent{at: s.now.Add(simAckDelay), kind: evAckTimer, flow: ev.flow})
		}
	case evAckTimer:
		if f.ackScheduled {
			s.flushAck(ev.flow)
		}
	case evAck:
		acked := 0
		for _, p := range ev.acked {
			if _, ok := f.sent[p]; ok {
				delete(f.sent, p)
				acked += simPacket
			}
			f.highest = max(f.highest, p)
		}
		var rtt time.Duration
		if ev.sentEpoch.After(t0.Add(-time.Hour)) {
			rtt = s.now.Sub(ev.sentEpoch) - ev.heldFor
		}
		f.c.OnAck(s.now, acked, rtt)
		for p := range f.sent {
			if p < f.highest-simReorder {
				delete(f.sent, p)
				f.c.OnLoss(s.now, simPacket)
			}
		}
		f.nextSend = s.now.Add(f.c.TimeUntilSend(s.now))
	}
}

func (s *linkSim) flushAck(fi int) {
	f := s.flows[fi]
	sentAt, ok := f.sent[f.latest]
	if !ok {
		sentAt = t0.Add(-2 * time.Hour) // already acked: no RTT sample
	}
	s.events.add(simEvent{
		at: s.now.Add(s.back), kind: evAck, flow: fi,
		acked: f.pending, latest: f.latest, heldFor: s.now.Sub(f.latestRecv), sentEpoch: sentAt,
	})
	f.pending, f.ackScheduled = nil, false
}

// rate is flow f's received rate in bytes per second over [from, to).
func (s *linkSim) rate(f *simFlow, from, to time.Duration) float64 {
	b0, b1 := int(from/s.binWidth), int(to/s.binWidth)
	sum := 0
	for i := b0; i < b1 && i < len(f.bins); i++ {
		sum += f.bins[i]
	}
	return float64(sum) / (to - from).Seconds()
}

// reached is when flow f's received rate over 200 ms first reached frac of
// capacity, or -1.
func (s *linkSim) reached(f *simFlow, capacity, frac float64) time.Duration {
	for i := 2; i <= len(f.bins); i++ {
		to := time.Duration(i) * s.binWidth
		if s.rate(f, to-2*s.binWidth, to) >= frac*capacity {
			return to
		}
	}
	return -1
}

// shape is a link shape of the goals.
type shape struct {
	name  string
	rate  int64         // bit/s
	delay time.Duration // one way
	queue float64       // in BDPs
	loss  float64       // percent
}

func (sh shape) config() linkemu.Config {
	c := linkemu.Config{Rate: sh.rate, Delay: sh.delay, LossPct: sh.loss, Seed: 3}
	c.QueueBytes = max(linkemu.MinQueueBytes, int(sh.queue*float64(c.BDP())))
	return c
}

var shapes = []shape{
	{"10Mbit 50ms 1BDP", 10e6, 25 * time.Millisecond, 1, 0},
	{"10Mbit 50ms shallow", 10e6, 25 * time.Millisecond, 0.2, 0},
	{"10Mbit 50ms deep", 10e6, 25 * time.Millisecond, 4, 0},
	{"100Mbit 10ms 1BDP", 100e6, 5 * time.Millisecond, 1, 0},
	{"100Mbit 10ms shallow", 100e6, 5 * time.Millisecond, 0.2, 0},
	{"2Mbit 150ms 1BDP", 2e6, 75 * time.Millisecond, 1, 0},
	{"2Mbit 150ms deep", 2e6, 75 * time.Millisecond, 4, 0},
	{"10Mbit 50ms 1% loss", 10e6, 25 * time.Millisecond, 1, 1},
	{"10Mbit 50ms 2% loss", 10e6, 25 * time.Millisecond, 1, 2},
	{"100Mbit 10ms 1% loss", 100e6, 5 * time.Millisecond, 1, 1},
}

// One flow on each shape, 20 s from a cold start with mist's bench range
// (SendRateMin 16 KB/s, SendRateMax 100 MB/s): goodput over seconds 5–20,
// time to 90 % of the link, queueing delay p95, and drops.
func TestAdaptiveOnShapes(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			s := newLinkSim(sh.config())
			c := NewAdaptive(16_000, 100_000_000)
			f := s.addFlow(c, 0)
			s.run(5 * time.Second)
			s.link.ResetStats()
			s.run(20 * time.Second)
			capacity := float64(sh.rate) / 8
			good := s.rate(f, 5*time.Second, 20*time.Second) / capacity
			reached := s.reached(f, capacity*(1-sh.loss/100), 0.9)
			st := s.link.Stats()
			drops := float64(st.QueueDrops) / float64(st.Packets)
			p50, p95 := s.link.QueueDelay(0.5), s.link.QueueDelay(0.95)
			t.Logf("goodput %.1f%%, 90%% at %v, queue p50 %v p95 %v, drops %.2f%%, rate %d B/s",
				100*good, reached, p50, p95, 100*drops, c.Rate())
			wantGood := 0.90
			if sh.loss > 0 {
				wantGood = 0.85
			}
			if good < wantGood {
				t.Errorf("goodput %.1f%%, want >= %.0f%%", 100*good, 100*wantGood)
			}
			if reached < 0 || reached > 2*time.Second {
				t.Errorf("90%% of the link reached at %v, want within 2 s", reached)
			}
			// On a slow link one packet alone is a long queue (4.8 ms at
			// 2 Mbit/s): the bound is 10 ms or 2.5 packet times.
			pktTime := time.Duration(simPacket * 8 * int64(time.Second) / sh.rate)
			if limit := max(10*time.Millisecond, 5*pktTime/2); p95 > limit {
				t.Errorf("queueing delay p95 %v, want <= %v", p95, limit)
			}
			if drops > 0.01 {
				t.Errorf("queue drops %.2f%%, want <= 1%%", 100*drops)
			}
		})
	}
}

// Two flows, the second starting 5 s after the first: within 10 s of its
// start their rates over a second are fair (Jain's index >= 0.9), and stay
// so.
func TestAdaptiveTwoFlowsConverge(t *testing.T) {
	for _, sh := range []shape{shapes[0], shapes[2], shapes[3], shapes[5]} {
		t.Run(sh.name, func(t *testing.T) {
			s := newLinkSim(sh.config())
			a := s.addFlow(NewAdaptive(16_000, 100_000_000), 0)
			b := s.addFlow(NewAdaptive(16_000, 100_000_000), 5*time.Second)
			s.run(25 * time.Second)
			capacity := float64(sh.rate) / 8
			var fairAt time.Duration = -1
			for at := 6 * time.Second; at <= 25*time.Second; at += 500 * time.Millisecond {
				j := linkemu.Jain(s.rate(a, at-time.Second, at), s.rate(b, at-time.Second, at))
				if j < 0.9 {
					fairAt = -1
				} else if fairAt < 0 {
					fairAt = at
				}
			}
			ra, rb := s.rate(a, 15*time.Second, 25*time.Second), s.rate(b, 15*time.Second, 25*time.Second)
			t.Logf("fair from %v; seconds 15-25: %.0f%% and %.0f%% of the link, Jain %.3f",
				fairAt-5*time.Second, 100*ra/capacity, 100*rb/capacity, linkemu.Jain(ra, rb))
			if fairAt < 0 || fairAt > 15*time.Second {
				t.Errorf("Jain >= 0.9 from %v after the second flow started, want within 10 s", fairAt-5*time.Second)
			}
			if (ra+rb)/capacity < 0.9 {
				t.Errorf("two flows use %.0f%% of the link", 100*(ra+rb)/capacity)
			}
		})
	}
}
