package signaling

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServer runs a server on a loopback port.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, ln.Addr().String()
}

type testClient struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dial(t testing.TB, addr string) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &testClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// register dials and greets as GNS's trivial client does.
func register(t testing.TB, addr, identity string) *testClient {
	c := dial(t, addr)
	c.send(identity + "\n")
	return c
}

func (c *testClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// line reads one line within d.
func (c *testClient) line(d time.Duration) (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.r.ReadString('\n')
}

func (c *testClient) expect(want string) {
	c.t.Helper()
	got, err := c.line(5 * time.Second)
	if err != nil || got != want {
		c.t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

func (c *testClient) expectNothing(d time.Duration) {
	c.t.Helper()
	if got, err := c.line(d); err == nil {
		c.t.Fatalf("unexpected line %q", got)
	}
}

// expectClosed waits for the server to close the connection, returning
// what it wrote before.
func (c *testClient) expectClosed() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.r)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open")
		}
	}
	return string(b)
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func waitRegistered(t testing.TB, s *Server, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d registered peers", n), func() bool { return s.Stats().RegisteredPeers == n })
}

func TestTwoClientsExchangeSignals(t *testing.T) {
	s, addr := startServer(t, Config{})
	alice := register(t, addr, "str:alice")
	bob := register(t, addr, "  str:bob \r") // trimmed, as GNS's server does
	waitRegistered(t, s, 2)

	alice.send("str:bob 0d4433ff\n")
	bob.expect("str:alice 0d4433ff\n")
	bob.send("str:alice 0a0b\n")
	alice.expect("str:bob 0a0b\n")
	// The payload is forwarded byte for byte: inner spaces and a CR stay.
	alice.send("str:bob  two words\r\n")
	bob.expect("str:alice  two words\r\n")

	// Unknown destination, no space, empty destination: dropped, and
	// the connection goes on.
	alice.send("str:nobody 00\n")
	alice.send("garbage-without-space\n")
	alice.send(" \t x\n")
	alice.send("str:bob 01\n")
	bob.expect("str:alice 01\n")
	bob.expectNothing(50 * time.Millisecond)

	st := s.Stats()
	if st.SignalsForwarded != 4 || st.DroppedUnknownDest != 1 || st.IgnoredLines != 2 || st.Connections != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A client may signal itself, as with GNS's server.
	bob.send("str:bob ee\n")
	bob.expect("str:bob ee\n")
}

func TestSignalsPerSecond(t *testing.T) {
	now := time.Now().Add(time.Hour) // after the measurements waitRegistered makes
	s, addr := startServer(t, Config{})
	a := register(t, addr, "str:a")
	b := register(t, addr, "str:b")
	waitRegistered(t, s, 2)
	s.StatsAt(now) // starts the measuring interval
	for i := range 30 {
		a.send(fmt.Sprintf("str:b %02x\n", i))
		b.expect(fmt.Sprintf("str:a %02x\n", i))
	}
	if r := s.StatsAt(now.Add(2 * time.Second)).SignalsPerSecond; r != 15 {
		t.Fatalf("rate %v, want 15", r)
	}
}

func TestLastLoginWins(t *testing.T) {
	s, addr := startServer(t, Config{})
	alice := register(t, addr, "str:alice")
	bob1 := register(t, addr, "str:bob")
	waitRegistered(t, s, 2)
	bob2 := register(t, addr, "str:bob")
	if rest := bob1.expectClosed(); rest != "" {
		t.Fatalf("replaced connection got %q", rest)
	}
	waitFor(t, "the replacement", func() bool { return s.Stats().Replaced == 1 })
	// The replaced connection's end did not unregister its successor.
	alice.send("str:bob 42\n")
	bob2.expect("str:alice 42\n")
	if n := s.Stats().RegisteredPeers; n != 2 {
		t.Fatalf("%d registered", n)
	}
	bob2.nc.Close()
	waitRegistered(t, s, 1)
}

func TestEmptyIdentityCloses(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr)
	c.send(" \t\r\n")
	c.expectClosed()
}

func TestLongLineClosesOnlyItsConnection(t *testing.T) {
	s, addr := startServer(t, Config{MaxLineBytes: 1024})
	alice := register(t, addr, "str:alice")
	bob := register(t, addr, "str:bob")
	hostile := register(t, addr, "str:hostile")
	waitRegistered(t, s, 3)
	// Exactly the limit passes.
	alice.send("str:bob " + strings.Repeat("a", 1024-8) + "\n")
	bob.expect("str:alice " + strings.Repeat("a", 1024-8) + "\n")
	// Endless line without a terminator.
	go func() {
		chunk := bytes.Repeat([]byte("f"), 4096)
		for range 1000 {
			if _, err := hostile.nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	hostile.expectClosed()
	waitFor(t, "the too-long count", func() bool { return s.Stats().LinesTooLong == 1 })
	alice.send("str:bob still-here\n")
	bob.expect("str:alice still-here\n")
	waitRegistered(t, s, 2)
}

func TestSlowClientsAreCut(t *testing.T) {
	s, addr := startServer(t, Config{GreetingTimeout: 150 * time.Millisecond, LineTimeout: 150 * time.Millisecond})
	// No greeting at all.
	silent := dial(t, addr)
	// A greeting sent one byte at a time, too slowly.
	drip := dial(t, addr)
	go func() {
		for _, b := range []byte("str:drip") {
			if _, err := drip.nc.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	// A registered client that starts a line and never finishes it.
	alice := register(t, addr, "str:alice")
	stall := register(t, addr, "str:stall")
	waitRegistered(t, s, 2)
	stall.send("str:alice 0102")

	start := time.Now()
	silent.expectClosed()
	drip.expectClosed()
	stall.expectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("slow clients cut after %v", d)
	}
	// A registered client that is merely idle stays.
	time.Sleep(200 * time.Millisecond)
	bob := register(t, addr, "str:bob")
	waitRegistered(t, s, 2)
	bob.send("str:alice 99\n")
	alice.expect("str:bob 99\n")
	if st := s.Stats(); st.Timeouts != 3 {
		t.Fatalf("timeouts %d, want 3", st.Timeouts)
	}
}

func TestFloodIsThrottledAndDoesNotDisturbOthers(t *testing.T) {
	s, addr := startServer(t, Config{LinesPerSecond: 1000, LineBurst: 100, QueueBytes: 64 << 10})
	alice := register(t, addr, "str:alice")
	bob := register(t, addr, "str:bob")
	flooder := register(t, addr, "str:flooder")
	sink := register(t, addr, "str:sink") // never reads
	waitRegistered(t, s, 4)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		line := []byte("str:sink " + strings.Repeat("ab", 500) + "\n")
		batch := bytes.Repeat(line, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			flooder.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			flooder.nc.Write(batch)
		}
	}()
	// While the flood runs, alice and bob exchange signals promptly.
	var worst time.Duration
	for i := range 50 {
		start := time.Now()
		alice.send(fmt.Sprintf("str:bob %04x\n", i))
		bob.expect(fmt.Sprintf("str:alice %04x\n", i))
		worst = max(worst, time.Since(start))
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	st := s.Stats()
	t.Logf("worst round trip during the flood: %v; stats %+v", worst, st)
	if worst > time.Second {
		t.Fatalf("a signal took %v during the flood", worst)
	}
	if st.RateLimited == 0 {
		t.Fatal("the flood was never rate limited")
	}
	// The sink reads nothing: what does not fit its queue is dropped and
	// it is eventually disconnected, rather than memory growing.
	if st.DroppedQueueFull == 0 && st.Timeouts == 0 {
		t.Fatal("a non-reading destination neither dropped nor timed out")
	}
	_ = sink
}

func TestNonReadingDestinationIsDisconnected(t *testing.T) {
	s, addr := startServer(t, Config{WriteTimeout: 200 * time.Millisecond, QueueBytes: 1 << 20, LinesPerSecond: -1})
	sender := register(t, addr, "str:sender")
	sink := register(t, addr, "str:sink")
	waitRegistered(t, s, 2)
	// Enough to fill the socket buffers of both directions.
	line := "str:sink " + strings.Repeat("cd", 8000) + "\n"
	go func() {
		for range 2000 {
			if _, err := io.WriteString(sender.nc, line); err != nil {
				return
			}
		}
	}()
	waitFor(t, "the sink's disconnection", func() bool { return s.Stats().Timeouts >= 1 })
	waitRegistered(t, s, 1)
	if st := s.Stats(); st.DroppedQueueFull == 0 && st.DroppedUnknownDest == 0 {
		t.Fatalf("nothing was dropped: %+v", st)
	}
	_ = sink
}

func TestGarbageDoesNotBreakTheServer(t *testing.T) {
	s, addr := startServer(t, Config{MaxLineBytes: 4096})
	alice := register(t, addr, "str:alice")
	bob := register(t, addr, "str:bob")
	waitRegistered(t, s, 2)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		g := dial(t, addr)
		junk := make([]byte, 1+rng.IntN(3000))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			g.send("str:junk\n") // registered garbage
		}
		g.nc.Write(junk)
		g.nc.Close()
	}
	alice.send("str:bob fine\n")
	bob.expect("str:alice fine\n")
	waitFor(t, "garbage connections to end", func() bool { return s.Stats().Connections == 2 })
}

func TestConnectionCaps(t *testing.T) {
	s, addr := startServer(t, Config{MaxConnsPerIP: 2})
	register(t, addr, "str:a")
	register(t, addr, "str:b")
	waitRegistered(t, s, 2)
	third := register(t, addr, "str:c")
	third.expectClosed()
	if st := s.Stats(); st.RefusedConns != 1 || st.RegisteredPeers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	s, addr := startServer(t, Config{})
	a := register(t, addr, "str:a")
	half := dial(t, addr)
	half.send("str:half")
	waitRegistered(t, s, 1)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung")
	}
	a.expectClosed()
	half.expectClosed()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after Close")
	}
}
