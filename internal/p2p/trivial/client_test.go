package trivial

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/signaling"
)

// testServer is a minimal trivial signaling server for these tests only:
// first line registers, later lines are forwarded with the sender's
// registered identity in front. The real server lives elsewhere.
type testServer struct {
	ln    net.Listener
	mu    sync.Mutex
	peers map[string]net.Conn
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startServer(t *testing.T, addr string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, peers: map[string]net.Conn{}, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go s.handle(c)
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) handle(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	id, err := r.ReadString('\n')
	id = strings.TrimSpace(id)
	if err != nil || id == "" {
		return
	}
	s.mu.Lock()
	if old := s.peers[id]; old != nil {
		old.Close()
	}
	s.peers[id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.peers[id] == c {
			delete(s.peers, id)
		}
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		dest, payload, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		s.mu.Lock()
		if d := s.peers[strings.TrimSpace(dest)]; d != nil {
			d.Write([]byte(id + " " + payload))
		}
		s.mu.Unlock()
	}
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

// dropAll closes every client connection (the clients must reconnect).
func (s *testServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// rawTo writes raw bytes to a registered client.
func (s *testServer) rawTo(id string, b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.peers[id]
	if c == nil {
		return false
	}
	c.Write(b)
	return true
}

func (s *testServer) registered(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[id] != nil
}

func (s *testServer) stop() {
	s.ln.Close()
	s.dropAll()
	s.wg.Wait()
}

type received struct {
	from string
	blob []byte
}

func newClient(t *testing.T, addr, id string) (*Client, chan received) {
	t.Helper()
	ch := make(chan received, 100)
	c, err := New(addr, id, func(from string, blob []byte, _ signaling.RecvContext) {
		ch <- received{from, blob}
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ch
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expect(t *testing.T, ch chan received, from string, blob []byte) {
	t.Helper()
	select {
	case r := <-ch:
		if r.from != from || !bytes.Equal(r.blob, blob) {
			t.Fatalf("received %q %x, want %q %x", r.from, r.blob, from, blob)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received, want %x", blob)
	}
}

func TestClientExchange(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	alice, _ := newClient(t, srv.addr(), "str:alice")
	_, bobCh := newClient(t, srv.addr(), "str:bob")
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") && srv.registered("str:bob") })
	blob := []byte{0x0d, 0x44, 0x33, 0x22, 0x11, 0x00, 0xff}
	sig := alice.Signaling("str:bob")
	if !sig.SendSignal(signaling.Header{}, blob) {
		t.Fatal("SendSignal refused")
	}
	expect(t, bobCh, "str:alice", blob)
	if err := alice.Send("str:has space", blob); !errors.Is(err, ErrIdentity) {
		t.Fatalf("identity with a space: %v", err)
	}
}

func TestClientReconnects(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	alice, _ := newClient(t, srv.addr(), "str:alice")
	_, bobCh := newClient(t, srv.addr(), "str:bob")
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") && srv.registered("str:bob") })

	srv.dropAll()
	waitFor(t, "reconnection", func() bool {
		return alice.Stats().Connects >= 2 && srv.registered("str:alice") && srv.registered("str:bob")
	})
	alice.Send("str:bob", []byte("after"))
	expect(t, bobCh, "str:alice", []byte("after"))
}

func TestClientQueuesWhileServerIsDown(t *testing.T) {
	// Reserve an address, then start the server on it only later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	alice, _ := newClient(t, addr, "str:alice")
	for i := range 100 {
		alice.Send("str:bob", []byte{byte(i)})
	}
	if d := alice.Stats().Dropped; d != 100-MaxQueue {
		t.Fatalf("dropped %d, want %d", d, 100-MaxQueue)
	}
	srv := startServer(t, addr)
	_, bobCh := newClient(t, addr, "str:bob")
	waitFor(t, "bob", func() bool { return srv.registered("str:bob") })
	// Alice may have delivered part of the queue before bob registered;
	// what bob gets is the newest lines, in order, ending with 99.
	waitFor(t, "alice", func() bool { return alice.Stats().Sent >= MaxQueue })
	alice.Send("str:bob", []byte{100})
	last := -1
	for {
		r := <-bobCh
		if int(r.blob[0]) <= last || int(r.blob[0]) < 100-MaxQueue {
			t.Fatalf("got %d after %d", r.blob[0], last)
		}
		last = int(r.blob[0])
		if last == 100 {
			break
		}
	}
}

func TestClientSurvivesBadLines(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	alice, ch := newClient(t, srv.addr(), "str:alice")
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") })
	huge := bytes.Repeat([]byte("ab"), 3*MaxLineLength)
	var junk bytes.Buffer
	junk.WriteString("no-space-here\n")
	junk.WriteString("str:x zz\n")
	junk.WriteString("str:x ")
	junk.Write(huge)
	junk.WriteString("\n")
	junk.WriteString("str:bob 0a0b\r\n")
	srv.rawTo("str:alice", junk.Bytes())
	expect(t, ch, "str:bob", []byte{0x0a, 0x0b})
	if s := alice.Stats(); s.BadLines != 3 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientCloseStops(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	c, _ := newClient(t, srv.addr(), "str:alice")
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") })
	c.Close()
	waitFor(t, "unregistration", func() bool { return !srv.registered("str:alice") })
	if err := c.Send("str:bob", nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestServerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"example.org": "example.org:10000", "10.0.0.1:9": "10.0.0.1:9", "[::1]:5": "[::1]:5", "::1": "[::1]:10000",
	} {
		if got, err := ServerAddr(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":5", "h:99999", "h:x"} {
		if _, err := ServerAddr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		from string
		blob []byte
		err  error
	}{
		{"str:a 0d44", "str:a", []byte{0x0d, 0x44}, nil},
		{"str:a 0D4", "str:a", []byte{0x0d}, nil}, // upper case; odd nibble ignored
		{"str:a ", "str:a", []byte{}, nil},
		{"str:a 0d\r", "str:a", []byte{0x0d}, nil},
		{"str:a0d44", "", nil, ErrLine},
		{" 0d44", "", nil, ErrLine},
		{"str:a 0g", "", nil, ErrLine},
		{"str:a 0d 44", "", nil, ErrLine},
		{strings.Repeat("a", MaxLineLength), "", nil, ErrLineTooLong},
	} {
		from, blob, err := ParseLine([]byte(tc.in))
		if !errors.Is(err, tc.err) || from != tc.from || (err == nil && !bytes.Equal(blob, tc.blob)) {
			t.Errorf("%.20q: %q %x %v", tc.in, from, blob, err)
		}
	}
	line, err := AppendLine(nil, "str:peer_server", []byte{0x0d, 0x44, 0x33})
	if err != nil || string(line) != "str:peer_server 0d4433\n" {
		t.Fatalf("AppendLine: %q %v", line, err)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte("str:peer_client 0d4433"))
	f.Add([]byte("steamid:76561198000000001 0d44332211380142057374723a624d887766555803\r"))
	f.Add([]byte("x 0"))
	f.Fuzz(func(t *testing.T, line []byte) {
		from, blob, err := ParseLine(line)
		if err != nil {
			return
		}
		if checkIdentity(from) != nil {
			return // the server named a sender we could not address; still parsed
		}
		again, err := AppendLine(nil, from, blob)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		from2, blob2, err := ParseLine(again[:len(again)-1])
		if err != nil || from2 != from || !bytes.Equal(blob, blob2) {
			t.Fatalf("round trip: %q %x -> %q -> %q %x %v", from, blob, again, from2, blob2, err)
		}
	})
}

func ExampleAppendLine() {
	line, _ := AppendLine(nil, "str:peer_server", []byte{0x0d, 0x44, 0x33})
	fmt.Printf("%q\n", line)
	// Output: "str:peer_server 0d4433\n"
}

func TestServerAddrs(t *testing.T) {
	got, err := ServerAddrs("127.0.0.1:1, example.org ,[::1]:2")
	want := []string{"127.0.0.1:1", "example.org:10000", "[::1]:2"}
	if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ServerAddrs = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "a,,b", "a:1,", "a:99999,b", "[", "a,]"} {
		if got, err := ServerAddrs(bad); err == nil {
			t.Errorf("ServerAddrs(%q) = %q, want an error", bad, got)
		}
	}
}

func TestClientFailsOverToNextServer(t *testing.T) {
	first := startServer(t, "127.0.0.1:0")
	second := startServer(t, "127.0.0.1:0")
	list := first.addr() + "," + second.addr()

	// Alice may reach the second server only once the test allows it, so
	// her signal is certainly queued while she switches.
	open := make(chan struct{})
	d := &net.Dialer{}
	ch := make(chan received, 100)
	alice, err := New(list, "str:alice", func(from string, blob []byte, _ signaling.RecvContext) {
		ch <- received{from, blob}
	}, Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == second.addr() {
			select {
			case <-open:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return d.DialContext(ctx, network, addr)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alice.Close() })
	bob, bobCh := newClient(t, list, "str:bob")
	waitFor(t, "registration at the first server", func() bool {
		return first.registered("str:alice") && first.registered("str:bob")
	})
	if alice.Server() != first.addr() || bob.Server() != first.addr() {
		t.Fatalf("servers %q %q, want %q", alice.Server(), bob.Server(), first.addr())
	}
	alice.Send("str:bob", []byte("before"))
	expect(t, bobCh, "str:alice", []byte("before"))

	first.stop()
	waitFor(t, "bob at the second server", func() bool { return second.registered("str:bob") })
	waitFor(t, "alice disconnected", func() bool { return alice.Server() == "" })
	alice.Send("str:bob", []byte("queued while switching"))
	close(open)
	waitFor(t, "alice at the second server", func() bool { return second.registered("str:alice") })
	expect(t, bobCh, "str:alice", []byte("queued while switching"))
	bob.Send("str:alice", []byte("back"))
	expect(t, ch, "str:bob", []byte("back"))
	if alice.Server() != second.addr() {
		t.Fatalf("alice at %q, want %q", alice.Server(), second.addr())
	}
}

func TestClientSkipsUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	srv := startServer(t, "127.0.0.1:0")
	alice, _ := newClient(t, dead+","+srv.addr(), "str:alice")
	_, bobCh := newClient(t, srv.addr()+","+dead, "str:bob")
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") && srv.registered("str:bob") })
	alice.Send("str:bob", []byte("hi"))
	expect(t, bobCh, "str:alice", []byte("hi"))
}

func TestClientGoesRoundTheList(t *testing.T) {
	first := startServer(t, "127.0.0.1:0")
	second := startServer(t, "127.0.0.1:0")
	list := first.addr() + "," + second.addr()
	alice, _ := newClient(t, list, "str:alice")
	waitFor(t, "alice at the first server", func() bool { return alice.Server() == first.addr() })
	first.dropAll() // the first server stays up but loses alice
	waitFor(t, "alice at the second server", func() bool { return alice.Server() == second.addr() })
	_, bobCh := newClient(t, first.addr(), "str:bob")
	second.stop()
	waitFor(t, "alice back at the first server", func() bool { return first.registered("str:alice") && first.registered("str:bob") })
	alice.Send("str:bob", []byte("round"))
	expect(t, bobCh, "str:alice", []byte("round"))
}

func FuzzServerAddrs(f *testing.F) {
	for _, s := range []string{"127.0.0.1:10000", "a:1,b:2", "example.org, [::1]:3", "a,,b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		addrs, err := ServerAddrs(list)
		if err != nil {
			return
		}
		if len(addrs) != strings.Count(list, ",")+1 {
			t.Fatalf("%q gave %d addresses", list, len(addrs))
		}
		for _, a := range addrs {
			if again, err := ServerAddr(a); err != nil || again != a {
				t.Fatalf("%q from %q does not parse back: %q, %v", a, list, again, err)
			}
		}
	})
}
