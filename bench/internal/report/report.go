// Package report turns a run's results into JSON, a markdown summary and
// PNG plots.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mistnet/mist/bench/internal/harness"
)

// Reference is the system every ratio is computed against.
const Reference = "mist"

// Machine describes where the run happened.
type Machine struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	Kernel string `json:"kernel,omitempty"`
	CPU    string `json:"cpu,omitempty"`
	Cores  int    `json:"cores"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// run started and ended: other work on the machine skews the figures.
	LoadBefore float64 `json:"load_before,omitempty"`
	LoadAfter  float64 `json:"load_after,omitempty"`
}

// LoadAverage is the 1-minute load average, or 0 when unknown.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var load float64
	if _, err := fmt.Sscan(string(b), &load); err != nil {
		return 0
	}
	return load
}

// SystemInfo describes one system under test.
type SystemInfo struct {
	Name      string `json:"name"`
	Encrypted bool   `json:"encrypted"`
	Detail    string `json:"detail,omitempty"`
}

// Run is everything one benchmark run produced.
type Run struct {
	Date      time.Time        `json:"date"`
	GoVersion string           `json:"go_version"`
	Machine   Machine          `json:"machine"`
	Options   harness.Options  `json:"options"`
	Target    string           `json:"target,omitempty"`
	Systems   []SystemInfo     `json:"systems"`
	Results   []harness.Result `json:"results"`
	Targets   []TargetCheck    `json:"targets,omitempty"`
}

// ThisMachine describes the machine running the benchmark.
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), LoadBefore: LoadAverage()}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func utsString[T int8 | uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// ComputeRatios fills each result's Ratio with its metrics divided by the
// reference system's metrics for the same scenario and variant.
func ComputeRatios(results []harness.Result) {
	ref := map[[2]string]harness.Result{}
	for _, r := range results {
		if r.System == Reference && !r.Failed() {
			ref[[2]string{r.Scenario, r.Variant}] = r
		}
	}
	for i := range results {
		r := &results[i]
		base, ok := ref[[2]string{r.Scenario, r.Variant}]
		if !ok || r.Failed() {
			continue
		}
		r.Ratio = map[string]float64{}
		for k, v := range r.Metrics {
			if b, ok := base.Metrics[k]; ok && b != 0 && !math.IsNaN(v/b) {
				r.Ratio[k] = v / b
			}
		}
	}
}

// WriteJSON writes the run, indented, to path. Non-finite figures, which
// JSON cannot carry, are dropped.
func WriteJSON(path string, run *Run) error {
	for i := range run.Results {
		dropNonFinite(run.Results[i].Metrics)
		dropNonFinite(run.Results[i].Ratio)
	}
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func dropNonFinite(m map[string]float64) {
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k)
		}
	}
}

// ReadJSON loads a run written by WriteJSON.
func ReadJSON(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &run, nil
}

// find returns the result for one system and variant, if it succeeded.
func find(results []harness.Result, system, scenario, variant string) (harness.Result, bool) {
	for _, r := range results {
		if r.System == system && r.Scenario == scenario && r.Variant == variant && !r.Failed() {
			return r, true
		}
	}
	return harness.Result{}, false
}
