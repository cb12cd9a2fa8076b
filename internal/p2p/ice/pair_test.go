package ice

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// signalBox stands in for the rendezvous channel in one direction: it
// buffers candidate lines until the receiving session exists, as reliable
// signalling delivers them in order, possibly late.
type signalBox struct {
	mu      sync.Mutex
	to      *Session
	pending []string
	lines   []string
	errs    []error
}

func (b *signalBox) send(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if b.to == nil {
		b.pending = append(b.pending, line)
		return
	}
	if err := b.to.AddRemoteCandidate(line); err != nil {
		b.errs = append(b.errs, err)
	}
}

func (b *signalBox) attach(s *Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.to = s
	for _, line := range b.pending {
		if err := s.AddRemoteCandidate(line); err != nil {
			b.errs = append(b.errs, err)
		}
	}
	b.pending = nil
}

func (b *signalBox) sent() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// peer is one side of a test connection: its session and what it observed.
type peer struct {
	name    string
	s       *Session
	box     *signalBox // its outgoing candidates
	routes  chan Route
	recv    chan []byte
	failed  chan error
	connID  uint32
	started bool
}

func newPeer(t *testing.T, name string, cfg Config, connID uint32) *peer {
	t.Helper()
	p := &peer{
		name:   name,
		box:    &signalBox{},
		routes: make(chan Route, 16),
		recv:   make(chan []byte, 256),
		failed: make(chan error, 1),
		connID: connID,
	}
	cfg.LocalConnectionID = connID
	cfg.OnCandidate = p.box.send
	cfg.OnRoute = func(r Route) { p.routes <- r }
	cfg.OnReceive = func(b []byte) {
		select {
		case p.recv <- bytes.Clone(b):
		default:
		}
	}
	cfg.OnFailed = func(err error) { p.failed <- err }
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatalf("%s: NewSession: %v", name, err)
	}
	p.s = s
	t.Cleanup(func() { s.Close() })
	return p
}

// connectPeers wires an acceptor (controlling, as GNS assigns) and an
// initiator through in-memory signalling and starts checks on both.
func connectPeers(t *testing.T, acceptor, initiator Config) (a, b *peer) {
	t.Helper()
	acceptor.Controlling, initiator.Controlling = true, false
	a = newPeer(t, "acceptor", acceptor, 0x0a11ce01)
	b = newPeer(t, "initiator", initiator, 0x0b0b0b02)
	a.box.attach(b.s)
	b.box.attach(a.s)
	// The password travels as reliable message #1; the ufrag comes from the
	// connection ID in every signal's from_connection_id.
	if err := b.s.SetRemoteCredentials(a.connID, a.s.LocalPassword()); err != nil {
		t.Fatal(err)
	}
	if err := a.s.SetRemoteCredentials(b.connID, b.s.LocalPassword()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// waitRoute returns the first route p selects, or fails after d.
func (p *peer) waitRoute(t *testing.T, d time.Duration) Route {
	t.Helper()
	select {
	case r := <-p.routes:
		return r
	case err := <-p.failed:
		t.Fatalf("%s failed: %v", p.name, err)
	case <-time.After(d):
		t.Fatalf("%s: no route after %v (sent candidates %q)", p.name, d, p.box.sent())
	}
	return Route{}
}

// waitKind returns the first route of kind want that p selects, or fails
// after d showing the last route seen.
func (p *peer) waitKind(t *testing.T, want RouteKind, d time.Duration) Route {
	t.Helper()
	deadline := time.After(d)
	var last Route
	for {
		select {
		case r := <-p.routes:
			if r.Kind == want {
				return r
			}
			last = r
		case err := <-p.failed:
			t.Fatalf("%s failed: %v", p.name, err)
		case <-deadline:
			t.Fatalf("%s: no %v route after %v (last %+v, sent candidates %q)", p.name, want, d, last, p.box.sent())
		}
	}
}

// exchange sends datagrams both ways over the selected routes and checks
// they arrive intact.
func exchange(t *testing.T, a, b *peer) {
	t.Helper()
	for i := 0; i < 5; i++ {
		msgA := []byte(fmt.Sprintf("\x80a->b %d", i)) // SNP data packets lead with 0x80
		msgB := []byte(fmt.Sprintf("\x80b->a %d", i))
		if err := a.s.Send(msgA); err != nil {
			t.Fatalf("acceptor send: %v", err)
		}
		if err := b.s.Send(msgB); err != nil {
			t.Fatalf("initiator send: %v", err)
		}
		expect(t, b, msgA)
		expect(t, a, msgB)
	}
}

func expect(t *testing.T, p *peer, want []byte) {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case got := <-p.recv:
			if bytes.Equal(got, want) {
				return
			}
		case <-deadline:
			t.Fatalf("%s never received %q", p.name, want)
		}
	}
}

func TestSendBeforeRoute(t *testing.T) {
	p := newPeer(t, "lonely", Config{Loopback: true, AddrFilter: isLoopback4}, 7)
	if err := p.s.Send([]byte{0x80}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("Send before a route: %v, want ErrNoRoute", err)
	}
	if err := p.s.SetRemoteCredentials(8, ""); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("empty password: %v", err)
	}
	if err := p.s.SetRemoteCredentials(8, strings.Repeat("p", 257)); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("oversized password: %v", err)
	}
	if err := p.s.AddRemoteCandidate("candidate:1 0 udp 1 127.0.0.1 9 typ host"); err != nil {
		t.Fatalf("loopback candidate with Loopback set: %v", err)
	}
	p.s.Close()
	if err := p.s.AddRemoteCandidate("candidate:2 0 udp 1 127.0.0.1 10 typ host"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestNotEnabled(t *testing.T) {
	// Relay only without a TURN server leaves nothing to gather (GNS: 3998).
	if _, err := NewSession(Config{Enable: EnableRelay}); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("relay only, no TURN: %v", err)
	}
	// Credentials-less TURN servers are not usable by pion.
	cfg := Config{Enable: EnableRelay, TURNServers: []TURNServer{{Addr: "10.0.0.1:3478"}}}
	if _, err := NewSession(cfg); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("relay only, TURN without credentials: %v", err)
	}
}

func TestRemoteCandidateLimits(t *testing.T) {
	p := newPeer(t, "p", Config{Loopback: true, AddrFilter: isLoopback4}, 9)
	q := newPeer(t, "q", Config{AddrFilter: isLoopback4}, 10)
	if err := q.s.AddRemoteCandidate("candidate:1 0 udp 1 127.0.0.1 9 typ host"); !errors.Is(err, ErrLoopback) {
		t.Fatalf("loopback candidate without Loopback: %v", err)
	}
	var err error
	for i := 0; i < maxRemoteCandidates+5 && err == nil; i++ {
		err = p.s.AddRemoteCandidate(fmt.Sprintf("candidate:1 0 udp 1 10.0.%d.%d 9 typ host", i/200, i%200+1))
	}
	if !errors.Is(err, ErrTooManyCandidates) {
		t.Fatalf("flood: %v", err)
	}
	// A repeat of a known candidate is still a harmless no-op.
	if err := p.s.AddRemoteCandidate("candidate:1 0 udp 1 10.0.0.1 9 typ host"); err != nil {
		t.Fatalf("repeat: %v", err)
	}
}
