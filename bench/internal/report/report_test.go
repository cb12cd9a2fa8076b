package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/bench/internal/harness"
)

func sampleRun() *Run {
	lat := func(system string, p50 float64) harness.Result {
		return harness.Result{System: system, Scenario: harness.ScenarioLatency, Variant: "blocking",
			Metrics: map[string]float64{harness.MetricP50: p50, harness.MetricP99: 2 * p50, harness.MetricP999: 3 * p50},
			CDF:     [][2]float64{{p50 / 2, 0.1}, {p50, 0.5}, {3 * p50, 1}}}
	}
	return &Run{
		Date:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		GoVersion: "go1.26",
		Machine:   Machine{OS: "linux", Arch: "amd64", Cores: 2},
		Systems:   []SystemInfo{{Name: "mist", Encrypted: true}, {Name: "raw UDP"}, {Name: "ENet"}},
		Results: []harness.Result{
			lat("mist", 20), lat("raw UDP", 8), lat("ENet", 25),
			{System: "mist", Scenario: harness.ScenarioThroughput, Variant: "1 connection", Metrics: map[string]float64{harness.MetricMBps: 400}},
			{System: "ENet", Scenario: harness.ScenarioThroughput, Variant: "1 connection", Metrics: map[string]float64{harness.MetricMBps: 500}},
			{System: "raw UDP", Scenario: harness.ScenarioConnections, Variant: "1000 clients", Error: "not supported", Note: "n/a: raw UDP has no connections"},
			{System: "mist", Scenario: harness.ScenarioConnections, Variant: "1000 clients", Error: "boom"},
			{System: "mist", Scenario: harness.ScenarioConnections, Variant: "10000 clients", Metrics: map[string]float64{harness.MetricHeld: 1, harness.MetricRSSPerConn: 20, harness.MetricConnPerSec: 900}},
		},
	}
}

func TestRatiosAndMarkdown(t *testing.T) {
	run := sampleRun()
	ComputeRatios(run.Results)
	if got := run.Results[1].Ratio[harness.MetricP50]; got != 0.4 {
		t.Errorf("raw UDP p50 ratio = %v, want 0.4", got)
	}
	if got := run.Results[4].Ratio[harness.MetricMBps]; got != 1.25 {
		t.Errorf("ENet throughput ratio = %v, want 1.25", got)
	}
	run.Targets = CheckTargets(run.Results)
	md := Markdown(run)
	for _, want := range []string{
		"| raw UDP | blocking | 8.0 (0.40×) | 16.0 (0.40×) | 24.0 (0.40×) |",
		"| ENet | 1 connection | 500 (1.25×) |",
		"n/a: raw UDP has no connections",
		"| latency p50_us ≤ ENet (blocking) | met |",
		"| latency p50_us ≤ 2× raw UDP (blocking) | not met |",
		"| latency p99_us ≤ ENet (busy-poll) | not measured |",
		"| throughput ≥ quic-go | not measured |",
		"| 10,000 connections held | met |",
		"| RSS per idle connection ≤ 16 KB, 10000 clients | not met |",
		"| RSS per idle connection ≤ 16 KB, 1000 clients | not met | mist failed: boom |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestJSONAndPlots(t *testing.T) {
	dir := t.TempDir()
	run := sampleRun()
	run.Results[0].Metrics["broken"] = math.Inf(1)
	path := filepath.Join(dir, "results.json")
	if err := WriteJSON(path, run); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Results[0].Metrics["broken"]; ok {
		t.Error("an infinite figure survived into JSON")
	}
	if len(back.Results) != len(run.Results) || back.Results[0].Metrics[harness.MetricP50] != 20 || !back.Date.Equal(run.Date) {
		t.Fatalf("JSON round trip lost data: %+v", back.Results[0])
	}
	names, err := Plots(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	// No rate figures in the sample, so no rate plot.
	want := []string{PlotLatency, PlotThroughput, PlotConnections, PlotConnectRate}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("plots %v, want %v", names, want)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) || len(b) < 1000 {
			t.Errorf("%s is not a PNG (%d bytes, %v)", n, len(b), err)
		}
	}
}

func TestGroupThousands(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "1000": "1,000", "123456": "123,456", "1234567": "1,234,567"} {
		if got := groupThousands(in); got != want {
			t.Errorf("groupThousands(%q) = %q, want %q", in, got, want)
		}
	}
}
