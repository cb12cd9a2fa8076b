// Package systest checks that a system driver speaks the bench protocol
// correctly, at a tiny size, so every driver is held to the same contract.
package systest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/harness"
	"github.com/mistnet/mist/bench/internal/system"
)

// Expect describes what the driver under test guarantees.
type Expect struct {
	// Reliable is false for raw UDP: bulk messages are split into
	// datagrams and the sink counts those instead.
	Reliable bool
	// Swarm is the DialMany size to try; 0 skips it.
	Swarm int
}

const timeout = 20 * time.Second

// Exercise runs the driver through every operation the scenarios use.
func Exercise(t *testing.T, sys system.System, want Expect) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv, err := sys.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	}()
	dctx, dcancel := context.WithTimeout(ctx, timeout)
	c, err := sys.Dial(dctx, srv.Addr())
	dcancel()
	if err != nil {
		t.Fatalf("Dial %s: %v", srv.Addr(), err)
	}
	defer c.Close()

	t.Run("echo", func(t *testing.T) {
		msg := bytes.Repeat([]byte{benchproto.OpEcho, 7}, harness.LatencyMessage/2)
		for i := range 20 {
			msg[1] = byte(i)
			if err := c.Send(msg, system.Reliable|system.NoDelay); err != nil {
				t.Fatalf("Send: %v", err)
			}
			buf := make([]byte, 100)
			rctx, rcancel := context.WithTimeout(ctx, timeout)
			n, err := c.Recv(rctx, buf)
			rcancel()
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if !bytes.Equal(buf[:n], msg) {
				t.Fatalf("echo %d = % x, want % x", i, buf[:n], msg)
			}
		}
	})

	t.Run("recv timeout", func(t *testing.T) {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer rcancel()
		if n, err := c.Recv(rctx, make([]byte, 100)); err == nil {
			t.Fatalf("Recv with nothing sent returned %d bytes", n)
		}
		// The expired wait must not leak into later receives.
		time.Sleep(20 * time.Millisecond)
	})

	t.Run("poll", func(t *testing.T) {
		msg := []byte{benchproto.OpEcho, 'p', 'o', 'l', 'l'}
		buf := make([]byte, 100)
		if _, _, err := c.Poll(buf); errors.Is(err, system.ErrNotSupported) {
			t.Skip("driver has no busy-poll receive")
		}
		if err := c.Send(msg, system.Reliable|system.NoDelay); err != nil {
			t.Fatalf("Send: %v", err)
		}
		deadline := time.Now().Add(timeout)
		for {
			n, ok, err := c.Poll(buf)
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			if ok {
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("polled % x, want % x", buf[:n], msg)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("no echo polled before timeout")
			}
		}
	})

	t.Run("sink", func(t *testing.T) {
		before, err := harness.Query(ctx, c, timeout)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		bulk := make([]byte, harness.ThroughputMessage)
		bulk[0] = benchproto.OpSink
		const count = 3
		for range count {
			if err := c.Send(bulk, system.Reliable); err != nil {
				t.Fatalf("Send bulk: %v", err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		after, err := harness.Query(ctx, c, timeout)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		got := benchproto.Counters{Bytes: after.Bytes - before.Bytes, Messages: after.Messages - before.Messages}
		if want.Reliable {
			if got != (benchproto.Counters{Bytes: count * harness.ThroughputMessage, Messages: count}) {
				t.Fatalf("sink counted %+v, want %d messages of %d bytes", got, count, harness.ThroughputMessage)
			}
		} else if got.Bytes == 0 || got.Bytes > count*2*harness.ThroughputMessage {
			t.Fatalf("sink counted %+v for %d bulk messages", got, count)
		}
	})

	t.Run("unreliable", func(t *testing.T) {
		before, err := harness.Query(ctx, c, timeout)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		msg := make([]byte, harness.RateMessage)
		msg[0] = benchproto.OpSink
		const count = 50
		for range count {
			if err := c.Send(msg, 0); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		// Unreliable messages may trail the query; wait until they land.
		var got uint64
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			after, err := harness.Query(ctx, c, timeout)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			got = after.Messages - before.Messages
			if got >= count {
				break
			}
		}
		if got == 0 || got > count {
			t.Fatalf("sink counted %d of %d unreliable messages", got, count)
		}
		if got < count {
			t.Logf("%d of %d unreliable messages delivered", got, count)
		}
	})

	t.Run("server counts", func(t *testing.T) {
		if !eventually(func() bool { return srv.Conns() == 1 }) {
			t.Fatalf("server holds %d connections, want 1", srv.Conns())
		}
	})

	if want.Swarm == 0 {
		return
	}
	t.Run("swarm", func(t *testing.T) {
		sctx, scancel := context.WithTimeout(ctx, timeout)
		defer scancel()
		progressed := 0
		sw, err := sys.DialMany(sctx, srv.Addr(), want.Swarm, func(n int) { progressed = max(progressed, n) })
		if err != nil {
			t.Fatalf("DialMany(%d): %v", want.Swarm, err)
		}
		if sw.Connected() != want.Swarm {
			t.Errorf("swarm reports %d connected, want %d", sw.Connected(), want.Swarm)
		}
		if progressed != want.Swarm {
			t.Errorf("progress reached %d, want %d", progressed, want.Swarm)
		}
		if !eventually(func() bool { return srv.Conns() == want.Swarm+1 }) {
			t.Errorf("server holds %d connections, want %d", srv.Conns(), want.Swarm+1)
		}
		if err := sw.Close(); err != nil {
			t.Errorf("swarm Close: %v", err)
		}
	})
}

func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
