package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as the re-executed server process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestOptions(t *testing.T) {
	f, err := parseFlags([]string{"-quick", "-throughput-time", "3s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if o.LatencyRounds != 2000 || o.ThroughputDuration != 3*time.Second || o.RateDuration != time.Second {
		t.Errorf("quick options with override = %+v", o)
	}
	if _, err := parseFlags([]string{"stray"}, &bytes.Buffer{}); err == nil {
		t.Error("stray argument accepted")
	}
	if _, err := parseCounts("1,0"); err == nil {
		t.Error("zero count accepted")
	}
}

func TestRejectsUnknownNames(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"-scenarios", "nope", "-out", t.TempDir()}, nil, &out, &errOut); err == nil {
		t.Error("unknown scenario accepted")
	}
	if err := run([]string{"-systems", "nope", "-out", t.TempDir()}, nil, &out, &errOut); err == nil {
		t.Error("run with no known system succeeded")
	}
}

// TestTinyRun runs the whole pipeline, child server processes included,
// at a tiny size and checks the files it writes.
func TestTinyRun(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"-systems", "raw,quic", "-scenarios", "latency,throughput,connections",
		"-latency-rounds", "100", "-throughput-time", "200ms", "-idle-time", "100ms", "-conns", "20", "-out", dir}
	if err := run(args, nil, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	runs, err := os.ReadDir(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("result folders: %v, %v", runs, err)
	}
	for _, name := range []string{"results.md", "results.json", "latency-cdf.png", "throughput.png", "connections.png"} {
		if st, err := os.Stat(filepath.Join(dir, runs[0].Name(), name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
	md := out.String()
	for _, want := range []string{"| raw UDP | blocking |", "| quic-go | 1 connection |", "| quic-go | 20 clients |", "n/a: raw UDP has no connections"} {
		if !strings.Contains(md, want) {
			t.Errorf("output lacks %q:\n%s", want, md)
		}
	}
}
