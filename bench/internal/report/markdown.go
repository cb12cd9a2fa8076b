package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mistnet/mist/bench/internal/harness"
)

// column is one metric shown in a table.
type column struct {
	metric string
	title  string
	// lowerIsBetter decides how the ratio to mist reads.
	lowerIsBetter bool
	digits        int
}

var columns = map[string][]column{
	harness.ScenarioLatency: {
		{harness.MetricP50, "p50 µs", true, 1},
		{harness.MetricP99, "p99 µs", true, 1},
		{harness.MetricP999, "p99.9 µs", true, 1},
	},
	harness.ScenarioThroughput: {
		{harness.MetricMBps, "MB/s", false, 0},
		{harness.MetricCPUPerGB, "CPU s/GB", true, 2},
		{harness.MetricLossPct, "loss %", true, 2},
	},
	harness.ScenarioRate: {
		{harness.MetricMsgsPerSec, "msgs/s delivered", false, 0},
		{harness.MetricLossPct, "loss %", true, 2},
	},
	harness.ScenarioConnections: {
		{harness.MetricConnPerSec, "connects/s", false, 0},
		{harness.MetricRSSPerConn, "RSS KB/idle conn", true, 1},
		{harness.MetricIdleCPU, "idle CPU %", true, 2},
		{harness.MetricHeld, "all held", false, 0},
	},
}

// ScenarioOrder is the order scenarios appear in reports.
var ScenarioOrder = []string{harness.ScenarioLatency, harness.ScenarioThroughput, harness.ScenarioRate, harness.ScenarioConnections}

// Markdown renders the run as tables, one per scenario, with each value's
// ratio to mist in parentheses.
func Markdown(run *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s · %s · %s/%s · %d cores", run.Date.UTC().Format("2006-01-02 15:04 MST"), run.GoVersion, run.Machine.OS, run.Machine.Arch, run.Machine.Cores)
	if run.Machine.CPU != "" {
		fmt.Fprintf(&b, " · %s", run.Machine.CPU)
	}
	if run.Machine.Kernel != "" {
		fmt.Fprintf(&b, " · Linux %s", run.Machine.Kernel)
	}
	if run.Machine.LoadBefore > 0 || run.Machine.LoadAfter > 0 {
		fmt.Fprintf(&b, " · load average %.1f before, %.1f after", run.Machine.LoadBefore, run.Machine.LoadAfter)
	}
	b.WriteString("\n\n")
	b.WriteString("| system | encrypted | notes |\n|---|---|---|\n")
	for _, s := range run.Systems {
		enc := "no"
		if s.Encrypted {
			enc = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.Name, enc, s.Detail)
	}
	for _, sc := range ScenarioOrder {
		var rows []harness.Result
		for _, r := range run.Results {
			if r.Scenario == sc {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n| system | variant |", sc)
		cols := columns[sc]
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c.title)
		}
		b.WriteString("\n|---|---|")
		b.WriteString(strings.Repeat("---:|", len(cols)))
		b.WriteString("\n")
		slices.SortStableFunc(rows, func(x, y harness.Result) int { return strings.Compare(x.Variant, y.Variant) })
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s |", r.System, r.Variant)
			if r.Failed() {
				msg := r.Error
				if r.Note != "" {
					msg = r.Note
				}
				fmt.Fprintf(&b, " %s |%s\n", escape(msg), strings.Repeat(" |", len(cols)-1))
				continue
			}
			for _, c := range cols {
				v, ok := r.Metrics[c.metric]
				if !ok {
					b.WriteString(" – |")
					continue
				}
				cell := formatValue(c, v)
				if ratio, ok := r.Ratio[c.metric]; ok && r.System != Reference && c.metric != harness.MetricHeld {
					cell += fmt.Sprintf(" (%.2f×)", ratio)
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\nRatios in parentheses are the system's value divided by mist's.\n")
	if len(run.Targets) > 0 {
		b.WriteString("\n### targets\n\n| target | status | figures |\n|---|---|---|\n")
		for _, t := range run.Targets {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Name, t.Status, escape(t.Detail))
		}
	}
	return b.String()
}

func formatValue(c column, v float64) string {
	if c.metric == harness.MetricHeld {
		if v == 1 {
			return "yes"
		}
		return "no"
	}
	if v >= 10000 {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	return fmt.Sprintf("%.*f", c.digits, v)
}

func groupThousands(s string) string {
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func escape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}
