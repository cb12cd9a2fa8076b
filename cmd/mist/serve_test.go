package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServeBadUsage(t *testing.T) {
	dir := t.TempDir()
	keyOnly := filepath.Join(dir, "not-a-key")
	os.WriteFile(keyOnly, []byte("hello\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "TURN needs credentials"},
		{[]string{"--turn-user", "u"}, "go together"},
		{[]string{"--no-turn", "--turn-user", "u", "--turn-pass", "p"}, "--no-turn runs no relay"},
		{[]string{"--no-turn", "--addr", "example.com"}, `--addr "example.com"`},
		{[]string{"--no-turn", "--signal-port", "-1"}, "invalid --signal-port -1"},
		{[]string{"--no-turn", "--stun-port", "65536"}, "invalid --stun-port 65536"},
		{[]string{"--no-turn", "--trust", keyOnly}, "--trust"},
		{[]string{"--no-turn", "--trust", filepath.Join(dir, "missing.pub")}, "no such file"},
		{[]string{"--turn-user", "a:b", "--turn-pass", "p"}, "may not contain ':'"},
		{[]string{"--no-turn", "--relay-ip", "0.0.0.0"}, "--relay-ip"},
		{[]string{"--no-turn", "stray"}, `unexpected argument "stray"`},
		{[]string{"--no-turn", "--web", "8080"}, `--web "8080"`},
	} {
		var out, errOut bytes.Buffer
		if code := runServe(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut.String())
		}
	}
}

// TestServeHelperProcess is the child of TestServeStopsOnSIGTERM.
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv("MIST_SERVE_CHILD") != "1" {
		t.Skip("run as a child process only")
	}
	os.Exit(run([]string{"serve", "--addr", "127.0.0.1", "--signal-port", "0", "--stun-port", "0",
		"--turn-user", "u", "--turn-pass", "p"}, os.Stdout, os.Stderr))
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	cmd.Env = append(os.Environ(), "MIST_SERVE_CHILD=1")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var sigAddr string
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "Signaling at "); ok {
			sigAddr = a
		}
		if strings.HasPrefix(lines.Text(), "STUN/TURN at ") {
			break
		}
	}
	if sigAddr == "" {
		t.Fatalf("no addresses printed; stderr: %s", errOut.String())
	}
	// A registered client is disconnected by the shutdown.
	c, err := net.Dial("tcp", sigAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("str:a\n"))
	for !strings.Contains(errOut.String(), "registered") {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr: %s", err, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("client connection still open")
	}
	logs := errOut.String()
	for _, want := range []string{"level=INFO msg=\"shutting down\"", "msg=counters", "registered_peers=", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestServeFailsWhenNATSIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close()
	var out, errOut bytes.Buffer
	code := runServe(context.Background(), []string{"--addr", "127.0.0.1", "--signal-port", "0", "--stun-port", "0",
		"--no-turn", "--nats", url}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "cannot reach NATS at "+url) {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestServeWeb: --web prints the operator page's URL, which serves the
// page and the node's metrics until the command stops.
func TestServeWeb(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1", "--signal-port", "0", "--no-turn", "--stun-port", "0", "--web", "127.0.0.1:0"}, &out, &errOut)
	}()
	url := regexp.MustCompile(`operator page on (http://\S+/) `)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := url.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no operator page URL printed:\n%s%s", out.String(), errOut.String())
	}
	for path, want := range map[string]string{"": "<title>mist serve</title>", "metrics": "mist_service_registered_peers 0"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("%s%s lacks %q", base, path, want)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if _, err := http.Get(base); err == nil {
		t.Error("the operator page still answers after the command stopped")
	}
}
