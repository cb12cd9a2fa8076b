package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// waitListening returns the address a service command printed.
func waitListening(t *testing.T, out *syncBuffer, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + ` (\S+)`)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %q line in %q", prefix, out.String())
	return ""
}

func TestSignalCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- runSignal(ctx, []string{"--addr", "127.0.0.1", "--port", "0"}, &out, &errOut) }()
	addr := waitListening(t, &out, "Listening at")

	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Write([]byte("str:a\n"))
	b.Write([]byte("str:b\n"))
	rb := bufio.NewReader(b)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got string
	for got == "" {
		// Until b's registration is through, a's signals are dropped.
		a.Write([]byte("str:b abcd\n"))
		b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		got, _ = rb.ReadString('\n')
	}
	if got != "str:a abcd\n" {
		t.Fatalf("b got %q", got)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	if !strings.Contains(errOut.String(), "registered") || !strings.Contains(errOut.String(), "stopped") {
		t.Fatalf("logs: %s", errOut.String())
	}
}

func TestSignalBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "70000"}, "invalid port 70000"},
		{[]string{"--addr", "nowhere"}, `--addr "nowhere" is not an IP address`},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--rate", "0"}, "--rate 0"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		var out, errOut bytes.Buffer
		if code := runSignal(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := runSignal(context.Background(), []string{"-h"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "--port") {
		t.Errorf("-h: exit %d, %q", code, out.String())
	}
}
