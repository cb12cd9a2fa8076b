// Package harness runs the benchmark scenarios against any system.Driver
// and collects their figures. Every scenario starts its own server through
// a Launcher, so counters start at zero and server usage is its own.
package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

// Scenario names.
const (
	ScenarioLatency     = "latency"
	ScenarioThroughput  = "throughput"
	ScenarioRate        = "message rate"
	ScenarioConnections = "connections"
)

// Metric names, with their units.
const (
	MetricP50        = "p50_us"
	MetricP99        = "p99_us"
	MetricP999       = "p99.9_us"
	MetricMean       = "mean_us"
	MetricMBps       = "MB_per_s"
	MetricCPUPerGB   = "cpu_s_per_GB"
	MetricLossPct    = "loss_pct"
	MetricMsgsPerSec = "msgs_per_s"
	MetricConnPerSec = "connects_per_s"
	MetricRSSPerConn = "rss_per_conn_KB"
	MetricIdleCPU    = "idle_cpu_pct"
	MetricHeld       = "held"
)

// Sizes fixed by the benchmark definition, the same for every system.
const (
	LatencyMessage    = 32
	ThroughputMessage = 64 << 10
	RateMessage       = 64
)

// Options size the scenarios.
type Options struct {
	LatencyRounds      int           // round trips per style
	ThroughputDuration time.Duration // bulk transfer time
	RateDuration       time.Duration // unreliable send time
	IdleWindow         time.Duration // idle server observation time
	Timeout            time.Duration // bound on any single wait
	// ReliableEvery sends every n-th message of the message-rate flood
	// reliably (0: none). A GNS receiver ends the connection when more
	// than a million message numbers pass between two reliable messages
	// on a lane, so floods aimed at one need this.
	ReliableEvery int
}

// DefaultOptions is the full run.
func DefaultOptions() Options {
	return Options{
		LatencyRounds:      10000,
		ThroughputDuration: 10 * time.Second,
		RateDuration:       5 * time.Second,
		IdleWindow:         15 * time.Second, // spans one 10 s keepalive interval
		Timeout:            30 * time.Second,
	}
}

// Result is one system's figures for one scenario variant.
type Result struct {
	System   string             `json:"system"`
	Scenario string             `json:"scenario"`
	Variant  string             `json:"variant"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	// Ratio holds each metric divided by mist's for the same variant.
	Ratio map[string]float64 `json:"ratio_to_mist,omitempty"`
	// CDF is the latency distribution as (microseconds, fraction) points.
	CDF   [][2]float64 `json:"cdf,omitempty"`
	Note  string       `json:"note,omitempty"`
	Error string       `json:"error,omitempty"`
}

// Failed reports whether the variant produced no figures.
func (r Result) Failed() bool { return r.Error != "" }

// Runner runs scenarios with one set of options.
type Runner struct {
	Launch   Launcher
	Options  Options
	Progress func(status string) // optional; called often, keep it cheap
}

func (r *Runner) progress(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, args...))
	}
}

func failed(sys system.System, scenario, variant string, err error) Result {
	res := Result{System: sys.Name(), Scenario: scenario, Variant: variant, Error: err.Error()}
	if errors.Is(err, system.ErrNotSupported) {
		res.Note = "not supported"
		if s, ok := sys.(interface {
			Unsupported(scenario, variant string) string
		}); ok {
			res.Note = s.Unsupported(scenario, variant)
		}
	}
	return res
}

func (r *Runner) dial(ctx context.Context, sys system.System, addr string) (system.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, r.Options.Timeout)
	defer cancel()
	return sys.Dial(dctx, addr)
}

// Latency measures 32-byte reliable echo round trips, once waiting in the
// library's blocking receive and once busy-polling.
func (r *Runner) Latency(ctx context.Context, sys system.System) []Result {
	srv, err := r.Launch(sys, "127.0.0.1:0")
	if err != nil {
		return []Result{failed(sys, ScenarioLatency, "blocking", err)}
	}
	defer srv.Close()
	var out []Result
	for _, poll := range []bool{false, true} {
		variant := "blocking"
		if poll {
			variant = "busy-poll"
		}
		res, err := r.latency(ctx, sys, srv.Addr(), poll)
		if err != nil {
			res = failed(sys, ScenarioLatency, variant, err)
		}
		res.Variant = variant
		out = append(out, res)
	}
	return out
}

func (r *Runner) latency(ctx context.Context, sys system.System, addr string, poll bool) (Result, error) {
	c, err := r.dial(ctx, sys, addr)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	msg := make([]byte, LatencyMessage)
	msg[0] = benchproto.OpEcho
	buf := make([]byte, 2*LatencyMessage)
	if poll {
		if _, _, err := c.Poll(buf); err != nil {
			return Result{}, err
		}
	}
	recv := func() (int, error) {
		if !poll {
			rctx, cancel := context.WithTimeout(ctx, r.Options.Timeout)
			defer cancel()
			return c.Recv(rctx, buf)
		}
		deadline := time.Now().Add(r.Options.Timeout)
		for spins := 0; ; spins++ {
			n, ok, err := c.Poll(buf)
			if err != nil || ok {
				return n, err
			}
			if spins%4096 == 4095 && time.Now().After(deadline) {
				return 0, errors.New("no echo before timeout")
			}
		}
	}
	warmup := min(100, r.Options.LatencyRounds)
	rtts := make([]time.Duration, 0, r.Options.LatencyRounds)
	for i := -warmup; i < r.Options.LatencyRounds; i++ {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		msg[1] = byte(i)
		start := time.Now()
		if err := c.Send(msg, system.Reliable|system.NoDelay); err != nil {
			return Result{}, err
		}
		n, err := recv()
		if err != nil {
			return Result{}, fmt.Errorf("round trip %d: %w", i, err)
		}
		rtt := time.Since(start)
		if n != LatencyMessage || buf[0] != benchproto.OpEcho || buf[1] != byte(i) {
			return Result{}, fmt.Errorf("round trip %d: wrong echo (%d bytes, % x)", i, n, buf[:min(n, 2)])
		}
		if i >= 0 {
			rtts = append(rtts, rtt)
		}
		if i%1000 == 0 {
			r.progress("%s latency %d/%d", sys.Name(), max(i, 0), r.Options.LatencyRounds)
		}
	}
	slices.Sort(rtts)
	var sum time.Duration
	for _, d := range rtts {
		sum += d
	}
	return Result{
		System:   sys.Name(),
		Scenario: ScenarioLatency,
		Metrics: map[string]float64{
			MetricP50:  micros(quantile(rtts, 0.50)),
			MetricP99:  micros(quantile(rtts, 0.99)),
			MetricP999: micros(quantile(rtts, 0.999)),
			MetricMean: micros(sum / time.Duration(len(rtts))),
		},
		CDF: cdf(rtts, 200),
	}, nil
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// cdf reduces sorted samples to at most points (µs, fraction) pairs,
// keeping the tail's resolution by spacing points on a log scale of 1-q.
func cdf(sorted []time.Duration, points int) [][2]float64 {
	if len(sorted) == 0 {
		return nil
	}
	var out [][2]float64
	last := -1
	for k := 0; k < points; k++ {
		// q runs from 0 to 1-1/len, denser towards 1.
		q := 1 - math.Pow(float64(len(sorted)), -float64(k)/float64(points-1))
		i := min(int(q*float64(len(sorted))), len(sorted)-1)
		if i == last {
			continue
		}
		last = i
		out = append(out, [2]float64{micros(sorted[i]), float64(i+1) / float64(len(sorted))})
	}
	return out
}

// Query asks the server for this connection's sink counters, resending
// the request when no answer comes (raw UDP may lose either direction).
func Query(ctx context.Context, c system.Conn, timeout time.Duration) (benchproto.Counters, error) {
	buf := make([]byte, 256)
	const attempts = 5
	var lastErr error
	for range attempts {
		if err := c.Send([]byte{benchproto.OpQuery}, system.Reliable|system.NoDelay); err != nil {
			return benchproto.Counters{}, err
		}
		qctx, cancel := context.WithTimeout(ctx, timeout/attempts)
		for {
			n, err := c.Recv(qctx, buf)
			if err != nil {
				lastErr = err
				break
			}
			if n > 0 && buf[0] == benchproto.OpQuery {
				cancel()
				counters, _, err := benchproto.ParseQueryReply(buf[:n])
				return counters, err
			}
		}
		cancel()
		if ctx.Err() != nil {
			return benchproto.Counters{}, ctx.Err()
		}
	}
	return benchproto.Counters{}, fmt.Errorf("no answer to query: %w", lastErr)
}

// Throughput sends 64 KB reliable messages on one connection for the
// configured time; the server's count, fetched with a reliable query that
// queues behind the data, gives the delivered rate.
func (r *Runner) Throughput(ctx context.Context, sys system.System) Result {
	srv, err := r.Launch(sys, "127.0.0.1:0")
	if err != nil {
		return failed(sys, ScenarioThroughput, "1 connection", err)
	}
	defer srv.Close()
	res, err := r.throughput(ctx, sys, srv)
	if err != nil {
		return failed(sys, ScenarioThroughput, "1 connection", err)
	}
	return res
}

func (r *Runner) throughput(ctx context.Context, sys system.System, srv ServerHandle) (Result, error) {
	c, err := r.dial(ctx, sys, srv.Addr())
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	msg := make([]byte, ThroughputMessage)
	msg[0] = benchproto.OpSink
	serverBefore, statsErr := srv.Stats()
	clientBefore := processCPU()
	start := time.Now()
	end := start.Add(r.Options.ThroughputDuration)
	var sent uint64
	next := start
	for now := start; now.Before(end); now = time.Now() {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if err := c.Send(msg, system.Reliable); err != nil {
			return Result{}, err
		}
		sent += uint64(len(msg))
		if now.After(next) {
			r.progress("%s throughput %.0f/%.0fs", sys.Name(), now.Sub(start).Seconds(), r.Options.ThroughputDuration.Seconds())
			next = now.Add(500 * time.Millisecond)
		}
	}
	if err := c.Flush(); err != nil {
		return Result{}, err
	}
	got, err := Query(ctx, c, r.Options.Timeout)
	if err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	clientCPU := processCPU() - clientBefore
	metrics := map[string]float64{
		MetricMBps:    float64(got.Bytes) / elapsed.Seconds() / 1e6,
		MetricLossPct: lossPct(sent, got.Bytes),
	}
	cpu := clientCPU
	if statsErr == nil {
		if after, err := srv.Stats(); err == nil {
			cpu += after.CPU - serverBefore.CPU
		}
	}
	if got.Bytes > 0 {
		metrics[MetricCPUPerGB] = cpu.Seconds() / (float64(got.Bytes) / 1e9)
	}
	return Result{System: sys.Name(), Scenario: ScenarioThroughput, Variant: "1 connection", Metrics: metrics}, nil
}

func lossPct(sent, delivered uint64) float64 {
	if sent == 0 || delivered >= sent {
		return 0
	}
	return 100 * float64(sent-delivered) / float64(sent)
}

// Rate sends 64-byte unreliable messages as fast as each of conns
// connections allows, then compares what the server counted with what was
// sent. Messages the library accepted but never delivered count as lost.
func (r *Runner) Rate(ctx context.Context, sys system.System, conns int) Result {
	variant := fmt.Sprintf("%d connection", conns)
	if conns != 1 {
		variant += "s"
	}
	srv, err := r.Launch(sys, "127.0.0.1:0")
	if err != nil {
		return failed(sys, ScenarioRate, variant, err)
	}
	defer srv.Close()
	res, err := r.rate(ctx, sys, srv.Addr(), conns)
	if err != nil {
		return failed(sys, ScenarioRate, variant, err)
	}
	res.Variant = variant
	return res
}

func (r *Runner) rate(ctx context.Context, sys system.System, addr string, n int) (Result, error) {
	cs := make([]system.Conn, 0, n)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range n {
		r.progress("%s message rate: connecting %d/%d", sys.Name(), i, n)
		c, err := r.dial(ctx, sys, addr)
		if err != nil {
			return Result{}, err
		}
		cs = append(cs, c)
	}
	sent := make([]uint64, n)
	errs := make([]error, n)
	start := time.Now()
	end := start.Add(r.Options.RateDuration)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, RateMessage)
			msg[0] = benchproto.OpSink
			for k := 0; ; k++ {
				if k%64 == 0 && (ctx.Err() != nil || time.Now().After(end)) {
					break
				}
				var flags system.SendFlags
				if every := r.Options.ReliableEvery; every > 0 && k%every == every-1 {
					flags = system.Reliable
				}
				if err := c.Send(msg, flags); err != nil {
					errs[i] = err
					return
				}
				sent[i]++
			}
			errs[i] = c.Flush()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(500 * time.Millisecond):
			r.progress("%s message rate %d conns %.0f/%.0fs", sys.Name(), n, time.Since(start).Seconds(), r.Options.RateDuration.Seconds())
		}
	}
	sendTime := time.Since(start)
	if err := firstError(errs); err != nil {
		return Result{}, err
	}
	// Let packets still in flight land before counting.
	time.Sleep(200 * time.Millisecond)
	// Each connection is queried from its own goroutine, as it was driven,
	// so libraries that only progress while pumped (ENet) all progress.
	got := make([]benchproto.Counters, n)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = Query(ctx, c, r.Options.Timeout)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("connection %d: %w", i, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return Result{}, err
	}
	var totalSent, delivered uint64
	for i := range cs {
		totalSent += sent[i]
		delivered += got[i].Messages
	}
	return Result{
		System:   sys.Name(),
		Scenario: ScenarioRate,
		Metrics: map[string]float64{
			MetricMsgsPerSec: float64(delivered) / sendTime.Seconds(),
			MetricLossPct:    lossPct(totalSent, delivered),
			"sent_per_s":     float64(totalSent) / sendTime.Seconds(),
		},
	}, nil
}

// Connections opens n idle client connections to one server, then watches
// the idle server: memory per connection (after a garbage collection, so
// it counts live memory) and CPU spent on keepalives.
func (r *Runner) Connections(ctx context.Context, sys system.System, n int) Result {
	variant := fmt.Sprintf("%d clients", n)
	srv, err := r.Launch(sys, "127.0.0.1:0")
	if err != nil {
		return failed(sys, ScenarioConnections, variant, err)
	}
	defer srv.Close()
	res, err := r.connections(ctx, sys, srv, n)
	if err != nil {
		return failed(sys, ScenarioConnections, variant, err)
	}
	res.Variant = variant
	return res
}

func (r *Runner) connections(ctx context.Context, sys system.System, srv ServerHandle, n int) (Result, error) {
	_ = srv.Collect()
	base, statsErr := srv.Stats()
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, r.Options.Timeout+time.Duration(n)*3*time.Millisecond)
	defer cancel()
	next := start
	sw, err := sys.DialMany(dctx, srv.Addr(), n, func(done int) {
		if now := time.Now(); now.After(next) {
			r.progress("%s connections %d/%d", sys.Name(), done, n)
			next = now.Add(250 * time.Millisecond)
		}
	})
	if err != nil {
		return Result{}, err
	}
	defer sw.Close()
	connectTime := time.Since(start)
	metrics := map[string]float64{MetricConnPerSec: float64(n) / connectTime.Seconds()}
	if statsErr == nil {
		// The server may still be finishing its side of the last handshakes.
		waitUntil(ctx, r.Options.Timeout, func() bool {
			s, err := srv.Stats()
			return err == nil && s.Conns >= n
		})
		if err := srv.Collect(); err != nil {
			return Result{}, err
		}
		loaded, err := srv.Stats()
		if err != nil {
			return Result{}, err
		}
		metrics[MetricRSSPerConn] = float64(loaded.RSS-base.RSS) / float64(n) / 1024
		r.progress("%s connections: %d idle for %.0fs", sys.Name(), n, r.Options.IdleWindow.Seconds())
		idleStart := time.Now()
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(r.Options.IdleWindow):
		}
		idle, err := srv.Stats()
		if err != nil {
			return Result{}, err
		}
		metrics[MetricIdleCPU] = 100 * (idle.CPU - loaded.CPU).Seconds() / time.Since(idleStart).Seconds()
		metrics["server_conns"] = float64(idle.Conns)
		metrics[MetricHeld] = boolMetric(idle.Conns == n && sw.Connected() == n)
	} else {
		metrics[MetricHeld] = boolMetric(sw.Connected() == n)
	}
	return Result{System: sys.Name(), Scenario: ScenarioConnections, Metrics: metrics}, nil
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// firstError returns the first non-nil error, and says how many more failed.
func firstError(errs []error) error {
	var first error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	if more > 0 {
		return fmt.Errorf("%w (and %d more)", first, more)
	}
	return first
}
