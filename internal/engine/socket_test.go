package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
	"github.com/mistnet/mist/internal/pb"
)

// socketServer is a listen socket on an in-memory network whose accept
// hook makes and accepts a connection for every request, as an owner
// would.
type socketServer struct {
	t     *testing.T
	sock  *Socket
	mu    sync.Mutex // guards conns
	conns []*Conn
	owner []*testOwner
	next  atomic.Uint32
}

func newSocketServer(t *testing.T, network *netsim.Network, addr netip.AddrPort) *socketServer {
	pc, err := network.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &socketServer{t: t}
	srv.sock, err = NewListenSocket(pc, SocketConfig{Now: time.Now, Accept: srv.accept})
	if err != nil {
		t.Fatal(err)
	}
	srv.sock.Start()
	t.Cleanup(srv.sock.Close)
	return srv
}

func (srv *socketServer) accept(now time.Time, from netip.AddrPort, req *pb.ConnectRequest) {
	id, err := conn.RequestIdentity(req, from, 2)
	if err != nil || !srv.sock.MakeWay(now, from) || srv.sock.RefuseDuplicate(from, req.GetClientConnectionId(), id) {
		return
	}
	o := &testOwner{}
	c, err := NewServer(now, o.config(0x30000001+srv.next.Add(1)<<16), srv.sock.PathTo(from), req, id)
	if err != nil {
		srv.t.Errorf("NewServer: %v", err)
		return
	}
	srv.sock.Bind(c)
	// Recorded before accepting: the client may see its connection
	// complete, and the test look, before Accept returns.
	srv.mu.Lock()
	srv.conns, srv.owner = append(srv.conns, c), append(srv.owner, o)
	srv.mu.Unlock()
	o.mu.Lock()
	if err := c.Accept(now); err != nil {
		srv.t.Errorf("Accept: %v", err)
	}
	o.mu.Unlock()
}

// dial connects a client from local to the server over network.
func dial(t *testing.T, network *netsim.Network, local, server netip.AddrPort, id uint32) (*Conn, *testOwner) {
	pc, err := network.Listen(local)
	if err != nil {
		t.Fatal(err)
	}
	o := &testOwner{}
	c, err := Dial(time.Now(), pc, server, o.config(id), SocketConfig{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.Service(time.Now())
	c.Socket().Start()
	t.Cleanup(func() {
		o.mu.Lock()
		c.Destroy()
		o.mu.Unlock()
	})
	waitUntil(t, "client connected", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return c.State() == conn.StateConnected
	})
	return c, o
}

// TestSocketDemux: two clients of one listen socket each reach their own
// connection, and the listener counts a stranger's junk as dropped.
func TestSocketDemux(t *testing.T) {
	network := netsim.NewNetwork()
	serverAddr := netip.MustParseAddrPort("10.0.0.1:27015")
	srv := newSocketServer(t, network, serverAddr)
	a, ao := dial(t, network, netip.MustParseAddrPort("10.0.0.2:4000"), serverAddr, 0x11110001)
	b, bo := dial(t, network, netip.MustParseAddrPort("10.0.0.3:4000"), serverAddr, 0x22220002)
	for i, c := range []*Conn{a, b} {
		o := []*testOwner{ao, bo}[i]
		o.mu.Lock()
		if _, err := c.Send(time.Now(), 0, []byte{byte('a' + i)}, true, true); err != nil {
			t.Fatal(err)
		}
		o.mu.Unlock()
	}
	waitUntil(t, "both messages", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		n := 0
		for _, o := range srv.owner {
			o.mu.Lock()
			n += len(o.got)
			o.mu.Unlock()
		}
		return n == 2
	})
	srv.mu.Lock()
	for _, o := range srv.owner {
		o.mu.Lock()
		if len(o.got) != 1 {
			t.Errorf("a server connection got %d messages, want its client's one", len(o.got))
		}
		o.mu.Unlock()
	}
	srv.mu.Unlock()

	stranger, err := network.Listen(netip.MustParseAddrPort("10.0.0.9:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	before := srv.sock.ListenerStats().Dropped
	stranger.WriteBatch(junkTo(serverAddr))
	waitUntil(t, "junk counted", func() bool { return srv.sock.ListenerStats().Dropped > before })
}

// TestSocketRestartedClientReplacesQuietConnection: a new client id from a
// known address takes it over once the old connection has been quiet for
// replaceAfterQuiet; the old one ends with a timeout.
func TestSocketRestartedClientReplacesQuietConnection(t *testing.T) {
	network := netsim.NewNetwork()
	serverAddr := netip.MustParseAddrPort("10.0.0.1:27015")
	local := netip.MustParseAddrPort("10.0.0.2:4000")
	srv := newSocketServer(t, network, serverAddr)
	old, oo := dial(t, network, local, serverAddr, 0x11110001)
	// The old client dies silently: its socket goes, nothing is said.
	oo.mu.Lock()
	old.Destroy()
	oo.mu.Unlock()
	start := time.Now()
	dial(t, network, local, serverAddr, 0x44440004)
	if took := time.Since(start); took < replaceAfterQuiet/2 || took > 5*time.Second {
		t.Errorf("restarted client connected after %v", took)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.conns) != 2 {
		t.Fatalf("%d server connections, want the old and the new", len(srv.conns))
	}
	srv.owner[0].mu.Lock()
	defer srv.owner[0].mu.Unlock()
	if st := srv.conns[0].State(); st != conn.StateProblemDetectedLocally && st != conn.StateFinWait && st != conn.StateDead {
		t.Errorf("old server connection in state %v", st)
	}
	if r := srv.conns[0].cc.EndReason(); r != conn.ReasonMiscTimeout {
		t.Errorf("old server connection ended with %d", r)
	}
}

func junkTo(to netip.AddrPort) []endpoint.Packet {
	return []endpoint.Packet{{Buf: []byte{0x80, 1, 2, 3, 4, 5, 6, 7}, Addr: to}}
}
