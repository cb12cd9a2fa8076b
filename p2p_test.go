package mist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/trivial/trivialtest"
	"github.com/mistnet/mist/internal/pb"
	"google.golang.org/protobuf/proto"
)

// signalNet is in-process custom signaling between instances: every signal
// is delivered on the receiver's own goroutine (never under the sender's
// locks), after a random drop with probability loss.
type signalNet struct {
	mu    sync.Mutex
	peers map[string]*signalPeer
	loss  float64
	dup   float64
	rng   *rand.Rand
	sent  int
	lost  int
	// closed: the test is over; signals go nowhere.
	closed bool
}

type signalPeer struct {
	s  *Sockets
	ch chan []byte
}

func newSignalNet(loss float64) *signalNet {
	return &signalNet{peers: map[string]*signalPeer{}, loss: loss, rng: rand.New(rand.NewPCG(1, 2))}
}

// join registers s and starts delivering its signals.
func (n *signalNet) join(t testing.TB, s *Sockets) {
	id, _ := s.Identity()
	p := &signalPeer{s: s, ch: make(chan []byte, 1024)}
	n.mu.Lock()
	n.peers[id.String()] = p
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for blob := range p.ch {
			s.ReceivedP2PCustomSignal(blob, netContext{n})
		}
	}()
	t.Cleanup(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(p.ch)
		<-done
	})
}

func (n *signalNet) send(to string, blob []byte) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return true
	}
	n.sent++
	if n.rng.Float64() < n.loss {
		n.lost++
		return true
	}
	p := n.peers[to]
	if p == nil {
		return true
	}
	copies := 1
	if n.rng.Float64() < n.dup {
		copies = 2
	}
	for range copies {
		select {
		case p.ch <- append([]byte(nil), blob...):
		default:
		}
	}
	return true
}

// signaling returns a connection's signaling to the identity to.
func (n *signalNet) signaling(to string) ConnectionSignaling {
	return SignalingFuncs{OnSend: func(h SignalingHeader, blob []byte) bool { return n.send(to, blob) }}
}

type netContext struct{ n *signalNet }

func (c netContext) OnConnectRequest(conn uint32, peer string, port int) ConnectionSignaling {
	return c.n.signaling(peer)
}

func (c netContext) SendRejectionSignal(peer string, blob []byte) { c.n.send(peer, blob) }

// newP2PSockets makes an instance for P2P tests whose ICE uses loopback
// host candidates only.
func newP2PSockets(t testing.TB, name string, cfg Config) *Sockets {
	t.Helper()
	id, ok := GenericStringIdentity(name)
	if !ok {
		t.Fatal("bad identity", name)
	}
	cfg.Identity = id
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.p2p.iceLoopback = true
	t.Cleanup(func() { s.Close() })
	return s
}

// p2pPeers is a listener and a connector with their connection handles.
type p2pPeers struct {
	lis, con   *Sockets
	ls         ListenSocket
	lconn      Conn
	cconn      Conn
	lisEvents  []ConnStatusChanged
	conEvents  []ConnStatusChanged
	eventsLock sync.Mutex
}

// accept accepts every connection on the listener and records events.
func (p *p2pPeers) watch() {
	p.lis.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		p.eventsLock.Lock()
		p.lisEvents = append(p.lisEvents, *ev)
		p.eventsLock.Unlock()
		if ev.Info.State == StateConnecting && ev.Info.ListenSocket == p.ls {
			p.lconn = ev.Conn
			p.lis.AcceptConnection(ev.Conn)
		}
	})
	p.con.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		p.eventsLock.Lock()
		p.conEvents = append(p.conEvents, *ev)
		p.eventsLock.Unlock()
	})
}

func (p *p2pPeers) state(s *Sockets, h Conn) ConnState {
	info, ok := s.ConnectionInfo(h)
	if !ok {
		return StateNone
	}
	return info.State
}

func (p *p2pPeers) waitConnected(t testing.TB) {
	t.Helper()
	waitFor(t, "both sides Connected", func() bool {
		return p.lconn != 0 && p.state(p.lis, p.lconn) == StateConnected && p.state(p.con, p.cconn) == StateConnected
	}, p.lis, p.con)
}

// exchange sends n reliable numbered messages each way and checks that
// they arrive complete and in order.
func exchange(t *testing.T, a *Sockets, ah Conn, b *Sockets, bh Conn, n int) {
	t.Helper()
	for i := range n {
		msg := make([]byte, 8+i*37%3000)
		binary.LittleEndian.PutUint32(msg, uint32(i))
		if _, r := a.SendMessageToConnection(ah, msg, SendReliable); r != ResultOK {
			t.Fatalf("send a->b %d: %v", i, r)
		}
		if _, r := b.SendMessageToConnection(bh, msg, SendReliable); r != ResultOK {
			t.Fatalf("send b->a %d: %v", i, r)
		}
	}
	for _, side := range []struct {
		s *Sockets
		h Conn
	}{{b, bh}, {a, ah}} {
		next := 0
		buf := make([]*Message, 16)
		waitFor(t, "messages", func() bool {
			k := side.s.ReceiveMessagesOnConnection(side.h, buf)
			for _, m := range buf[:max(k, 0)] {
				if got := int(binary.LittleEndian.Uint32(m.Data)); got != next || len(m.Data) != 8+next*37%3000 {
					t.Fatalf("message %d arrived as number %d (%d bytes)", next, got, len(m.Data))
				}
				next++
				m.Release()
			}
			return next == n
		}, a, b)
	}
}

func TestP2PCustomSignalingLossyLoopback(t *testing.T) {
	// Each run is a fresh pair with its own loss pattern; the handshake
	// takes few signals, so several runs meet losses of every kind.
	for seed := range uint64(4) {
		sn := newSignalNet(0.3)
		sn.dup = 0.5
		sn.rng = rand.New(rand.NewPCG(seed, 7))
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { lossyRun(t, sn) })
	}
}

func lossyRun(t *testing.T, sn *signalNet) {
	p := &p2pPeers{lis: newP2PSockets(t, "alice", Config{}), con: newP2PSockets(t, "bob", Config{})}
	sn.join(t, p.lis)
	sn.join(t, p.con)
	ls, err := p.lis.CreateListenSocketP2P(7)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	p.cconn, err = p.con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 7)
	if err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 200)

	info, _ := p.con.ConnectionInfo(p.cconn)
	bob, _ := p.con.Identity()
	linfo, _ := p.lis.ConnectionInfo(p.lconn)
	if info.RemoteIdentity != alice || linfo.RemoteIdentity != bob {
		t.Errorf("identities %v / %v", info.RemoteIdentity, linfo.RemoteIdentity)
	}
	if !info.RemoteAddr.Addr().IsLoopback() || info.Flags&ConnInfoRelayed != 0 {
		t.Errorf("route: addr %v flags %#x, want a direct loopback route", info.RemoteAddr, info.Flags)
	}
	if info.Flags&ConnInfoUnencrypted != 0 {
		t.Errorf("flags %#x: unencrypted", info.Flags)
	}
	// The connector went through FindingRoute.
	var states []ConnState
	p.eventsLock.Lock()
	for _, ev := range p.conEvents {
		states = append(states, ev.Info.State)
	}
	p.eventsLock.Unlock()
	if len(states) < 3 || states[0] != StateConnecting || states[1] != StateFindingRoute || states[2] != StateConnected {
		t.Errorf("connector states %v, want Connecting, FindingRoute, Connected", states)
	}
	sn.mu.Lock()
	t.Logf("signals: %d sent, %d lost", sn.sent, sn.lost)
	sn.mu.Unlock()

	p.con.CloseConnection(p.cconn, 1000, "bye", true)
	waitFor(t, "listener sees the close", func() bool {
		info, _ := p.lis.ConnectionInfo(p.lconn)
		return info.State == StateClosedByPeer && info.EndReason == 1000
	}, p.lis, p.con)
}

func TestP2PHostileSignals(t *testing.T) {
	sn := newSignalNet(0)
	p := &p2pPeers{lis: newP2PSockets(t, "alice", Config{}), con: newP2PSockets(t, "bob", Config{})}
	sn.join(t, p.lis)
	sn.join(t, p.con)
	ls, _ := p.lis.CreateListenSocketP2P(0)
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	var err error
	p.cconn, err = p.con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)

	// Capture a real signal of the established connection to forge from.
	var captured []byte
	var capMu sync.Mutex
	spy := SignalingFuncs{OnSend: func(h SignalingHeader, blob []byte) bool {
		capMu.Lock()
		captured = append([]byte(nil), blob...)
		capMu.Unlock()
		return true
	}}
	eve := newP2PSockets(t, "eve", Config{})
	eh, err := eve.ConnectP2PCustomSignaling(spy, alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "eve's connect request", func() bool { capMu.Lock(); defer capMu.Unlock(); return captured != nil })
	eve.CloseConnection(eh, 0, "", false)

	ctx := netContext{sn}
	if err := p.lis.ReceivedP2PCustomSignal([]byte{0xff, 0xff, 0xff}, ctx); !errors.Is(err, ErrSignalMalformed) {
		t.Errorf("malformed: %v", err)
	}
	if err := p.lis.ReceivedP2PCustomSignal(nil, ctx); err == nil {
		t.Error("empty signal accepted")
	}
	// A connect request for a port nobody listens on, offered to a context
	// that declines it.
	decline := declineContext{}
	capMu.Lock()
	req := captured
	capMu.Unlock()
	if err := p.con.ReceivedP2PCustomSignal(req, decline); !errors.Is(err, ErrSignalIgnored) {
		t.Errorf("declined request: %v", err)
	}
	// The same request with its sender rewritten: eve's certificate names
	// eve, so a request claiming to be from "mallory" is refused.
	forged := bytes.Replace(req, []byte("str:eve"), []byte("str:bad"), 1)
	if bytes.Equal(forged, req) {
		t.Fatal("identity not found in the captured signal")
	}
	if err := p.lis.ReceivedP2PCustomSignal(forged, ctx); err == nil {
		t.Error("a request whose certificate names someone else was accepted")
	}
	// A signal for a connection id nobody has is dropped silently.
	sig := func(m *pb.Rendezvous) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	unknown := sig(&pb.Rendezvous{ToConnectionId: proto.Uint32(0x12345678), FromIdentity: proto.String("str:bob"),
		FromConnectionId: proto.Uint32(uint32(p.cconn)), IceEnabled: proto.Bool(true)})
	if err := p.lis.ReceivedP2PCustomSignal(unknown, ctx); !errors.Is(err, ErrSignalUnknownConnection) {
		t.Errorf("unknown connection: %v", err)
	}
	// A signal for the real connection from another identity, closing it.
	impostor := sig(&pb.Rendezvous{ToConnectionId: proto.Uint32(uint32(p.lconn)), FromIdentity: proto.String("str:mallory"),
		FromConnectionId: proto.Uint32(uint32(p.cconn)), IceEnabled: proto.Bool(true),
		ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(1000)}})
	if err := p.lis.ReceivedP2PCustomSignal(impostor, ctx); !errors.Is(err, ErrSignalIdentityMismatch) {
		t.Errorf("impostor: %v", err)
	}
	// The right identity with another connection id.
	wrongID := sig(&pb.Rendezvous{ToConnectionId: proto.Uint32(uint32(p.lconn)), FromIdentity: proto.String("str:bob"),
		FromConnectionId: proto.Uint32(uint32(p.cconn) ^ 0x10001), IceEnabled: proto.Bool(true),
		ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(1000)}})
	if err := p.lis.ReceivedP2PCustomSignal(wrongID, ctx); !errors.Is(err, ErrSignalConnectionMismatch) {
		t.Errorf("wrong connection id: %v", err)
	}
	// A flood of connect requests from "eve" (the same captured request
	// again and again) creates one connection at most.
	real := p.lconn
	for range 200 {
		p.lis.ReceivedP2PCustomSignal(req, ctx)
	}
	p.lis.RunCallbacks()
	offered := map[Conn]bool{}
	p.eventsLock.Lock()
	for _, ev := range p.lisEvents {
		if ev.Info.State == StateConnecting {
			offered[ev.Conn] = true
		}
	}
	p.eventsLock.Unlock()
	if len(offered) > 2 {
		t.Errorf("the flood of one request made %d connections", len(offered)-1)
	}
	p.lconn = real
	// Garbage and impostors left the real connection alone.
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)
	if st := p.state(p.lis, p.lconn); st != StateConnected {
		t.Errorf("listener connection state %v after hostile signals", st)
	}
	// Closing the listen socket destroys its connections at once.
	if !p.lis.CloseListenSocket(p.ls) {
		t.Fatal("CloseListenSocket failed")
	}
	if _, ok := p.lis.ConnectionInfo(p.lconn); ok {
		t.Error("a connection of the closed listen socket is still there")
	}
}

type declineContext struct{}

func (declineContext) OnConnectRequest(uint32, string, int) ConnectionSignaling { return nil }
func (declineContext) SendRejectionSignal(string, []byte)                       {}

func TestP2PNoListenerTimesOut(t *testing.T) {
	sn := newSignalNet(0)
	con := newP2PSockets(t, "bob", Config{Options: []ConfigValue{Int32Value(OptTimeoutInitial, 1500)}})
	lis := newP2PSockets(t, "alice", Config{})
	sn.join(t, con)
	sn.join(t, lis)
	alice, _ := lis.Identity()
	h, err := con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 3)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "timeout", func() bool {
		info, _ := con.ConnectionInfo(h)
		return info.State == StateProblemDetectedLocally
	}, con, lis)
	info, _ := con.ConnectionInfo(h)
	if info.EndReason != EndMiscTimeout {
		t.Errorf("end reason %d (%s), want 5003", info.EndReason, info.EndDebug)
	}
}

func TestP2PAPIErrors(t *testing.T) {
	s := newP2PSockets(t, "alice", Config{})
	peer, _ := GenericStringIdentity("bob")
	if _, err := s.ConnectP2P(peer, 0); !errors.Is(err, ErrNoSignaling) {
		t.Errorf("ConnectP2P without signaling: %v", err)
	}
	if _, err := s.ConnectP2PCustomSignaling(nil, peer, 0); err == nil {
		t.Error("nil signaling accepted")
	}
	if _, err := s.ConnectP2PCustomSignaling(SignalingFuncs{OnSend: func(SignalingHeader, []byte) bool { return true }}, peer, 70000); err == nil {
		t.Error("virtual port 70000 accepted")
	}
	if _, err := s.CreateListenSocketP2P(-1); err == nil {
		t.Error("negative virtual port accepted")
	}
	ls, err := s.CreateListenSocketP2P(5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateListenSocketP2P(5); !errors.Is(err, ErrVirtualPortInUse) {
		t.Errorf("second listen socket on port 5: %v", err)
	}
	s.CloseListenSocket(ls)
	if _, err := s.CreateListenSocketP2P(5); err != nil {
		t.Errorf("port 5 after close: %v", err)
	}
	// A refused signal closes the connection with 5002.
	h, err := s.ConnectP2PCustomSignaling(SignalingFuncs{OnSend: func(SignalingHeader, []byte) bool { return false }}, peer, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "5002", func() bool {
		info, _ := s.ConnectionInfo(h)
		return info.State == StateProblemDetectedLocally && info.EndReason == EndMiscInternalError
	}, s)
}

func TestP2PICEDisabledFails(t *testing.T) {
	s := newP2PSockets(t, "alice", Config{})
	peer, _ := GenericStringIdentity("bob")
	h, err := s.ConnectP2PCustomSignaling(SignalingFuncs{OnSend: func(SignalingHeader, []byte) bool { return true }}, peer, 1,
		Int32Value(OptP2PTransportICEEnable, 0))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3998", func() bool {
		info, _ := s.ConnectionInfo(h)
		return info.State == StateProblemDetectedLocally
	}, s)
	if info, _ := s.ConnectionInfo(h); info.EndReason != 3998 {
		t.Errorf("end reason %d (%s), want 3998", info.EndReason, info.EndDebug)
	}
	_ = time.Second
}

func TestP2PTrivialSignalingServerLoopback(t *testing.T) {
	srv, err := trivialtest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := Config{SignalingServer: srv.Addr()}
	p := &p2pPeers{lis: newP2PSockets(t, "alice", cfg), con: newP2PSockets(t, "bob", cfg)}
	ls, err := p.lis.CreateListenSocketP2P(0)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	waitFor(t, "registration", func() bool { return srv.Registered(alice.String()) })
	// A connection to a port nobody listens on is ignored silently by the
	// built-in signaling and times out.
	short := Int32Value(OptTimeoutInitial, 1000)
	lost, err := p.con.ConnectP2P(alice, 9, short)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.cconn, err = p.con.ConnectP2P(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	t.Logf("connected in %v", time.Since(start))
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 100)
	st, r := p.con.ConnectionRealTimeStatus(p.cconn, nil)
	if r != ResultOK || st.State != StateConnected || st.Ping < 0 {
		t.Errorf("status %+v, %v", st, r)
	}
	detail, _ := p.lis.DetailedConnectionStatus(p.lconn)
	if !strings.Contains(detail, "Route: ") {
		t.Errorf("detailed status lacks the route:\n%s", detail)
	}
	waitFor(t, "timeout of the connection to port 9", func() bool {
		info, _ := p.con.ConnectionInfo(lost)
		return info.State == StateProblemDetectedLocally
	}, p.lis, p.con)
	if info, _ := p.con.ConnectionInfo(lost); info.EndReason != EndMiscTimeout {
		t.Errorf("port 9: end reason %d (%s), want 5003", info.EndReason, info.EndDebug)
	}
	p.lis.CloseConnection(p.lconn, 1001, "done", false)
	waitFor(t, "connector sees the close", func() bool {
		info, _ := p.con.ConnectionInfo(p.cconn)
		return info.State == StateClosedByPeer && info.EndReason == 1001
	}, p.lis, p.con)
}

func TestP2PICEImplementationWebRTCUnavailable(t *testing.T) {
	s := newP2PSockets(t, "alice", Config{})
	peer, _ := GenericStringIdentity("bob")
	h, err := s.ConnectP2PCustomSignaling(SignalingFuncs{OnSend: func(SignalingHeader, []byte) bool { return true }}, peer, 1,
		Int32Value(OptP2PTransportICEImplementation, 2))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.ConnectionInfo(h); info.State != StateProblemDetectedLocally || info.EndReason != 3999 {
		t.Errorf("state %v reason %d (%s), want ProblemDetectedLocally 3999", info.State, info.EndReason, info.EndDebug)
	}
}

// TestP2PSymmetricConnectCrossing: both sides connect to each other at the
// same time with SymmetricConnect; exactly one connection results, each
// side keeping the handle its ConnectP2P call returned.
func TestP2PSymmetricConnectCrossing(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			sn := newSignalNet(0)
			a := newP2PSockets(t, "alice", Config{})
			b := newP2PSockets(t, "bob", Config{})
			sn.join(t, a)
			sn.join(t, b)
			sym := Int32Value(OptSymmetricConnect, 1)
			for _, s := range []*Sockets{a, b} {
				if _, err := s.CreateListenSocketP2P(4, sym); err != nil {
					t.Fatal(err)
				}
			}
			var inbound sync.Map // connections the listen sockets offered
			for _, s := range []*Sockets{a, b} {
				s.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
					if ev.Info.ListenSocket != 0 {
						inbound.Store(ev.Conn, true)
					}
				})
			}
			alice, _ := a.Identity()
			bob, _ := b.Identity()
			var ah, bh Conn
			var errA, errB error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				ah, errA = a.ConnectP2PCustomSignaling(sn.signaling(bob.String()), bob, 4, sym)
			}()
			go func() {
				defer wg.Done()
				bh, errB = b.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 4, sym)
			}()
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatalf("connect: %v / %v", errA, errB)
			}
			waitFor(t, "one connection, Connected on both sides", func() bool {
				ia, _ := a.ConnectionInfo(ah)
				ib, _ := b.ConnectionInfo(bh)
				return ia.State == StateConnected && ib.State == StateConnected
			}, a, b)
			exchange(t, a, ah, b, bh, 20)
			// A request that arrived before the other side's own call made
			// an inbound connection there, which that call then accepted
			// and returned; no other connection may exist.
			inbound.Range(func(k, _ any) bool {
				if k != ah && k != bh {
					t.Errorf("a listen socket offered connection %v besides the symmetric one", k)
				}
				return true
			})
		})
	}
}

// TestP2PCustomSignalingWithoutListenSocket: with custom signaling a
// request for a port nobody listens on is still offered to the receive
// context, and the connection (with no listen socket) can be accepted, as
// in GNS.
func TestP2PCustomSignalingWithoutListenSocket(t *testing.T) {
	sn := newSignalNet(0)
	p := &p2pPeers{lis: newP2PSockets(t, "alice", Config{}), con: newP2PSockets(t, "bob", Config{})}
	sn.join(t, p.lis)
	sn.join(t, p.con)
	p.lis.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting && ev.Info.ListenSocket == 0 {
			p.lconn = ev.Conn
			p.lis.AcceptConnection(ev.Conn)
		}
	})
	alice, _ := p.lis.Identity()
	var err error
	if p.cconn, err = p.con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 12); err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 10)
}

// TestP2PCloseLeavesNoGoroutines: closing the instances ends every ICE
// session, signaling client and timer they started.
func TestP2PCloseLeavesNoGoroutines(t *testing.T) {
	srv, err := trivialtest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	before := runtime.NumGoroutine()
	func() {
		cfg := Config{SignalingServer: srv.Addr()}
		lis, err := New(Config{Identity: mustIdentity(t, "str:alice"), SignalingServer: cfg.SignalingServer})
		if err != nil {
			t.Fatal(err)
		}
		con, err := New(Config{Identity: mustIdentity(t, "str:bob"), SignalingServer: cfg.SignalingServer})
		if err != nil {
			t.Fatal(err)
		}
		lis.p2p.iceLoopback, con.p2p.iceLoopback = true, true
		p := &p2pPeers{lis: lis, con: con}
		if p.ls, err = lis.CreateListenSocketP2P(0); err != nil {
			t.Fatal(err)
		}
		p.watch()
		alice, _ := lis.Identity()
		waitFor(t, "registration", func() bool { return srv.Registered(alice.String()) })
		if p.cconn, err = con.ConnectP2P(alice, 0); err != nil {
			t.Fatal(err)
		}
		p.waitConnected(t)
		exchange(t, con, p.cconn, lis, p.lconn, 5)
		con.Close()
		lis.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines left (%d before):\n%s", n-before, before, buf)
	}
}

// TestP2PCreateConnectionSignalingCallback: ConnectP2P takes its signaling
// from Callback_CreateConnectionSignaling when set.
func TestP2PCreateConnectionSignalingCallback(t *testing.T) {
	sn := newSignalNet(0)
	var asked []string
	create := CreateConnectionSignalingFunc(func(s *Sockets, peer Identity, local, remote int) ConnectionSignaling {
		asked = append(asked, fmt.Sprintf("%v %d %d", peer, local, remote))
		return sn.signaling(peer.String())
	})
	if !SetGlobalConfigValue(PtrValue(OptCallbackCreateConnectionSignaling, create)) {
		t.Fatal("cannot set Callback_CreateConnectionSignaling")
	}
	defer ResetGlobalConfigValue(OptCallbackCreateConnectionSignaling)
	p := &p2pPeers{lis: newP2PSockets(t, "alice", Config{}), con: newP2PSockets(t, "bob", Config{})}
	sn.join(t, p.lis)
	sn.join(t, p.con)
	ls, err := p.lis.CreateListenSocketP2P(6)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	if p.cconn, err = p.con.ConnectP2P(alice, 6, Int32Value(OptLocalVirtualPort, 9)); err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	if len(asked) != 1 || asked[0] != "str:alice 9 6" {
		t.Errorf("callback calls %q", asked)
	}
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 5)
}
