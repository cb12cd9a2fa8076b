package main

import (
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkGoroutines notes how many goroutines run now and returns a function
// that fails the test if more are left over once the run has ended (after
// a bounded wait for those winding down).
func checkGoroutines(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines left over (%d before):\n%s", n-before, before, buf)
		}
	}
}

func TestDemoShortRun(t *testing.T) {
	defer checkGoroutines(t)()
	var out, errOut syncBuffer
	// Moderate rates: the check is about delivery, not about how much a
	// busy test machine can push.
	code := runDemo(context.Background(), []string{"--duration", "3s", "--reliable-rate", "25", "--unreliable-rate", "15"}, &out, &errOut)
	s := out.String()
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, s, errOut.String())
	}
	if !strings.Contains(s, "reliable delivery: OK, all ") {
		t.Fatalf("summary does not report complete reliable delivery:\n%s", s)
	}
	// Three clients, each with its row in the live view, and the server's
	// side of each connection.
	for _, want := range []string{"client1->server", "client3->server", "server->client2", "Connected"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// Both kinds flowed both ways.
	m := regexp.MustCompile(`(?m)^  client -> server +(\d+) +(\d+)`).FindAllStringSubmatch(s, -1)
	if len(m) != 2 || m[0][1] == "0" || m[1][1] == "0" {
		t.Errorf("summary lacks reliable and unreliable client->server counts: %q", m)
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("ANSI escapes written to a non-terminal")
	}
}

func TestDemoUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "-1s"}, "--duration -1s"},
		{[]string{"--clients", "0"}, "--clients 0"},
		{[]string{"--loss", "80"}, "--loss 80"},
		{[]string{"--lag", "5s"}, "--lag 5s"},
		{[]string{"now"}, `unexpected argument "now"`},
		{[]string{"--duration", "soon"}, `invalid value "soon"`},
	} {
		var out, errOut syncBuffer
		if code := runDemo(context.Background(), tc.args, &out, &errOut); code != 2 {
			t.Errorf("demo %q: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("demo %q: stderr %q lacks %q", tc.args, errOut.String(), tc.want)
		}
	}
}

// An interrupt ends the sending early; the demo still waits for messages in
// flight, checks them and says it was interrupted.
func TestDemoInterrupted(t *testing.T) {
	// The time limit only guards against a demo that never connects.
	ctx, interrupt := context.WithTimeout(context.Background(), waitLimit)
	defer interrupt()
	var out syncBuffer
	// Interrupt once the live view shows traffic.
	stdout := writerFunc(func(b []byte) (int, error) {
		if strings.Contains(string(b), "sending, 1/1 clients connected") {
			interrupt()
		}
		return out.Write(b)
	})
	var errOut syncBuffer
	code := runDemo(ctx, []string{"--duration", "1h", "--clients", "1"}, stdout, &errOut)
	s := out.String()
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, s, errOut.String())
	}
	for _, want := range []string{"(interrupted)", "reliable delivery: OK"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
