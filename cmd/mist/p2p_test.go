package main

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/trivial/trivialtest"
	"github.com/mistnet/mist/service/signaling"
)

// hasLANAddress reports whether the machine has a non-loopback address:
// ICE never uses loopback, as in GNS, so two peers on one machine meet on
// one of its other addresses.
func hasLANAddress() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && !ip.IP.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

var testRoute = regexp.MustCompile(`TEST ROUTE: addr=(\S+) type=(local|udp|relay)\n`)

// TestP2PListenAndConnect runs `mist p2p listen --once` and `mist p2p
// connect` against each other through mist's signaling server on this
// machine: both must exit 0 and print a direct route.
func TestP2PListenAndConnect(t *testing.T) {
	if !hasLANAddress() {
		t.Skip("no non-loopback address to run ICE on")
	}
	// The signaling server of mist signal / mist serve.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := signaling.New(signaling.Config{})
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var lout, lerr, cout, cerr syncBuffer
	lcode := make(chan int, 1)
	go func() {
		lcode <- runP2P(ctx, []string{"listen", "--identity", "str:peer_server", "--once", "--signaling", addr, "--vport", "3"}, &lout, &lerr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().RegisteredPeers < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ccode := runP2P(ctx, []string{"connect", "--identity", "str:peer_client", "--signaling", addr, "--vport", "3", "--ticks", "30", "str:peer_server"}, &cout, &cerr)
	var l int
	select {
	case l = <-lcode:
	case <-ctx.Done():
		t.Fatal("listen --once did not exit")
	}
	if ccode != 0 || l != 0 {
		t.Fatalf("exit codes connect %d, listen %d\nconnect:\n%s%s\nlisten:\n%s%s", ccode, l, cout.String(), cerr.String(), lout.String(), lerr.String())
	}
	for name, out := range map[string]string{"connect": cout.String(), "listen": lout.String()} {
		m := testRoute.FindStringSubmatch(out)
		// Two peers on one machine meet directly: "local" on a private
		// address, "udp" on a public one (this machine's own address).
		if m == nil || m[2] == "relay" {
			t.Errorf("%s printed no direct route:\n%s", name, out)
		}
		if !strings.Contains(out, "OK: ") {
			t.Errorf("%s did not report success:\n%s", name, out)
		}
	}
	if !strings.Contains(lout.String(), "reason 1000") {
		t.Errorf("listen did not see the close with reason 1000:\n%s", lout.String())
	}
}

// TestP2PConnectNobodyThere: with nobody listening the connect side fails
// with exit status 1 and says it timed out.
func TestP2PConnectNobodyThere(t *testing.T) {
	srv, err := trivialtest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out, errOut syncBuffer
	code := runP2P(context.Background(), []string{"connect", "--identity", "str:lonely", "--signaling", srv.Addr(), "--timeout", "1s", "str:nobody"}, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "FAILED: the connection never got through: timed out") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

func TestP2PUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"dance"},
		{"listen"},
		{"listen", "--identity", "not an identity"},
		{"connect", "--identity", "str:a"},
		{"connect", "--identity", "str:a", "--vport", "70000", "str:b"},
		{"connect", "--identity", "str:a", "--relay-only", "str:b"},
		{"connect", "--identity", "str:a", "--ticks", "0", "str:b"},
		{"listen", "--identity", "str:a", "extra"},
	} {
		var out, errOut syncBuffer
		if code := runP2P(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
