package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecodeCommand runs `mist decode` on every capture and compares its
// lines with the messages both applications logged in received.json.
func TestDecodeCommand(t *testing.T) {
	dirs, _ := filepath.Glob("../../testdata/vectors/*/received.json")
	if len(dirs) == 0 {
		t.Fatal("no vectors")
	}
	type msg struct {
		Dir      string `json:"dir"`
		Lane     int    `json:"lane"`
		Reliable bool   `json:"reliable"`
		MsgNum   int64  `json:"msgnum"`
		Size     int    `json:"size"`
		SHA256   string `json:"sha256"`
	}
	for _, rj := range dirs {
		dir := filepath.Dir(rj)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runDecode([]string{"--keys", filepath.Join(dir, "keys.json"), filepath.Join(dir, "packets.jsonl")}, &stdout, &stderr)
			if code != 0 || stderr.Len() != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			raw, err := os.ReadFile(rj)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Client, Server struct{ Received []msg }
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			want := map[string][]msg{}
			for _, m := range r.Server.Received {
				m.Dir = "c2s"
				want["c2s"] = append(want["c2s"], m)
			}
			for _, m := range r.Client.Received {
				m.Dir = "s2c"
				want["s2c"] = append(want["s2c"], m)
			}
			got := map[string][]msg{}
			for line := range strings.Lines(stdout.String()) {
				var m msg
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				got[m.Dir] = append(got[m.Dir], m)
			}
			for _, d := range []string{"c2s", "s2c"} {
				if len(got[d]) != len(want[d]) {
					t.Fatalf("%s: %d messages, want %d", d, len(got[d]), len(want[d]))
				}
				for i := range got[d] {
					if got[d][i] != want[d][i] {
						t.Errorf("%s %d: got %+v, want %+v", d, i, got[d][i], want[d][i])
					}
				}
			}
		})
	}
}

func TestDecodeUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runDecode(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "Usage: mist decode") {
		t.Errorf("no arguments: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := runDecode([]string{"--keys", "/nonexistent/keys.json", "x"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}
