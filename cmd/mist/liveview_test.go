package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLiveViewPlain(t *testing.T) {
	var out bytes.Buffer
	v := newLiveView(&out)
	if v.ansi {
		t.Fatal("a buffer was taken for a terminal")
	}
	rows := []connRow{{name: "client 1", state: "connected", pingMs: 3, qualityLocal: 0.98, qualityRemote: -1,
		outBytes: 12345, inBytes: 800, sendRate: 262144, pendingRel: 1500, unackedRel: 20000}}
	v.draw(time.Second, "note", rows)
	v.draw(2*time.Second, "note", rows)
	s := out.String()
	if strings.Contains(s, "\x1b") {
		t.Fatalf("escape sequences in plain output: %q", s)
	}
	for _, want := range []string{"[  1.0s] note", "[  2.0s] note", "client 1", "connected", "3ms", "98%/?", "12K/s", "262K/s", "1500B", "20K"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestLiveViewRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	v := &liveView{w: &out, ansi: true}
	rows := []connRow{{name: "a"}, {name: "b"}}
	v.draw(time.Second, "", rows)
	if strings.Contains(out.String(), "\x1b[") {
		t.Fatal("first frame moved the cursor")
	}
	out.Reset()
	v.draw(2*time.Second, "", rows)
	// Title, header and two rows: four lines up, then clear.
	if !strings.HasPrefix(out.String(), "\x1b[4F\x1b[J") {
		t.Fatalf("second frame starts with %q", out.String()[:min(12, out.Len())])
	}
}
