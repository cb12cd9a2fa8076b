// Command mistbench measures mist against raw UDP, quic-go and ENet on
// loopback and writes a markdown table, a JSON file and PNG plots into
// results/<timestamp>/.
//
// Every server runs in a child process (this binary, re-executed with
// -serve), so server CPU time and memory are measured apart from the
// client's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mistnet/mist/bench/internal/enetsys"
	"github.com/mistnet/mist/bench/internal/harness"
	"github.com/mistnet/mist/bench/internal/mistsys"
	"github.com/mistnet/mist/bench/internal/quicsys"
	"github.com/mistnet/mist/bench/internal/rawudp"
	"github.com/mistnet/mist/bench/internal/report"
	"github.com/mistnet/mist/bench/internal/system"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mistbench:", err)
		os.Exit(1)
	}
}

// systemKeys are the -systems names, in report order.
var systemKeys = []string{"mist", "raw", "quic", "enet"}

func newSystem(key string) (system.System, string, error) {
	switch key {
	case "mist":
		return mistsys.New(), "AES-256-GCM, X25519; adaptive send rate between SendRateMin 1 MiB/s and SendRateMax 2 GiB/s", nil
	case "raw":
		return rawudp.System{}, fmt.Sprintf("plain sockets, no reliability; bulk split into %d-byte datagrams", rawudp.MaxDatagram), nil
	case "quic":
		return quicsys.System{}, "TLS 1.3; one stream (length-prefixed) for reliable, datagrams for unreliable; keepalive 10 s", nil
	case "enet":
		if !enetsys.Available() {
			return nil, "", errors.New("libenet not available (install libenet-dev)")
		}
		return enetsys.System{}, "libenet 1.3 via cgo; one channel, bandwidth unlimited; pings every 500 ms", nil
	}
	return nil, "", fmt.Errorf("unknown system %q (want one of %s)", key, strings.Join(systemKeys, ", "))
}

func systemByName(name string) (system.System, error) {
	for _, k := range systemKeys {
		if sys, _, err := newSystem(k); err == nil && sys.Name() == name {
			return sys, nil
		}
	}
	return nil, fmt.Errorf("no system named %q", name)
}

type flags struct {
	quick         bool
	scenarios     string
	systems       string
	latencyRounds int
	throughput    time.Duration
	rateTime      time.Duration
	idle          time.Duration
	rateConns     string
	connCounts    string
	target        string
	out           string
	serve         string
	listen        string
	cpuProfile    string
	trace         string
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("mistbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.quick, "quick", false, "short run: fewer round trips, 2 s transfers, 1,000 connections at most")
	fs.StringVar(&f.scenarios, "scenarios", "latency,throughput,rate,connections", "comma-separated scenarios to run")
	fs.StringVar(&f.systems, "systems", strings.Join(systemKeys, ","), "comma-separated systems: "+strings.Join(systemKeys, ", "))
	fs.IntVar(&f.latencyRounds, "latency-rounds", 0, "round trips per latency style (default 10000, quick 2000)")
	fs.DurationVar(&f.throughput, "throughput-time", 0, "bulk transfer duration (default 10s, quick 2s)")
	fs.DurationVar(&f.rateTime, "rate-time", 0, "message-rate send duration (default 5s, quick 1s)")
	fs.DurationVar(&f.idle, "idle-time", 0, "idle server observation (default 10s, quick 2s)")
	fs.StringVar(&f.rateConns, "rate-conns", "1,100", "connection counts for the message-rate scenario")
	fs.StringVar(&f.connCounts, "conns", "", "client counts for the connections scenario (default 1000,10000, quick 1000)")
	fs.StringVar(&f.target, "target", "", "measure an external GNS-compatible bench server at HOST:PORT with the mist client")
	fs.StringVar(&f.out, "out", "results", "directory for per-run result folders")
	fs.StringVar(&f.serve, "serve", "", "internal: run as the bench server for the named system")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "internal: address the -serve server listens on")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the client to FILE and of each server process to FILE.<pid>")
	fs.StringVar(&f.trace, "trace", "", "write a runtime trace of the client to FILE and of each server process to FILE.<pid>")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return &f, nil
}

func (f *flags) options() (harness.Options, error) {
	o := harness.DefaultOptions()
	if f.quick {
		o.LatencyRounds, o.ThroughputDuration, o.RateDuration, o.IdleWindow = 2000, 2*time.Second, time.Second, 2*time.Second
	}
	if f.latencyRounds > 0 {
		o.LatencyRounds = f.latencyRounds
	}
	if f.throughput > 0 {
		o.ThroughputDuration = f.throughput
	}
	if f.rateTime > 0 {
		o.RateDuration = f.rateTime
	}
	if f.idle > 0 {
		o.IdleWindow = f.idle
	}
	return o, nil
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Servers write their own profile and trace, named after their pid.
	for _, rec := range []struct {
		path  string
		start func(io.Writer) error
		stop  func()
	}{
		{f.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile},
		{f.trace, trace.Start, trace.Stop},
	} {
		if rec.path == "" {
			continue
		}
		path := rec.path
		if f.serve != "" {
			path = fmt.Sprintf("%s.%d", path, os.Getpid())
		}
		file, err := os.Create(path)
		if err != nil {
			return err
		}
		defer file.Close()
		if err := rec.start(file); err != nil {
			return err
		}
		defer rec.stop()
	}
	if f.serve != "" {
		sys, err := systemByName(f.serve)
		if err != nil {
			return err
		}
		return harness.ServeChild(ctx, sys, f.listen, stdin, stdout)
	}
	return bench(ctx, f, stdout, stderr)
}

func bench(ctx context.Context, f *flags, stdout, stderr io.Writer) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	if f.target != "" {
		// The external server may be GNS, which needs a reliable message
		// now and then in a flood.
		opts.ReliableEvery = 100_000
	}
	rateConns, err := parseCounts(f.rateConns)
	if err != nil {
		return err
	}
	connSpec := f.connCounts
	if connSpec == "" {
		connSpec = "1000,10000"
		if f.quick {
			connSpec = "1000"
		}
	}
	connCounts, err := parseCounts(connSpec)
	if err != nil {
		return err
	}
	scenarios := strings.Split(f.scenarios, ",")
	for _, s := range scenarios {
		if !slices.Contains([]string{"latency", "throughput", "rate", "connections"}, s) {
			return fmt.Errorf("unknown scenario %q", s)
		}
	}

	run := &report.Run{Date: time.Now().UTC(), GoVersion: runtime.Version(), Machine: report.ThisMachine(), Options: opts, Target: f.target}
	var systems []system.System
	keys := strings.Split(f.systems, ",")
	if f.target != "" {
		keys = []string{"mist"}
	}
	for _, k := range keys {
		sys, detail, err := newSystem(strings.TrimSpace(k))
		if err != nil {
			fmt.Fprintf(stderr, "mistbench: SKIPPING %s: %v\n", k, err)
			continue
		}
		systems = append(systems, sys)
		run.Systems = append(run.Systems, report.SystemInfo{Name: sys.Name(), Encrypted: sys.Encrypted(), Detail: detail})
	}
	if len(systems) == 0 {
		return errors.New("no system to measure")
	}

	launch := harness.Launcher(nil)
	if f.target != "" {
		launch = func(system.System, string) (harness.ServerHandle, error) { return harness.External(f.target), nil }
	} else {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		launch = harness.Child(exe, func(name, addr string) []string {
			args := []string{"-serve", name, "-listen", addr}
			if f.cpuProfile != "" {
				args = append(args, "-cpuprofile", f.cpuProfile)
			}
			if f.trace != "" {
				args = append(args, "-trace", f.trace)
			}
			return args
		})
	}
	prog := newProgress(stderr)
	runner := &harness.Runner{Launch: launch, Options: opts, Progress: prog.set}

	type step struct {
		label string
		do    func() []harness.Result
	}
	var steps []step
	for _, sys := range systems {
		for _, sc := range scenarios {
			switch sc {
			case "latency":
				steps = append(steps, step{sys.Name() + " latency", func() []harness.Result { return runner.Latency(ctx, sys) }})
			case "throughput":
				steps = append(steps, step{sys.Name() + " throughput", func() []harness.Result { return []harness.Result{runner.Throughput(ctx, sys)} }})
			case "rate":
				for _, n := range rateConns {
					steps = append(steps, step{fmt.Sprintf("%s rate x%d", sys.Name(), n), func() []harness.Result { return []harness.Result{runner.Rate(ctx, sys, n)} }})
				}
			case "connections":
				for _, n := range connCounts {
					steps = append(steps, step{fmt.Sprintf("%s %d connections", sys.Name(), n), func() []harness.Result { return []harness.Result{runner.Connections(ctx, sys, n)} }})
				}
			}
		}
	}
	start := time.Now()
	for i, st := range steps {
		if ctx.Err() != nil {
			break
		}
		prog.step(i+1, len(steps), st.label)
		for _, r := range st.do() {
			if r.Failed() {
				prog.log("%s %s %s: %s", r.System, r.Scenario, r.Variant, r.Error)
			}
			run.Results = append(run.Results, r)
		}
	}
	prog.done()
	run.Machine.LoadAfter = report.LoadAverage()
	for _, sys := range systems {
		if c, ok := sys.(io.Closer); ok {
			c.Close()
		}
	}

	report.ComputeRatios(run.Results)
	run.Targets = report.CheckTargets(run.Results)
	dir := filepath.Join(f.out, run.Date.Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md := report.Markdown(run)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := report.WriteJSON(filepath.Join(dir, "results.json"), run); err != nil {
		return err
	}
	plots, err := report.Plots(dir, run)
	if err != nil {
		fmt.Fprintln(stderr, "mistbench: plots:", err)
	}
	fmt.Fprintln(stdout, md)
	fmt.Fprintf(stdout, "Wrote %s (results.md, results.json, %s) in %s.\n", dir, strings.Join(plots, ", "), time.Since(start).Round(time.Second))
	return ctx.Err()
}

// progress keeps one status line on a terminal, or prints occasional
// lines when stderr is a file or pipe.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	prefix   string
	start    time.Time
	lastLine time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) step(i, n int, label string) {
	p.mu.Lock()
	p.prefix = fmt.Sprintf("[%d/%d]", i, n)
	p.mu.Unlock()
	p.set(label)
}

func (p *progress) set(status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s %4.0fs %s", p.prefix, time.Since(p.start).Seconds(), status)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		return
	}
	if time.Since(p.lastLine) >= 2*time.Second {
		fmt.Fprintln(p.w, line)
		p.lastLine = time.Now()
	}
}

func (p *progress) log(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "finished in %s\n", time.Since(p.start).Round(time.Second))
}
