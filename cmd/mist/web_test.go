package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// webDemo is a demo run with --web in the background.
type webDemo struct {
	url    string
	out    *syncBuffer
	errOut *syncBuffer
	stop   context.CancelFunc
	done   chan int
}

var dashboardLine = regexp.MustCompile(`mist demo: dashboard on (http://\S+/) \(metrics at `)

// startWebDemo runs the demo with a dashboard on a free loopback port and
// returns once it has printed the dashboard's URL. The demo is interrupted
// at the end of the test if still running.
func startWebDemo(t *testing.T, args ...string) *webDemo {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	d := &webDemo{out: &syncBuffer{}, errOut: &syncBuffer{}, stop: stop, done: make(chan int, 1)}
	args = append([]string{"--web", "127.0.0.1:0"}, args...)
	go func() { d.done <- runDemo(ctx, args, d.out, d.errOut) }()
	t.Cleanup(func() { d.finish(t) })
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if m := dashboardLine.FindStringSubmatch(d.out.String()); m != nil {
			d.url = m[1]
			return d
		}
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("demo ended (exit %d) without printing the dashboard's URL\nstdout:\n%s\nstderr:\n%s", code, d.out.String(), d.errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no dashboard URL within %v:\n%s", waitLimit, d.out.String())
	return nil
}

// finish interrupts the demo and returns its exit code.
func (d *webDemo) finish(t *testing.T) int {
	t.Helper()
	d.stop()
	select {
	case code := <-d.done:
		d.done <- code
		return code
	case <-time.After(drainLimit + waitLimit):
		t.Fatal("the demo did not end after an interrupt")
		return -1
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestDemoWebServesPageAndMetrics(t *testing.T) {
	defer checkGoroutines(t)()
	d := startWebDemo(t, "--clients", "2", "--reliable-rate", "20", "--unreliable-rate", "10")
	if page := httpGet(t, d.url); !strings.Contains(page, "mist demo") || !strings.Contains(page, "app.js") {
		t.Errorf("the page at %s is not the dashboard:\n%.300s", d.url, page)
	}
	want := `mist_connections{state="connected"} 2`
	var metrics string
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if metrics = httpGet(t, d.url+"metrics"); strings.Contains(metrics, want) {
			break
		}
	}
	if !strings.Contains(metrics, want) {
		t.Fatalf("/metrics never showed %q:\n%s", want, metrics)
	}
	// Traffic shows in the byte counters.
	received := regexp.MustCompile(`(?m)^mist_received_bytes_total (\S+)$`)
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m := received.FindStringSubmatch(httpGet(t, d.url+"metrics"))
		if m == nil {
			t.Fatal("/metrics lacks mist_received_bytes_total")
		}
		if n, _ := strconv.ParseFloat(m[1], 64); n > 20000 {
			break
		}
	}
	if code := d.finish(t); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, d.out.String(), d.errOut.String())
	}
	// With --web and no --duration the demo runs long enough to look.
	if !strings.Contains(d.out.String(), "10m0s of traffic") {
		t.Errorf("the demo with --web did not default to 10m:\n%s", d.out.String())
	}
	if !strings.Contains(d.out.String(), "reliable delivery: OK") {
		t.Errorf("the demo with --web did not check delivery:\n%s", d.out.String())
	}
	if _, err := http.Get(d.url); err == nil {
		t.Error("the dashboard is still served after the demo ended")
	}
}

func TestWebFlagBadAddress(t *testing.T) {
	for _, args := range [][]string{
		{"--web", "127.0.0.1:99999", "--duration", "1s"},
		{"--web", "no-such-host.invalid:80", "--duration", "1s"},
	} {
		var out, errOut syncBuffer
		code := runDemo(context.Background(), args, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "mist demo: --web:") {
			t.Errorf("demo %q: exit %d, stderr %q; want 1 and a --web error", args, code, errOut.String())
		}
	}
	var out, errOut syncBuffer
	code := runChat(context.Background(), []string{"server", "--port", "0", "--bind", "127.0.0.1", "--web", "bad"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "mist chat server: --web:") {
		t.Errorf("chat server --web bad: exit %d, stderr %q", code, errOut.String())
	}
}

func TestChatWebPrintsDashboard(t *testing.T) {
	t.Cleanup(checkGoroutines(t))
	interrupt, stop := context.WithCancel(context.Background())
	defer stop()
	server := startChatContext(t, interrupt, "server", "server", "--bind", "127.0.0.1", "--port", "0", "--web", "127.0.0.1:0")
	m := server.expect(`mist chat server: dashboard on (http://127\.0\.0\.1:\d+/) `)
	if metrics := httpGet(t, m[1]+"metrics"); !strings.Contains(metrics, "mist_listen_sockets 1") {
		t.Errorf("chat server metrics lack its listen socket:\n%s", metrics)
	}
	port := server.expect(logLine + `Server listening on port (\d+)$`)[1]
	client := startChatContext(t, interrupt, "client", "client", "--web", "127.0.0.1:0", "127.0.0.1:"+port)
	cm := client.expect(`mist chat client: dashboard on (http://127\.0\.0\.1:\d+/) `)
	want := `mist_connections{state="connected"} 1`
	var metrics string
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if metrics = httpGet(t, cm[1]+"metrics"); strings.Contains(metrics, want) {
			break
		}
	}
	if !strings.Contains(metrics, want) {
		t.Errorf("chat client metrics lack %q:\n%s", want, metrics)
	}
}
