package bottleneck

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/mistnet/mist/bench/internal/mistsys"
	"github.com/mistnet/mist/bench/internal/quicsys"
	"github.com/mistnet/mist/bench/internal/system"
)

// The mist configuration: the adaptive range 16 KB/s .. 100 MB/s.
const (
	mistMinRate = 16_000
	mistMaxRate = 100_000_000
)

func systems() []system.System {
	return []system.System{quicsys.System{}, mistsys.NewWithRates(mistMinRate, mistMaxRate)}
}

func closeSystem(s system.System) {
	if c, ok := s.(interface{ Close() error }); ok {
		c.Close()
	}
}

func short(sys system.System) string {
	if sys.Name() == "quic-go" {
		return "quic"
	}
	return sys.Name()
}

func report(b *testing.B, prefix string, r Result) {
	b.ReportMetric(r.Goodput, prefix+"-goodput")
	b.ReportMetric(r.Reached.Seconds(), prefix+"-reach90-s")
	b.ReportMetric(float64(r.QueueP50)/1e6, prefix+"-queue-p50-ms")
	b.ReportMetric(float64(r.QueueP95)/1e6, prefix+"-queue-p95-ms")
	b.ReportMetric(100*r.Drops, prefix+"-drops-%")
}

func describe(name string, r Result) string {
	return fmt.Sprintf("%-8s goodput %5.1f%%  90%% at %-7v queue p50 %-6v p95 %-7v drops %.2f%%  flows %v Jain %.3f fair after %v",
		name, 100*r.Goodput, orNever(r.Reached, 10*time.Millisecond), r.QueueP50.Round(100*time.Microsecond),
		r.QueueP95.Round(100*time.Microsecond), 100*r.Drops, pct(r.Flows), r.Jain, orNever(r.FairAfter, 100*time.Millisecond))
}

func orNever(d, unit time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(unit).String()
}

func pct(xs []float64) []string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.0f%%", 100*x))
	}
	return s
}

// BenchmarkBottleneck streams for 20 s through each shape with quic-go and
// with mist, one after the other, and reports each one's goodput from 5 s,
// time to 90 % of the link, queueing delay and drops, and mist's goodput
// and queue p95 as ratios to quic-go's. Run it with -benchtime=1x.
func BenchmarkBottleneck(b *testing.B) {
	for _, sh := range Shapes {
		b.Run(sh.Name, func(b *testing.B) {
			for b.Loop() {
				var res []Result
				for _, sys := range systems() {
					r, err := Run(context.Background(), sys, sh, []time.Duration{0}, 20*time.Second)
					closeSystem(sys)
					if err != nil {
						b.Fatalf("%s: %v", sys.Name(), err)
					}
					b.Logf("%s %s", sh.Name, describe(sys.Name(), r))
					report(b, short(sys), r)
					res = append(res, r)
				}
				b.ReportMetric(res[1].Goodput/res[0].Goodput, "mist/quic-goodput")
				b.ReportMetric(float64(res[1].QueueP95)/math.Max(1, float64(res[0].QueueP95)), "mist/quic-queue-p95")
			}
		})
	}
}

// BenchmarkBottleneckTwoFlows starts a second connection 5 s after the
// first on the 10 Mbit/s, 50 ms link and reports Jain's index over the
// last 10 s of 25 and how long after the second start the one-second
// rates became fair (Jain >= 0.9) for good.
func BenchmarkBottleneckTwoFlows(b *testing.B) {
	for _, sh := range []Shape{Shapes[0], Shapes[3]} {
		b.Run(sh.Name, func(b *testing.B) {
			for b.Loop() {
				for _, sys := range systems() {
					r, err := Run(context.Background(), sys, sh, []time.Duration{0, 5 * time.Second}, 25*time.Second)
					closeSystem(sys)
					if err != nil {
						b.Fatalf("%s: %v", sys.Name(), err)
					}
					b.Logf("%s two flows %s", sh.Name, describe(sys.Name(), r))
					p := short(sys)
					b.ReportMetric(r.Jain, p+"-jain")
					b.ReportMetric(r.FairAfter.Seconds(), p+"-fair-after-s")
					b.ReportMetric(r.Goodput, p+"-goodput")
					b.ReportMetric(float64(r.QueueP95)/1e6, p+"-queue-p95-ms")
				}
			}
		})
	}
}

// A short run of each system through the emulated link produces a receive
// curve: the measurement works, whatever the figures.
func TestRunMeasures(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	sh := Shape{"10Mbit-20ms", 10e6, 10 * time.Millisecond, 1, 0}
	for _, sys := range systems() {
		r, err := Run(context.Background(), sys, sh, []time.Duration{0}, 7*time.Second)
		closeSystem(sys)
		if err != nil {
			t.Fatalf("%s: %v", sys.Name(), err)
		}
		t.Log(describe(sys.Name(), r))
		if r.Goodput < 0.3 || r.Goodput > 1.01 {
			t.Errorf("%s: goodput %.2f of a 10 Mbit/s link", sys.Name(), r.Goodput)
		}
		if r.Jain != 1 || len(r.Flows) != 1 {
			t.Errorf("%s: one flow, Jain %v, flows %v", sys.Name(), r.Jain, r.Flows)
		}
	}
}
