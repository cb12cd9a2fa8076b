package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mistnet/mist/service/signaling"
)

// gnsTestP2PEnv names a GameNetworkingSockets test_p2p binary. When it is
// set, the interop tests run mist p2p against it in both roles through
// mist's signaling server (the binary's libraries must be found, e.g.
// through LD_LIBRARY_PATH).
const gnsTestP2PEnv = "MIST_GNS_TEST_P2P"

// runGNSTestP2P starts test_p2p with args and returns a channel with its
// exit status and output. A dead STUN server keeps it off the Internet.
func runGNSTestP2P(t *testing.T, ctx context.Context, args ...string) <-chan gnsResult {
	t.Helper()
	path := os.Getenv(gnsTestP2PEnv)
	args = append(args, "--stun-server", "127.0.0.1:9")
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	done := make(chan gnsResult, 1)
	go func() {
		cmd.Wait()
		done <- gnsResult{code: cmd.ProcessState.ExitCode(), out: out.String()}
	}()
	return done
}

type gnsResult struct {
	code int
	out  string
}

func TestP2PInteropGNS(t *testing.T) {
	if os.Getenv(gnsTestP2PEnv) == "" {
		t.Skipf("set %s to a GNS test_p2p binary to run mist p2p against it", gnsTestP2PEnv)
	}
	// mist's own signaling server (mist signal) between the two.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := signaling.New(signaling.Config{})
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	registered := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); srv.Stats().RegisteredPeers < n && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Run("GNS listener, mist client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		gns := runGNSTestP2P(t, ctx, "--server", "--identity-local", "str:peer_server", "--signaling-server", addr)
		registered(1)
		var out, errOut syncBuffer
		code := runP2P(ctx, []string{"connect", "--identity", "str:peer_client", "--signaling", addr, "str:peer_server"}, &out, &errOut)
		r := <-gns
		if code != 0 || r.code != 0 || !testRoute.MatchString(r.out) {
			t.Fatalf("mist exit %d, GNS exit %d\nmist:\n%s%s\nGNS:\n%s", code, r.code, out.String(), errOut.String(), r.out)
		}
	})
	t.Run("mist listener, GNS client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		var out, errOut syncBuffer
		code := make(chan int, 1)
		go func() {
			code <- runP2P(ctx, []string{"listen", "--once", "--identity", "str:peer_server", "--signaling", addr}, &out, &errOut)
		}()
		registered(1)
		r := <-runGNSTestP2P(t, ctx, "--client", "--identity-local", "str:peer_client", "--identity-remote", "str:peer_server", "--signaling-server", addr)
		c := <-code
		if c != 0 || r.code != 0 || !testRoute.MatchString(out.String()) {
			t.Fatalf("mist exit %d, GNS exit %d\nmist:\n%s%s\nGNS:\n%s", c, r.code, out.String(), errOut.String(), r.out)
		}
	})
	t.Run("two GNS peers through mist's signaling server", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		before := srv.Stats().RegisteredPeers
		server := runGNSTestP2P(t, ctx, "--server", "--identity-local", "str:peer_server", "--signaling-server", addr)
		registered(before + 1)
		c := <-runGNSTestP2P(t, ctx, "--client", "--identity-local", "str:peer_client", "--identity-remote", "str:peer_server", "--signaling-server", addr)
		sv := <-server
		if c.code != 0 || sv.code != 0 {
			t.Fatalf("GNS client exit %d, server exit %d\nclient:\n%s\nserver:\n%s", c.code, sv.code, c.out, sv.out)
		}
	})
}
