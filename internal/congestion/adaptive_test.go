package congestion

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"
)

// bottleneck is a simulated path: a FIFO link of a given capacity with a
// drop-tail buffer, a fixed propagation round trip and optional random loss.
// It drives a Controller in simulated time, sending 1200-byte packets as
// fast as the controller allows.
type bottleneck struct {
	capacity   float64 // bytes per second
	buffer     int     // bytes the queue may hold
	prop       time.Duration
	randomLoss float64
	jitterAvg  time.Duration // exponential extra delay on the return path
	rng        *rand.Rand

	now      time.Time
	linkFree time.Time // when the link finishes its queue
	events   eventHeap

	delivered   int // bytes acked during the measurement window
	measureFrom time.Time
	maxQueue    time.Duration
}

type event struct {
	at   time.Time
	lost bool
	sent time.Time
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

const pkt = 1200

func newBottleneck(capacity float64, bufferBDPs float64, prop time.Duration, loss float64) *bottleneck {
	return &bottleneck{
		capacity:   capacity,
		buffer:     max(4*pkt, int(bufferBDPs*capacity*prop.Seconds())),
		prop:       prop,
		randomLoss: loss,
		rng:        rand.New(rand.NewPCG(1, 2)),
		now:        t0,
		linkFree:   t0,
	}
}

func (b *bottleneck) queueDelay() time.Duration {
	if b.linkFree.After(b.now) {
		return b.linkFree.Sub(b.now)
	}
	return 0
}

// run drives c until until, sending at most appRate bytes per second (0 for
// unlimited).
func (b *bottleneck) run(c Controller, until time.Time, appRate float64) {
	nextApp := b.now
	for b.now.Before(until) {
		wait := c.TimeUntilSend(b.now)
		sendAt := b.now.Add(wait)
		if appRate > 0 && nextApp.After(sendAt) {
			sendAt = nextApp
		}
		if len(b.events) > 0 && !b.events[0].at.After(sendAt) {
			e := heap.Pop(&b.events).(event)
			b.now = e.at
			if e.lost {
				c.OnLoss(b.now, pkt)
			} else {
				c.OnAck(b.now, pkt, b.now.Sub(e.sent))
				if !b.now.Before(b.measureFrom) {
					b.delivered += pkt
				}
			}
			continue
		}
		b.now = sendAt
		if appRate > 0 {
			nextApp = b.now.Add(time.Duration(pkt / appRate * float64(time.Second)))
		}
		c.OnPacketSent(b.now, pkt)
		q := b.queueDelay()
		b.maxQueue = max(b.maxQueue, q)
		backlog := int(q.Seconds() * b.capacity)
		switch {
		case b.rng.Float64() < b.randomLoss:
			// Lost before the bottleneck, so it never occupies the queue;
			// the sender notices about one round trip later.
			heap.Push(&b.events, event{at: b.now.Add(b.prop + q + 5*time.Millisecond), lost: true})
		case backlog+pkt > b.buffer:
			heap.Push(&b.events, event{at: b.now.Add(b.prop + q + 5*time.Millisecond), lost: true})
		default:
			b.linkFree = b.now.Add(q + time.Duration(pkt/b.capacity*float64(time.Second)))
			var jitter time.Duration
			if b.jitterAvg > 0 {
				jitter = time.Duration(b.rng.ExpFloat64() * float64(b.jitterAvg))
			}
			heap.Push(&b.events, event{at: b.linkFree.Add(b.prop + jitter), sent: b.now})
		}
	}
}

func (b *bottleneck) throughput(since time.Time) float64 {
	return float64(b.delivered) / b.now.Sub(since).Seconds()
}

func TestAdaptiveConvergesToCapacity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity float64
		prop     time.Duration
		buffer   float64 // in bandwidth-delay products
	}{
		{"2MB/s 40ms deep buffer", 2e6, 40 * time.Millisecond, 2},
		{"2MB/s 40ms shallow buffer", 2e6, 40 * time.Millisecond, 0.25},
		{"10MB/s 10ms", 10e6, 10 * time.Millisecond, 1},
		{"200KB/s 100ms", 200e3, 100 * time.Millisecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewAdaptive(RateFloor, RateCeiling)
			b := newBottleneck(tc.capacity, tc.buffer, tc.prop, 0)
			b.measureFrom = t0.Add(10 * time.Second)
			b.run(c, t0.Add(30*time.Second), 0)
			got := b.throughput(b.measureFrom)
			t.Logf("throughput %.0f B/s (%.0f%% of capacity), rate %d, max queue %v",
				got, 100*got/tc.capacity, c.Rate(), b.maxQueue)
			if got < 0.75*tc.capacity || got > 1.01*tc.capacity {
				t.Errorf("throughput %.0f B/s, want 75..100%% of %.0f", got, tc.capacity)
			}
			if float64(c.Rate()) > 1.6*tc.capacity {
				t.Errorf("rate %d far above capacity %.0f", c.Rate(), tc.capacity)
			}
		})
	}
}

func TestAdaptiveBacksOffWhenCapacityDrops(t *testing.T) {
	c := NewAdaptive(RateFloor, RateCeiling)
	b := newBottleneck(4e6, 1, 30*time.Millisecond, 0)
	b.run(c, t0.Add(10*time.Second), 0)
	before := c.Rate()
	b.capacity = 1e6
	b.measureFrom, b.delivered = t0.Add(15*time.Second), 0
	b.run(c, t0.Add(25*time.Second), 0)
	got := b.throughput(b.measureFrom)
	t.Logf("rate before %d, after %d, throughput after %.0f", before, c.Rate(), got)
	if before < 3e6 {
		t.Errorf("rate before the drop %d, want near 4e6", before)
	}
	if c.Rate() > 1.6e6 {
		t.Errorf("rate after the drop %d, want near 1e6", c.Rate())
	}
	if got < 0.75e6 {
		t.Errorf("throughput after the drop %.0f, want near 1e6", got)
	}
}

func TestAdaptiveToleratesRandomLoss(t *testing.T) {
	const maxRate = 4 << 20
	c := NewAdaptive(RateFloor, maxRate)
	// The link is far faster than max: every loss is random, none is
	// congestion.
	b := newBottleneck(100e6, 1, 40*time.Millisecond, 0.20)
	b.run(c, t0.Add(20*time.Second), 0)
	if c.Rate() < maxRate*9/10 {
		t.Fatalf("rate %d under 20%% random loss, want near max %d", c.Rate(), maxRate)
	}
}

func TestAdaptiveRandomLossAtBottleneck(t *testing.T) {
	const capacity = 2e6
	c := NewAdaptive(RateFloor, RateCeiling)
	b := newBottleneck(capacity, 1, 40*time.Millisecond, 0.20)
	b.measureFrom = t0.Add(10 * time.Second)
	b.run(c, t0.Add(30*time.Second), 0)
	got := b.throughput(b.measureFrom)
	t.Logf("goodput %.0f B/s with 20%% random loss, rate %d", got, c.Rate())
	// The loss happens before the bottleneck, so the survivors can still
	// fill it.
	if got < 0.7*capacity {
		t.Fatalf("goodput %.0f B/s, want near %.0f", got, capacity)
	}
}

func TestAdaptiveToleratesJitter(t *testing.T) {
	const maxRate = 4 << 20
	c := NewAdaptive(RateFloor, maxRate)
	b := newBottleneck(100e6, 1, 40*time.Millisecond, 0)
	b.jitterAvg = 5 * time.Millisecond
	b.run(c, t0.Add(20*time.Second), 0)
	if c.Rate() < maxRate*9/10 {
		t.Fatalf("rate %d with 5ms mean jitter, want near max %d", c.Rate(), maxRate)
	}
}

func TestAdaptiveHeavyLossBacksOff(t *testing.T) {
	c := NewAdaptive(RateFloor, 8<<20)
	b := newBottleneck(100e6, 1, 40*time.Millisecond, 0.60)
	b.run(c, t0.Add(20*time.Second), 0)
	if c.Rate() > 1<<20 {
		t.Fatalf("rate %d under 60%% loss, want a back-off", c.Rate())
	}
}

func TestAdaptiveAppLimitedDoesNotGrow(t *testing.T) {
	c := NewAdaptive(RateFloor, RateCeiling)
	start := c.Rate()
	b := newBottleneck(100e6, 1, 20*time.Millisecond, 0)
	b.run(c, t0.Add(10*time.Second), 10e3) // 10 kB/s of application data
	if c.Rate() > start {
		t.Fatalf("rate grew from %d to %d while application limited", start, c.Rate())
	}
}

func TestAdaptiveBounds(t *testing.T) {
	c := NewAdaptive(300000, 300000)
	if c.Rate() != 300000 {
		t.Fatalf("min == max: rate %d", c.Rate())
	}
	b := newBottleneck(50e3, 1, 20*time.Millisecond, 0)
	b.run(c, t0.Add(5*time.Second), 0)
	if c.Rate() != 300000 {
		t.Fatalf("min == max under congestion: rate %d", c.Rate())
	}
	c = NewAdaptive(RateFloor, 500000)
	b = newBottleneck(100e6, 1, 20*time.Millisecond, 0)
	b.run(c, t0.Add(5*time.Second), 0)
	if c.Rate() != 500000 {
		t.Fatalf("rate %d, want max 500000", c.Rate())
	}
}

func TestAdaptiveFollowsLongerPath(t *testing.T) {
	const capacity = 2e6
	c := NewAdaptive(RateFloor, RateCeiling)
	b := newBottleneck(capacity, 1, 10*time.Millisecond, 0)
	b.run(c, t0.Add(10*time.Second), 0)
	// The path now takes 60 ms longer (a route change): the old floor
	// must age out rather than read as a standing queue forever.
	b.prop = 70 * time.Millisecond
	b.buffer = int(capacity * b.prop.Seconds())
	b.measureFrom, b.delivered = t0.Add(25*time.Second), 0
	b.run(c, t0.Add(40*time.Second), 0)
	got := b.throughput(b.measureFrom)
	t.Logf("throughput after the route change %.0f B/s, rate %d", got, c.Rate())
	if got < 0.7*capacity {
		t.Fatalf("throughput %.0f B/s after the path got longer, want near %.0f", got, capacity)
	}
}

func TestHostileInputs(t *testing.T) {
	for _, c := range []Controller{NewFixed(-5, -5), NewAdaptive(0, 1<<62)} {
		c.OnPacketSent(t0, -100)
		c.OnAck(t0, -100, -time.Second)
		c.OnLoss(t0, -100)
		c.OnAck(t0.Add(-time.Hour), 1<<40, time.Hour)
		if d := c.TimeUntilSend(t0); d < 0 {
			t.Errorf("%T: negative wait %v", c, d)
		}
		if r := c.Rate(); r < RateFloor || r > RateCeiling {
			t.Errorf("%T: rate %d outside bounds", c, r)
		}
	}
}

func BenchmarkAdaptivePerPacket(b *testing.B) {
	c := NewAdaptive(RateFloor, RateCeiling)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		c.TimeUntilSend(now)
		c.OnPacketSent(now, 1200)
		c.OnAck(now, 1200, 20*time.Millisecond)
	}
}

// A sender of unreliable data hears acks only every 64 KiB or so, each
// a few milliseconds after a small one: the delivery rate still spans the
// whole gap instead of reading the small ack's bytes alone.
func TestAdaptiveDeliveryRateWithSparseAcks(t *testing.T) {
	a := NewAdaptive(1<<20, RateCeiling)
	now := t0
	for range 40 {
		for range 57 {
			now = now.Add(time.Millisecond)
			a.OnPacketSent(now, 1200)
		}
		now = now.Add(4 * time.Millisecond)
		a.OnAck(now, 1255, 100*time.Microsecond)
		now = now.Add(4 * time.Millisecond)
		a.OnAck(now, 68955, 100*time.Microsecond)
	}
	// 70,210 bytes every 65 ms.
	if got, want := float64(a.DeliveryRate()), 70210/0.065; got < 0.9*want || got > 1.1*want {
		t.Fatalf("delivery rate %.0f B/s, want about %.0f", got, want)
	}
	if a.Rate() < 1<<20 {
		t.Fatalf("rate %d below min", a.Rate())
	}
}
