// Package linkemu emulates a bottleneck link: a drop-tail queue drained at a
// fixed rate, followed by a fixed one-way delay, with optional random loss.
//
// [Link] is the model, sans I/O: [Link.Send] takes the time a datagram
// reaches the link and returns when it comes out of the far end. Departure
// times are computed from the previous departure, not measured by sleeping,
// so a driver whose timers wake late still delivers at the configured rate:
// it releases everything due when it wakes. Two drivers use it:
//
//   - netsim's in-memory network ([netsim.Network.SetBottleneck]), which runs
//     on testing/synctest's fake clock and is then exact and deterministic;
//   - [Proxy], a real-time UDP relay for benchmarks against other libraries.
package linkemu

import (
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Config shapes one direction of a link. The zero Rate means no bottleneck
// (only Delay and loss apply).
type Config struct {
	// Rate is the bottleneck's rate in bits per second (payload bytes of the
	// datagrams; no per-packet header is added).
	Rate int64
	// Delay is the one-way propagation delay added after the bottleneck.
	Delay time.Duration
	// QueueBytes bounds the bytes waiting for the bottleneck (drop-tail).
	// 0 means one bandwidth-delay product of Rate and 2×Delay, at least
	// MinQueueBytes.
	QueueBytes int
	// LossPct drops datagrams at random before the queue (0..100).
	LossPct float64
	// Seed seeds the loss generator.
	Seed uint64
}

// MinQueueBytes is the smallest default queue: room for a few datagrams.
const MinQueueBytes = 4 * 1500

// BDP is the bandwidth-delay product of the link in bytes: what Rate carries
// in one round trip of 2×Delay.
func (c Config) BDP() int {
	return int(c.Rate / 8 * int64(2*c.Delay) / int64(time.Second))
}

// Validate reports a configuration that cannot be emulated.
func (c Config) Validate() error {
	switch {
	case c.Rate < 0:
		return errors.New("linkemu: negative rate")
	case c.Delay < 0:
		return errors.New("linkemu: negative delay")
	case c.QueueBytes < 0:
		return errors.New("linkemu: negative queue size")
	case c.LossPct < 0 || c.LossPct > 100:
		return errors.New("linkemu: loss outside 0..100 %")
	}
	return nil
}

func (c Config) queueLimit() int {
	if c.QueueBytes > 0 {
		return c.QueueBytes
	}
	return max(c.BDP(), MinQueueBytes)
}

// Fate is what the link did to one datagram.
type Fate uint8

const (
	Delivered Fate = iota // leaves the link at the returned time
	Lost                  // random loss
	QueueDrop             // the queue was full
)

// Link is one direction of an emulated link. It is safe for concurrent use,
// so that several flows can share one bottleneck.
type Link struct {
	mu     sync.Mutex
	cfg    Config
	limit  int
	rng    *rand.Rand
	free   time.Time // when the bottleneck finishes the last accepted datagram
	stats  Stats
	delays []time.Duration // queueing delay of each delivered datagram
}

// maxDelaySamples bounds the queueing-delay samples kept for percentiles;
// later datagrams are counted but not sampled.
const maxDelaySamples = 1 << 20

// Stats counts what a link did.
type Stats struct {
	Packets, Bytes       uint64 // offered
	Delivered            uint64 // datagrams that left the link
	DeliveredBytes       uint64
	Lost, QueueDrops     uint64
	FirstSend, LastLeave time.Time // first arrival at the link, last departure from it
}

// New returns a link. It panics on a configuration [Config.Validate]
// rejects: configurations come from code, not from the network.
func New(cfg Config) *Link {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Link{cfg: cfg, limit: cfg.queueLimit(), rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6a09e667f3bcc908))}
}

// Config returns the link's configuration.
func (l *Link) Config() Config { return l.cfg }

// QueueLimit is the queue size in bytes.
func (l *Link) QueueLimit() int { return l.limit }

// Send records a datagram of size bytes reaching the link at now and returns
// its fate and, when Delivered, the time it reaches the far end. Calls must
// come in non-decreasing order of now (per link); an earlier now is treated
// as the latest one seen.
func (l *Link) Send(now time.Time, size int) (time.Time, Fate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := &l.stats
	if st.FirstSend.IsZero() {
		st.FirstSend = now
	}
	st.Packets++
	st.Bytes += uint64(size)
	if l.cfg.LossPct > 0 && l.rng.Float64()*100 < l.cfg.LossPct {
		st.Lost++
		return time.Time{}, Lost
	}
	if l.cfg.Rate <= 0 {
		st.Delivered++
		st.DeliveredBytes += uint64(size)
		l.sample(0)
		return now.Add(l.cfg.Delay), Delivered
	}
	start := now
	if l.free.After(now) {
		start = l.free
	}
	wait := start.Sub(now)
	// Bytes still queued ahead of this datagram, the one being
	// transmitted included.
	backlog := int(int64(wait) * l.cfg.Rate / 8 / int64(time.Second))
	if backlog+size > l.limit && backlog > 0 {
		st.QueueDrops++
		return time.Time{}, QueueDrop
	}
	l.free = start.Add(l.txTime(size))
	st.Delivered++
	st.DeliveredBytes += uint64(size)
	st.LastLeave = l.free
	l.sample(wait)
	return l.free.Add(l.cfg.Delay), Delivered
}

// txTime is how long the bottleneck takes to send size bytes.
func (l *Link) txTime(size int) time.Duration {
	return time.Duration(int64(size) * 8 * int64(time.Second) / l.cfg.Rate)
}

func (l *Link) sample(wait time.Duration) {
	if len(l.delays) < maxDelaySamples {
		l.delays = append(l.delays, wait)
	}
}

// Stats returns the counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// QueueDelay returns the q-quantile (0..1) of the time delivered datagrams
// waited for the bottleneck, not counting their own transmission time.
func (l *Link) QueueDelay(q float64) time.Duration {
	l.mu.Lock()
	d := append([]time.Duration(nil), l.delays...)
	l.mu.Unlock()
	return quantile(d, q)
}

// ResetStats clears the counters and delay samples, keeping the queue.
func (l *Link) ResetStats() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats = Stats{}
	l.delays = l.delays[:0]
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(q * float64(len(d)-1))
	return d[max(0, min(i, len(d)-1))]
}

// Jain is Jain's fairness index of flows' shares: 1 when all are equal,
// 1/n when one flow has everything, 0 when there is nothing to share.
func Jain(xs ...float64) float64 {
	sum, sq := 0.0, 0.0
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}
