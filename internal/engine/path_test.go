package engine

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/reliability"
)

// memPath is one end of an in-memory link: what it writes comes out at the
// other end, in order, unless the link is cut.
type memPath struct {
	kind   PathKind
	remote netip.AddrPort
	out    chan []byte // to the other end
	link   *memLink
	sent   atomic.Int64
}

func (p *memPath) Kind() PathKind             { return p.kind }
func (p *memPath) RemoteAddr() netip.AddrPort { return p.remote }

func (p *memPath) WriteDatagrams(ds [][]byte) {
	for _, d := range ds {
		if p.link.cut.Load() {
			return
		}
		select {
		case p.out <- append([]byte(nil), d...):
			p.sent.Add(1)
		default: // a full queue drops, as a network would
		}
	}
}

// memLink joins a client end and a server end.
type memLink struct {
	client, server *memPath
	cut            atomic.Bool
	stop           chan struct{}
}

var (
	clientAddr = netip.MustParseAddrPort("192.0.2.1:50000")
	serverAddr = netip.MustParseAddrPort("192.0.2.2:27015")
)

// newMemLink starts a link whose ends hand datagrams to toClient and
// toServer.
func newMemLink(t *testing.T, kind PathKind, toClient, toServer func(*memPath, []byte)) *memLink {
	l := &memLink{stop: make(chan struct{})}
	l.client = &memPath{kind: kind, remote: serverAddr, out: make(chan []byte, 4096), link: l}
	l.server = &memPath{kind: kind, remote: clientAddr, out: make(chan []byte, 4096), link: l}
	pump := func(in chan []byte, at *memPath, deliver func(*memPath, []byte)) {
		for {
			select {
			case b := <-in:
				if !l.cut.Load() {
					deliver(at, b)
				}
			case <-l.stop:
				return
			}
		}
	}
	go pump(l.client.out, l.server, toServer)
	go pump(l.server.out, l.client, toClient)
	t.Cleanup(func() { close(l.stop) })
	return l
}

// testOwner records what a connection delivers; its fields are guarded by
// the connection's lock.
type testOwner struct {
	mu     sync.Mutex // the connection's lock
	got    []reliability.Message
	states []conn.State
}

func (o *testOwner) Settings() Settings {
	return Settings{SendBufferSize: 8 << 20, RecvBufferSize: 8 << 20, RecvMaxMessageSize: 512 << 10,
		RecvMaxSegmentsPerPacket: 1300, SendRateMin: 32 << 20, SendRateMax: 32 << 20}
}

func (o *testOwner) Deliver(m reliability.Message, arrived time.Time) bool {
	m.Data = append([]byte(nil), m.Data...)
	o.got = append(o.got, m)
	return true
}

func (o *testOwner) UnreadBytes() int { return 0 }

func (o *testOwner) StateChanged(st conn.State, reason int, debug string) {
	o.states = append(o.states, st)
}

func (o *testOwner) config(id uint32) Config {
	return Config{
		Protocol: conn.Config{
			LocalID:          id,
			Identity:         identity.LocalHost(),
			AllowWithoutAuth: 2,
			TimeoutInitial:   10 * time.Second,
			TimeoutConnected: 10 * time.Second,
		},
		Lock:  &o.mu,
		Owner: o,
	}
}

// memPair is a client and a server connection joined by in-memory links.
type memPair struct {
	t              *testing.T
	client         *Conn
	server         atomic.Pointer[Conn]
	cOwner, sOwner testOwner
	listener       *conn.Listener
}

func (p *memPair) toClient(at *memPath, b []byte) {
	now := time.Now()
	p.client.Receive(now, at, b)
	p.client.Service(now)
}

func (p *memPair) toServer(at *memPath, b []byte) {
	now := time.Now()
	if s := p.server.Load(); s != nil {
		s.Receive(now, at, b)
		s.Service(now)
		return
	}
	reply, req := p.listener.Receive(now, at.remote, b, nil)
	if len(reply) > 0 {
		at.WriteDatagrams([][]byte{reply})
	}
	if req == nil {
		return
	}
	id, err := conn.RequestIdentity(req, at.remote, 2)
	if err != nil {
		p.t.Errorf("RequestIdentity: %v", err)
		return
	}
	s, err := NewServer(now, p.sOwner.config(0x33334444), at, req, id)
	if err != nil {
		p.t.Errorf("NewServer: %v", err)
		return
	}
	p.server.Store(s)
	p.sOwner.mu.Lock()
	if err := s.Accept(now); err != nil {
		p.t.Errorf("Accept: %v", err)
	}
	p.sOwner.mu.Unlock()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newMemPair connects a client and a server over a direct link.
func newMemPair(t *testing.T) (*memPair, *memLink) {
	p := &memPair{t: t}
	var err error
	if p.listener, err = conn.NewListener(nil); err != nil {
		t.Fatal(err)
	}
	direct := newMemLink(t, PathUDP, p.toClient, p.toServer)
	if p.client, err = NewClient(time.Now(), p.cOwner.config(0x11112222), direct.client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cOwner.mu.Lock()
		p.client.Destroy()
		p.cOwner.mu.Unlock()
		if s := p.server.Load(); s != nil {
			p.sOwner.mu.Lock()
			s.Destroy()
			p.sOwner.mu.Unlock()
		}
	})
	p.client.Service(time.Now())
	waitUntil(t, "connected", func() bool {
		p.cOwner.mu.Lock()
		defer p.cOwner.mu.Unlock()
		return p.client.State() == conn.StateConnected
	})
	if p.server.Load() == nil {
		t.Fatal("client connected without a server connection")
	}
	return p, direct
}

func message(i int) []byte {
	b := make([]byte, 1000)
	binary.LittleEndian.PutUint32(b, uint32(i))
	for j := 4; j < len(b); j++ {
		b[j] = byte(i + j)
	}
	return b
}

// TestSwitchPathMidTransfer moves a connection from a direct path to a
// relayed one halfway through a reliable transfer and cuts the direct
// path: every message arrives once, in order, and the second half went over
// the relay.
func TestSwitchPathMidTransfer(t *testing.T) {
	p, direct := newMemPair(t)
	server := p.server.Load()
	relay := newMemLink(t, PathRelayed, p.toClient, p.toServer)
	p.cOwner.mu.Lock()
	p.client.AddPath(relay.client)
	p.cOwner.mu.Unlock()
	p.sOwner.mu.Lock()
	server.AddPath(relay.server)
	p.sOwner.mu.Unlock()

	const total = 2000
	send := func(from, to int) {
		for i := from; i < to; i++ {
			p.cOwner.mu.Lock()
			_, err := p.client.Send(time.Now(), 0, message(i), true, false)
			p.cOwner.mu.Unlock()
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
	}
	send(0, total/2)
	// Switch while the first half is in flight, then cut the direct link:
	// whatever it still carried is lost and must be resent over the relay.
	p.cOwner.mu.Lock()
	p.client.SetActivePath(relay.client)
	p.cOwner.mu.Unlock()
	p.sOwner.mu.Lock()
	server.SetActivePath(relay.server)
	p.sOwner.mu.Unlock()
	direct.cut.Store(true)
	relayedBefore := relay.client.sent.Load()
	send(total/2, total)

	waitUntil(t, "every message", func() bool {
		p.sOwner.mu.Lock()
		defer p.sOwner.mu.Unlock()
		return len(p.sOwner.got) >= total
	})
	p.sOwner.mu.Lock()
	defer p.sOwner.mu.Unlock()
	if len(p.sOwner.got) != total {
		t.Fatalf("%d messages delivered, want %d", len(p.sOwner.got), total)
	}
	for i, m := range p.sOwner.got {
		if string(m.Data) != string(message(i)) || !m.Reliable {
			t.Fatalf("message %d is not the %dth sent (number %d)", i, i, m.Num)
		}
	}
	if relay.client.sent.Load() <= relayedBefore {
		t.Error("nothing went over the relay after the switch")
	}
	if k := server.ActivePath().Kind(); k != PathRelayed {
		t.Errorf("server's active path is %v", k)
	}
	if server.State() != conn.StateConnected {
		t.Errorf("server state %v after the switch", server.State())
	}
}

// TestReceiveFromForeignPathIsDropped: a datagram handed in over a path the
// connection does not own is dropped and counted, even a valid one.
func TestReceiveFromForeignPathIsDropped(t *testing.T) {
	p, direct := newMemPair(t)
	server := p.server.Load()
	foreign := &memPath{kind: PathUDP, remote: clientAddr, out: make(chan []byte, 1), link: &memLink{}}

	// Capture a valid datagram from client to server by sending a message
	// over a link whose output nobody reads.
	direct.cut.Store(true)
	tap := &memPath{kind: PathUDP, remote: serverAddr, out: make(chan []byte, 64), link: &memLink{}}
	p.cOwner.mu.Lock()
	p.client.SetActivePath(tap)
	if _, err := p.client.Send(time.Now(), 0, []byte("hello"), true, true); err != nil {
		t.Fatal(err)
	}
	p.cOwner.mu.Unlock()
	datagram := <-tap.out

	p.sOwner.mu.Lock()
	before := server.cc.Stats.Dropped
	p.sOwner.mu.Unlock()
	server.Receive(time.Now(), foreign, datagram)
	server.Service(time.Now())
	p.sOwner.mu.Lock()
	if got := server.cc.Stats.Dropped - before; got != 1 {
		t.Errorf("dropped %d datagrams from a foreign path, want 1", got)
	}
	if len(p.sOwner.got) != 0 {
		t.Errorf("delivered %d messages from a foreign path", len(p.sOwner.got))
	}
	p.sOwner.mu.Unlock()

	// The same datagram over the connection's own path is delivered.
	server.Receive(time.Now(), direct.server, datagram)
	server.Service(time.Now())
	p.sOwner.mu.Lock()
	defer p.sOwner.mu.Unlock()
	if len(p.sOwner.got) != 1 || string(p.sOwner.got[0].Data) != "hello" {
		t.Errorf("own path delivered %d messages", len(p.sOwner.got))
	}
}

// TestRemoveEveryPath: a connection left without paths drops what it would
// send and can be torn down.
func TestRemoveEveryPath(t *testing.T) {
	p, direct := newMemPair(t)
	p.cOwner.mu.Lock()
	p.client.RemovePath(direct.client)
	if p.client.ActivePath() != nil || len(p.client.Paths()) != 0 {
		t.Errorf("paths left: %d, active %v", len(p.client.Paths()), p.client.ActivePath())
	}
	if _, err := p.client.Send(time.Now(), 0, []byte("nowhere"), true, true); err != nil {
		t.Errorf("send without a path: %v", err)
	}
	p.client.Close(time.Now(), 1000, "bye", false)
	p.client.Destroy()
	p.cOwner.mu.Unlock()
	if got := p.cOwner.states[len(p.cOwner.states)-1]; got != conn.StateDead {
		t.Errorf("last state %v, want dead", got)
	}
}
