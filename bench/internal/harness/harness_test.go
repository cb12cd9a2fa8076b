package harness_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/bench/internal/enetsys"
	"github.com/mistnet/mist/bench/internal/harness"
	"github.com/mistnet/mist/bench/internal/mistsys"
	"github.com/mistnet/mist/bench/internal/quicsys"
	"github.com/mistnet/mist/bench/internal/rawudp"
	"github.com/mistnet/mist/bench/internal/system"
)

// serveEnv makes the test binary act as a bench server process, the way
// mistbench re-executes itself.
const serveEnv = "HARNESS_TEST_SERVE"

func TestMain(m *testing.M) {
	if name := os.Getenv(serveEnv); name != "" {
		sys := systemsByName()[name]
		if sys == nil {
			fmt.Fprintf(os.Stderr, "no system %q\n", name)
			os.Exit(2)
		}
		if err := harness.ServeChild(context.Background(), sys, "127.0.0.1:0", os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func systemsByName() map[string]system.System {
	m := map[string]system.System{}
	for _, s := range []system.System{mistsys.New(), rawudp.System{}, quicsys.System{}, enetsys.System{}} {
		m[s.Name()] = s
	}
	return m
}

func tiny() harness.Options {
	return harness.Options{
		LatencyRounds:      200,
		ThroughputDuration: 200 * time.Millisecond,
		RateDuration:       100 * time.Millisecond,
		IdleWindow:         100 * time.Millisecond,
		Timeout:            20 * time.Second,
	}
}

func systems(t *testing.T) []system.System {
	mistSys := mistsys.New()
	t.Cleanup(func() { mistSys.Close() })
	out := []system.System{mistSys, rawudp.System{}, quicsys.System{}}
	if enetsys.Available() {
		out = append(out, enetsys.System{})
	} else {
		t.Log("SKIPPING ENet: libenet not available (install libenet-dev)")
	}
	return out
}

func TestScenariosInProcess(t *testing.T) {
	ctx := context.Background()
	r := &harness.Runner{Launch: harness.InProcess, Options: tiny()}
	for _, sys := range systems(t) {
		t.Run(sys.Name(), func(t *testing.T) {
			for _, res := range r.Latency(ctx, sys) {
				if res.Failed() {
					if res.Note == "" {
						t.Errorf("latency %s: %s", res.Variant, res.Error)
					}
					continue
				}
				p50, p99, p999 := res.Metrics[harness.MetricP50], res.Metrics[harness.MetricP99], res.Metrics[harness.MetricP999]
				if !(0 < p50 && p50 <= p99 && p99 <= p999) {
					t.Errorf("latency %s quantiles %v, %v, %v out of order", res.Variant, p50, p99, p999)
				}
				if n := len(res.CDF); n < 10 || res.CDF[n-1][1] != 1 {
					t.Errorf("latency %s CDF has %d points ending at %v", res.Variant, n, res.CDF[n-1])
				}
			}

			tp := r.Throughput(ctx, sys)
			if tp.Failed() {
				t.Fatalf("throughput: %s", tp.Error)
			}
			if tp.Metrics[harness.MetricMBps] <= 0 || tp.Metrics[harness.MetricCPUPerGB] <= 0 {
				t.Errorf("throughput metrics %v", tp.Metrics)
			}

			for _, n := range []int{1, 3} {
				rate := r.Rate(ctx, sys, n)
				if rate.Failed() {
					t.Fatalf("rate x%d: %s", n, rate.Error)
				}
				if rate.Metrics[harness.MetricMsgsPerSec] <= 0 || rate.Metrics[harness.MetricLossPct] >= 100 {
					t.Errorf("rate x%d metrics %v", n, rate.Metrics)
				}
				if want := fmt.Sprintf("%d connection", n); !strings.HasPrefix(rate.Variant, want) {
					t.Errorf("rate variant %q, want %q…", rate.Variant, want)
				}
			}

			conns := r.Connections(ctx, sys, 30)
			if sys.Name() == "raw UDP" {
				if !conns.Failed() || conns.Note == "" {
					t.Errorf("raw UDP connections should be marked unsupported, got %+v", conns)
				}
				return
			}
			if conns.Failed() {
				t.Fatalf("connections: %s", conns.Error)
			}
			if conns.Metrics[harness.MetricHeld] != 1 || conns.Metrics[harness.MetricConnPerSec] <= 0 {
				t.Errorf("connections metrics %v", conns.Metrics)
			}
		})
	}
}

func TestChildServer(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(serveEnv, "quic-go")
	launch := harness.Child(exe, func(string, string) []string { return []string{"-test.run=^$"} })
	srv, err := launch(quicsys.System{}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	defer srv.Close()
	if err := srv.Collect(); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	before, err := srv.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if before.RSS <= 0 || before.CPU <= 0 || before.Conns != 0 {
		t.Fatalf("fresh server stats %+v", before)
	}
	// The runner closes the servers it launches; this one is closed below.
	r := &harness.Runner{Launch: func(system.System, string) (harness.ServerHandle, error) { return keepOpen{srv}, nil }, Options: tiny()}
	tp := r.Throughput(context.Background(), quicsys.System{})
	if tp.Failed() {
		t.Fatalf("throughput through child server: %s", tp.Error)
	}
	after, err := srv.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if after.CPU <= before.CPU {
		t.Errorf("server CPU did not grow: %v -> %v", before.CPU, after.CPU)
	}
}

func TestExternalHasNoStats(t *testing.T) {
	ext := harness.External("127.0.0.1:9")
	if ext.Addr() != "127.0.0.1:9" {
		t.Errorf("Addr = %q", ext.Addr())
	}
	if _, err := ext.Stats(); err != harness.ErrNoStats {
		t.Errorf("Stats error = %v, want ErrNoStats", err)
	}
}

type keepOpen struct{ harness.ServerHandle }

func (keepOpen) Close() error { return nil }
