package report

import (
	"fmt"

	"github.com/mistnet/mist/bench/internal/harness"
)

// TargetCheck is one performance goal and whether the run met it.
type TargetCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "met", "not met" or "not measured"
	Detail string `json:"detail"`
}

// Target statuses.
const (
	Met         = "met"
	NotMet      = "not met"
	NotMeasured = "not measured"
)

// CheckTargets compares mist's figures with the goals it is held to.
func CheckTargets(results []harness.Result) []TargetCheck {
	var out []TargetCheck
	get := func(system, scenario, variant, metric string) (float64, bool) {
		r, ok := find(results, system, scenario, variant)
		if !ok {
			return 0, false
		}
		v, ok := r.Metrics[metric]
		return v, ok
	}
	// missed marks t as not met when mist ran the variant and failed.
	missed := func(t *TargetCheck, scenario, variant string) {
		for _, r := range results {
			if r.System == Reference && r.Scenario == scenario && r.Variant == variant && r.Failed() {
				t.Status, t.Detail = NotMet, "mist failed: "+r.Error
			}
		}
	}
	compare := func(name, scenario, variant, metric, other string, factor float64, lowerIsBetter bool) {
		m, ok1 := get(Reference, scenario, variant, metric)
		o, ok2 := get(other, scenario, variant, metric)
		t := TargetCheck{Name: name, Status: NotMeasured}
		missed(&t, scenario, variant)
		if ok1 && ok2 {
			good := m >= o*factor
			if lowerIsBetter {
				good = m <= o*factor
			}
			t.Status = NotMet
			if good {
				t.Status = Met
			}
			t.Detail = fmt.Sprintf("mist %.4g vs %s %.4g %s", m, other, o, metric)
		}
		out = append(out, t)
	}
	compare("throughput ≥ quic-go", harness.ScenarioThroughput, "1 connection", harness.MetricMBps, "quic-go", 1, false)
	compare("throughput toward ENet", harness.ScenarioThroughput, "1 connection", harness.MetricMBps, "ENet", 1, false)
	// Both waiting styles are checked, each against the peers measured
	// the same way.
	for _, style := range []string{"blocking", "busy-poll"} {
		for _, m := range []string{harness.MetricP50, harness.MetricP99} {
			compare("latency "+m+" ≤ ENet ("+style+")", harness.ScenarioLatency, style, m, "ENet", 1, true)
			compare("latency "+m+" ≤ 2× raw UDP ("+style+")", harness.ScenarioLatency, style, m, "raw UDP", 2, true)
		}
	}
	for _, v := range []string{"1 connection", "100 connections"} {
		compare("64-byte rate ≥ ENet, "+v, harness.ScenarioRate, v, harness.MetricMsgsPerSec, "ENet", 1, false)
		t := TargetCheck{Name: "64-byte loss ≤ 1%, " + v, Status: NotMeasured}
		missed(&t, harness.ScenarioRate, v)
		if loss, ok := get(Reference, harness.ScenarioRate, v, harness.MetricLossPct); ok {
			t.Status, t.Detail = verdict(loss <= 1), fmt.Sprintf("mist loss %.3g%%", loss)
		}
		out = append(out, t)
	}
	held := TargetCheck{Name: "10,000 connections held", Status: NotMeasured}
	missed(&held, harness.ScenarioConnections, "10000 clients")
	if v, ok := get(Reference, harness.ScenarioConnections, "10000 clients", harness.MetricHeld); ok {
		held.Status, held.Detail = verdict(v == 1), fmt.Sprintf("held=%v", v == 1)
	}
	out = append(out, held)
	for _, v := range []string{"1000 clients", "10000 clients"} {
		t := TargetCheck{Name: "RSS per idle connection ≤ 16 KB, " + v, Status: NotMeasured}
		missed(&t, harness.ScenarioConnections, v)
		if rss, ok := get(Reference, harness.ScenarioConnections, v, harness.MetricRSSPerConn); ok {
			t.Status, t.Detail = verdict(rss <= 16), fmt.Sprintf("mist %.1f KB", rss)
		}
		out = append(out, t)
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return Met
	}
	return NotMet
}
