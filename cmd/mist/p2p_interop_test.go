package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/trivial/trivialtest"
)

// gnsTestP2PEnv names a GameNetworkingSockets test_p2p binary. When it is
// set, the interop tests run mist p2p against it in both roles through a
// signaling server in the test (the binary's libraries must be found, e.g.
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
	srv, err := trivialtest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Run("GNS listener, mist client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		gns := runGNSTestP2P(t, ctx, "--server", "--identity-local", "str:peer_server", "--signaling-server", srv.Addr())
		for deadline := time.Now().Add(10 * time.Second); !srv.Registered("str:peer_server") && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		var out, errOut syncBuffer
		code := runP2P(ctx, []string{"connect", "--identity", "str:peer_client", "--signaling", srv.Addr(), "str:peer_server"}, &out, &errOut)
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
			code <- runP2P(ctx, []string{"listen", "--once", "--identity", "str:peer_server", "--signaling", srv.Addr()}, &out, &errOut)
		}()
		for deadline := time.Now().Add(10 * time.Second); !srv.Registered("str:peer_server") && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		r := <-runGNSTestP2P(t, ctx, "--client", "--identity-local", "str:peer_client", "--identity-remote", "str:peer_server", "--signaling-server", srv.Addr())
		c := <-code
		if c != 0 || r.code != 0 || !testRoute.MatchString(out.String()) {
			t.Fatalf("mist exit %d, GNS exit %d\nmist:\n%s%s\nGNS:\n%s", c, r.code, out.String(), errOut.String(), r.out)
		}
	})
}
