package main

import (
	"context"
	"net"
	"path/filepath"
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
// machine: both must exit 0 and print a direct route. The connector's
// --signaling list starts with a dead server.
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
	// The connector is given a dead server first and moves on to the live one.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	ccode := runP2P(ctx, []string{"connect", "--identity", "str:peer_client", "--signaling", dead.Addr().String() + "," + addr, "--vport", "3", "--ticks", "30", "str:peer_server"}, &cout, &cerr)
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
		{"listen", "--identity", "str:a", "--signaling", "127.0.0.1:10000,"},
	} {
		var out, errOut syncBuffer
		if code := runP2P(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestP2PCertificates: with --trust on both sides, peers holding
// certificates of that CA connect, the identity coming from --cert; a peer
// without one is refused.
func TestP2PCertificates(t *testing.T) {
	if !hasLANAddress() {
		t.Skip("no non-loopback address to run ICE on")
	}
	dir := t.TempDir()
	var out, errOut syncBuffer
	if code := runCA([]string{"init", "--out", dir}, &out, &errOut); code != 0 {
		t.Fatalf("ca init: %d %s", code, errOut.String())
	}
	for _, name := range []string{"alice", "bob"} {
		file := filepath.Join(dir, name+".cred")
		if code := runCA([]string{"issue", "--ca", dir, "--identity", "str:" + name, "--out", file}, &out, &errOut); code != 0 {
			t.Fatalf("ca issue: %d %s", code, errOut.String())
		}
	}
	trust := filepath.Join(dir, "ca.pub")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := signaling.New(signaling.Config{})
	go srv.Serve(ln)
	defer srv.Close()
	sig := ln.Addr().String()

	if code := runP2P(context.Background(), []string{"connect", "--identity", "str:carol", "--cert", filepath.Join(dir, "bob.cred"), "--signaling", sig, "str:alice"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "certificate's identity") {
		t.Fatalf("--identity other than the certificate's: exit %d, %q", code, errOut.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var lout, lerr syncBuffer
	lcode := make(chan int, 1)
	go func() {
		lcode <- runP2P(ctx, []string{"listen", "--once", "--cert", filepath.Join(dir, "alice.cred"), "--trust", trust, "--signaling", sig}, &lout, &lerr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().RegisteredPeers < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	var cout, cerr syncBuffer
	if code := runP2P(ctx, []string{"connect", "--identity", "str:mallory", "--ticks", "5", "--timeout", "2s", "--signaling", sig, "str:alice"}, &cout, &cerr); code != 1 {
		t.Fatalf("a peer without a certificate: exit %d\n%s%s", code, cout.String(), cerr.String())
	}
	if !strings.Contains(cout.String(), "reason 4003") {
		t.Fatalf("a peer without a certificate was not refused with 4003:\n%s%s", cout.String(), cerr.String())
	}
	var bout, berr syncBuffer
	if code := runP2P(ctx, []string{"connect", "--cert", filepath.Join(dir, "bob.cred"), "--trust", trust, "--ticks", "10", "--signaling", sig, "str:alice"}, &bout, &berr); code != 0 {
		t.Fatalf("a certified peer: exit %d\n%s%s", code, bout.String(), berr.String())
	}
	select {
	case code := <-lcode:
		if code != 0 {
			t.Fatalf("listen: exit %d\n%s%s", code, lout.String(), lerr.String())
		}
	case <-ctx.Done():
		t.Fatal("listen --once did not exit")
	}
}
