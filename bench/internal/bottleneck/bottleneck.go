// Package bottleneck measures how a system's rate control fills an emulated
// bottleneck link: goodput, time to reach the link's rate, the queueing
// delay it causes, the drops, and how two connections share the link.
//
// Traffic crosses a real-time UDP proxy ([linkemu.Proxy]) between a client
// and an in-process server: client to server through a rate-limited,
// drop-tail queue with a one-way delay and optional random loss, server to
// client through the delay alone. The client streams reliable messages to
// the server's sink and asks it every 100 ms, on the same stream, how much
// it has received; the answers, timed as they return, give the server's
// receive curve.
package bottleneck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/mistnet/mist/internal/linkemu"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

// Shape is one emulated link.
type Shape struct {
	Name     string
	Rate     int64         // bit/s
	Delay    time.Duration // one way
	QueueBDP float64       // queue size in bandwidth-delay products
	LossPct  float64       // random loss before the queue, client to server
}

// Shapes are the links of the comparison.
var Shapes = []Shape{
	{"10Mbit-50ms", 10e6, 25 * time.Millisecond, 1, 0},
	{"10Mbit-50ms-shallow", 10e6, 25 * time.Millisecond, 0.2, 0},
	{"10Mbit-50ms-deep", 10e6, 25 * time.Millisecond, 4, 0},
	{"100Mbit-10ms", 100e6, 5 * time.Millisecond, 1, 0},
	{"2Mbit-150ms", 2e6, 75 * time.Millisecond, 1, 0},
	{"10Mbit-50ms-1pct-loss", 10e6, 25 * time.Millisecond, 1, 1},
	{"10Mbit-50ms-2pct-loss", 10e6, 25 * time.Millisecond, 1, 2},
}

// Config returns the client-to-server link of s.
func (s Shape) Config(seed uint64) linkemu.Config {
	c := linkemu.Config{Rate: s.Rate, Delay: s.Delay, LossPct: s.LossPct, Seed: seed}
	c.QueueBytes = max(linkemu.MinQueueBytes, int(s.QueueBDP*float64(c.BDP())))
	return c
}

// Result is what one run measured.
type Result struct {
	// Goodput is payload received from Warmup to the end over the link's
	// rate, all flows together.
	Goodput float64
	// Reached is when the first flow's goodput over 500 ms first reached
	// 90 % of the link's rate (less the random loss), from its dial; -1
	// if never.
	Reached time.Duration
	// QueueP50 and QueueP95 are the bottleneck's queueing delay from
	// Warmup to the end.
	QueueP50, QueueP95 time.Duration
	// Drops is the fraction of datagrams the full queue dropped over the
	// whole run.
	Drops float64
	// Flows are each flow's goodput from the last flow's start plus
	// FairWindow to the end, over the link's rate.
	Flows []float64
	// Jain is Jain's fairness index of Flows (1 for one flow).
	Jain float64
	// FairAfter is how long after the last flow started Jain's index of
	// one-second rates reached 0.9 for good; -1 if it never did.
	FairAfter time.Duration
}

// Run parameters.
const (
	Warmup     = 5 * time.Second
	FairWindow = 10 * time.Second
	queryEvery = 100 * time.Millisecond
	messageLen = 16 << 10
)

// Run streams from flows clients, the i-th starting at starts[i], through
// one shared bottleneck of shape to a server of sys, for dur.
func Run(ctx context.Context, sys system.System, shape Shape, starts []time.Duration, dur time.Duration) (Result, error) {
	srv, err := sys.Listen("127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	serverAddr, err := netip.ParseAddrPort(srv.Addr())
	if err != nil {
		return Result{}, err
	}
	up := linkemu.New(shape.Config(7))
	down := linkemu.New(linkemu.Config{Delay: shape.Delay})
	proxy, err := linkemu.NewProxy(serverAddr, up, down)
	if err != nil {
		return Result{}, err
	}
	defer proxy.Close()

	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	flows := make([]*flow, len(starts))
	var wg sync.WaitGroup
	errs := make(chan error, len(starts))
	for i, at := range starts {
		f := &flow{start: at}
		flows[i] = f
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.run(ctx, sys, proxy.Addr().String(), start); err != nil && ctx.Err() == nil {
				errs <- err
				cancel()
			}
		}()
	}
	var beforeWarmup linkemu.Stats
	select {
	case <-time.After(Warmup):
		beforeWarmup = up.Stats()
		up.ResetStats()
	case <-ctx.Done():
	}
	<-ctx.Done()
	wg.Wait()
	select {
	case err := <-errs:
		return Result{}, err
	default:
	}
	// The curves end at each flow's last answer.
	end := time.Since(start)
	for _, f := range flows {
		end = min(end, f.lastAt())
	}
	after := up.Stats()
	link := float64(shape.Rate) / 8
	res := Result{
		QueueP50: up.QueueDelay(0.5),
		QueueP95: up.QueueDelay(0.95),
		Drops:    float64(beforeWarmup.QueueDrops+after.QueueDrops) / math.Max(1, float64(beforeWarmup.Packets+after.Packets)),
		Reached:  -1,
	}
	for _, f := range flows {
		res.Goodput += f.rate(Warmup, end) / link
	}
	first := flows[0]
	for t := first.start + 500*time.Millisecond; t <= end; t += queryEvery {
		if first.rate(t-500*time.Millisecond, t) >= 0.9*link*(1-shape.LossPct/100) {
			res.Reached = t - first.start
			break
		}
	}
	last := starts[len(starts)-1]
	from := min(last+FairWindow, end-time.Second)
	rates := make([]float64, len(flows))
	for i, f := range flows {
		rates[i] = f.rate(from, end)
		res.Flows = append(res.Flows, rates[i]/link)
	}
	res.Jain = linkemu.Jain(rates...)
	res.FairAfter = -1
	for t := last + time.Second; t <= end; t += queryEvery {
		var rs []float64
		for _, f := range flows {
			rs = append(rs, f.rate(t-time.Second, t))
		}
		if linkemu.Jain(rs...) < 0.9 {
			res.FairAfter = -1
		} else if res.FairAfter < 0 {
			res.FairAfter = t - last
		}
	}
	return res, nil
}

// flow is one client connection and its receive curve.
type flow struct {
	start time.Duration

	mu      sync.Mutex
	samples []sample // bytes the server had received, as answers arrived
}

type sample struct {
	at    time.Duration // since the run's start
	bytes uint64
}

func (f *flow) run(ctx context.Context, sys system.System, addr string, runStart time.Time) error {
	select {
	case <-time.After(time.Until(runStart.Add(f.start))):
	case <-ctx.Done():
		return nil
	}
	c, err := sys.Dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("bottleneck: dial: %w", err)
	}
	defer c.Close()
	f.add(sample{at: time.Since(runStart)})
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := c.Recv(ctx, buf)
			if err != nil {
				done <- err
				return
			}
			if cnt, _, err := benchproto.ParseQueryReply(buf[:n]); err == nil {
				f.add(sample{at: time.Since(runStart), bytes: cnt.Bytes})
			}
		}
	}()
	msg := make([]byte, messageLen)
	msg[0] = benchproto.OpSink
	query := []byte{benchproto.OpQuery}
	nextQuery := time.Now()
	for ctx.Err() == nil {
		if time.Now().After(nextQuery) {
			if err := c.Send(query, system.Reliable|system.NoDelay); err != nil {
				break
			}
			nextQuery = nextQuery.Add(queryEvery)
		}
		if err := c.Send(msg, system.Reliable); err != nil {
			break
		}
	}
	err = <-done
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

func (f *flow) add(s sample) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples = append(f.samples, s)
}

func (f *flow) lastAt() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.samples) == 0 {
		return 0
	}
	return f.samples[len(f.samples)-1].at
}

// bytesAt interpolates the receive curve at t.
func (f *flow) bytesAt(t time.Duration) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.samples
	if len(s) == 0 || t <= s[0].at {
		return 0
	}
	for i := 1; i < len(s); i++ {
		if s[i].at >= t {
			a, b := s[i-1], s[i]
			frac := float64(t-a.at) / float64(b.at-a.at)
			return float64(a.bytes) + frac*(float64(b.bytes)-float64(a.bytes))
		}
	}
	return float64(s[len(s)-1].bytes)
}

// rate is the flow's goodput in bytes per second over [from, to).
func (f *flow) rate(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	return (f.bytesAt(to) - f.bytesAt(from)) / (to - from).Seconds()
}
