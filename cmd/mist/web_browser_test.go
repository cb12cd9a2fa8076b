package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium or Chrome binary, or "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// skipWithoutChromium skips the test, loudly, where no browser is installed.
func skipWithoutChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		msg := "SKIPPED: no Chromium found for the browser test of the dashboard; " +
			"install it with: apt-get install -y chromium chromium-driver (make test does so as root)"
		fmt.Fprintln(os.Stderr, "mist: "+t.Name()+": "+msg)
		t.Skip(msg)
	}
	return p
}

// browser starts a headless Chromium with a fresh profile, usable as root
// and without a network.
func browser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// The demo's page in a real browser: the table lists the server's live
// connections and a chart's data grows as samples arrive.
func TestDemoDashboardInBrowser(t *testing.T) {
	exe := skipWithoutChromium(t)
	const clients = 3
	d := startWebDemo(t, "--clients", fmt.Sprint(clients), "--reliable-rate", "20", "--unreliable-rate", "10")
	ctx := browser(t, exe)
	ctx, cancel := context.WithTimeout(ctx, 2*waitLimit)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(d.url)); err != nil {
		t.Fatalf("loading %s: %v", d.url, err)
	}
	// Every row connected, with traffic coming in.
	const liveRows = `[...document.querySelectorAll("#conns tbody tr[data-conn]")].filter(r =>
		r.querySelector(".state").textContent === "Connected" && /^[1-9][0-9.]* [KMG]?i?B\/s/.test(r.children[6].textContent.trim())).length`
	var rows, live int
	var err error
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline) && live < clients; time.Sleep(200 * time.Millisecond) {
		if rows, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#conns tbody tr[data-conn]").length`)); err != nil {
			t.Fatal(err)
		}
		if live, err = chromedp.Run(ctx, chromedp.Evaluate[int](liveRows)); err != nil {
			t.Fatal(err)
		}
	}
	if rows != clients || live != clients {
		t.Fatalf("the table shows %d rows, %d connected with traffic; want %d of each\ndemo output:\n%s", rows, live, clients, d.out.String())
	}
	liveText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("live-text").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(liveText, "live") {
		t.Errorf("the page says %q, not live", liveText)
	}

	// The ping chart of the first connection gains points, and draws them.
	const points = `Number(document.querySelector('#charts svg[data-series="ping"]').dataset.points)`
	first, err := chromedp.Run(ctx, chromedp.Evaluate[int](points))
	if err != nil {
		t.Fatal(err)
	}
	later := first
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline) && later < first+2; time.Sleep(250 * time.Millisecond) {
		if later, err = chromedp.Run(ctx, chromedp.Evaluate[int](points)); err != nil {
			t.Fatal(err)
		}
	}
	if later < first+2 {
		t.Fatalf("the ping chart went from %d to %d points; want it to grow", first, later)
	}
	polyline, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#charts svg[data-series="ping"] polyline').getAttribute("points")`))
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(polyline)) < 2 {
		t.Errorf("the ping chart draws %q", polyline)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the dashboard: %s (%d bytes; kept with go test -artifacts)", path, len(png))
}

// TestServeOperatorPageInBrowser: the page of `mist serve --web` shows the
// registered peers and its signals chart grows while peers signal.
func TestServeOperatorPageInBrowser(t *testing.T) {
	exe := skipWithoutChromium(t)
	sctx, stop := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runServe(sctx, []string{"--addr", "127.0.0.1", "--signal-port", "0", "--no-turn", "--stun-port", "0", "--web", "127.0.0.1:0"}, &out, &errOut)
	}()
	defer func() { stop(); <-done }()
	pageURL := regexp.MustCompile(`operator page on (http://\S+/) `)
	signalAddr := regexp.MustCompile(`Signaling at (\S+)\n`)
	var base, sig string
	for deadline := time.Now().Add(waitLimit); (base == "" || sig == "") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := pageURL.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if m := signalAddr.FindStringSubmatch(out.String()); m != nil {
			sig = m[1]
		}
	}
	if base == "" || sig == "" {
		t.Fatalf("mist serve printed no page or signaling address:\n%s%s", out.String(), errOut.String())
	}
	// Two GNS-style peers: alice keeps signalling bob.
	peer := func(id string) net.Conn {
		c, err := net.Dial("tcp", sig)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte(id + "\n"))
		return c
	}
	alice := peer("str:alice")
	bob := peer("str:bob")
	go io.Copy(io.Discard, bob)
	signalling, quit := time.NewTicker(20*time.Millisecond), make(chan struct{})
	defer func() { signalling.Stop(); close(quit) }()
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-signalling.C:
				alice.Write([]byte("str:bob 00ff\n"))
			}
		}
	}()

	ctx := browser(t, exe)
	ctx, cancel := context.WithTimeout(ctx, 2*waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base)); err != nil {
		t.Fatalf("loading %s: %v", base, err)
	}
	var peers string
	var err error
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline) && peers != "2"; time.Sleep(200 * time.Millisecond) {
		if peers, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("peers").textContent`)); err != nil {
			t.Fatal(err)
		}
	}
	if peers != "2" {
		t.Fatalf("the page shows %q registered peers, want 2", peers)
	}
	const points = `Number(document.getElementById("c-sps").dataset.points || 0)`
	var first, later int
	if first, err = chromedp.Run(ctx, chromedp.Evaluate[int](points)); err != nil {
		t.Fatal(err)
	}
	later = first
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline) && later < first+2; time.Sleep(250 * time.Millisecond) {
		if later, err = chromedp.Run(ctx, chromedp.Evaluate[int](points)); err != nil {
			t.Fatal(err)
		}
	}
	if later < first+2 {
		t.Fatalf("the signals chart went from %d to %d points; want it to grow", first, later)
	}
	rate, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("sps").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if rate == "–" || strings.HasPrefix(rate, "0 ") {
		t.Errorf("the page shows %q signals per second while alice signals every 20 ms", rate)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "serve.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the operator page: %s", path)
}
