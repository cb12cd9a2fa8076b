package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/mistnet/mist/bench/internal/harness"
)

// Plot file names written by Plots.
const (
	PlotLatency     = "latency-cdf.png"
	PlotThroughput  = "throughput.png"
	PlotRate        = "message-rate.png"
	PlotConnections = "connections.png"
	PlotConnectRate = "connect-rate.png"
)

// Plots writes the PNG plots the run has data for into dir and returns
// their file names.
func Plots(dir string, run *Run) ([]string, error) {
	var names []string
	systems := make([]string, 0, len(run.Systems))
	for _, s := range run.Systems {
		systems = append(systems, s.Name)
	}
	save := func(p *plot.Plot, name string, w vg.Length) error {
		if p == nil {
			return nil
		}
		if err := p.Save(w, 4*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}
	lat, err := latencyPlot(run.Results, systems)
	if err != nil {
		return names, err
	}
	if err := save(lat, PlotLatency, 7*vg.Inch); err != nil {
		return names, err
	}
	bars := []struct {
		name, title, ylabel, scenario, metric string
	}{
		{PlotThroughput, "Reliable bulk transfer, 64 KB messages", "MB/s delivered", harness.ScenarioThroughput, harness.MetricMBps},
		{PlotRate, "64-byte unreliable messages", "messages/s delivered", harness.ScenarioRate, harness.MetricMsgsPerSec},
		{PlotConnections, "Server memory per idle connection", "RSS KB per connection", harness.ScenarioConnections, harness.MetricRSSPerConn},
		{PlotConnectRate, "Clients connecting to one server", "connections established per second", harness.ScenarioConnections, harness.MetricConnPerSec},
	}
	for _, b := range bars {
		p, err := barPlot(run.Results, systems, b.title, b.ylabel, b.scenario, b.metric, variants(run.Results, b.scenario))
		if err != nil {
			return names, err
		}
		if err := save(p, b.name, 7*vg.Inch); err != nil {
			return names, err
		}
	}
	return names, nil
}

// latencyPlot draws the blocking-receive RTT distribution of each system
// on a log time axis; nil when no system has latency figures.
func latencyPlot(results []harness.Result, systems []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Round-trip time, 32-byte reliable echo (blocking receive)"
	p.X.Label.Text = "RTT (µs, log scale)"
	p.Y.Label.Text = "fraction of round trips"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	drawn, tail := 0, 0.0
	for i, s := range systems {
		r, ok := find(results, s, harness.ScenarioLatency, "blocking")
		if !ok || len(r.CDF) == 0 {
			continue
		}
		tail = max(tail, r.Metrics[harness.MetricP999])
		pts := make(plotter.XYs, 0, len(r.CDF))
		for _, c := range r.CDF {
			if c[0] > 0 {
				pts = append(pts, plotter.XY{X: c[0], Y: c[1]})
			}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(s, line)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	// A few extreme samples would squeeze the body of every curve to the
	// left; the axis stops a little past the worst p99.9.
	if tail > 0 {
		p.X.Max = 3 * tail
	}
	return p, nil
}

// barPlot draws one bar per system in each variant group; nil when no
// system has the metric.
func barPlot(results []harness.Result, systems []string, title, ylabel, scenario, metric string, variants []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	width := vg.Points(18)
	drawn, highest := 0, 0.0
	for i, s := range systems {
		vals := make(plotter.Values, len(variants))
		any := false
		for j, v := range variants {
			vals[j] = math.NaN()
			if r, ok := find(results, s, scenario, v); ok {
				if x, ok := r.Metrics[metric]; ok {
					vals[j] = x
					highest = max(highest, x)
					any = true
				}
			}
		}
		if !any {
			continue
		}
		for j := range vals {
			if math.IsNaN(vals[j]) {
				vals[j] = 0 // missing: drawn as no bar
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(systems)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(s, bars)
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	// Headroom above the tallest bar keeps the legend clear of it.
	p.Y.Min, p.Y.Max = 0, 1.3*highest
	p.NominalX(variants...)
	return p, nil
}

// variants lists a scenario's variants in the order they were run.
func variants(results []harness.Result, scenario string) []string {
	var out []string
	for _, r := range results {
		if r.Scenario == scenario && !slices.Contains(out, r.Variant) {
			out = append(out, r.Variant)
		}
	}
	return out
}
