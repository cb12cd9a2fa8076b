package mist

import (
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/ice"
	"github.com/mistnet/mist/internal/p2p/natsim"
	piontransport "github.com/pion/transport/v5"
)

// The routes GNS's P2P test expects per NAT setup, between two mist
// instances on an in-process internet (internal/p2p/natsim) with custom
// signaling. Every side has the STUN server and, unless a case says
// otherwise, the TURN server.

type natPeers struct {
	*p2pPeers
	world *natsim.World
}

func natWorld(t *testing.T, lis, con natsim.NAT, sameLAN, turn bool, opts ...ConfigValue) *natPeers {
	t.Helper()
	w, err := natsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	siteA, err := w.AddSite(lis)
	if err != nil {
		t.Fatal(err)
	}
	siteB := siteA
	if !sameLAN {
		if siteB, err = w.AddSite(con); err != nil {
			t.Fatal(err)
		}
	}
	netA, _, err := siteA.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	netB, _, err := siteB.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	opts = append(opts, StringValue(OptP2PSTUNServerList, natsim.ServerAddr))
	if turn {
		opts = append(opts,
			StringValue(OptP2PTURNServerList, natsim.ServerAddr),
			StringValue(OptP2PTURNUserList, natsim.TURNUser),
			StringValue(OptP2PTURNPassList, natsim.TURNPassword))
	}
	mk := func(name string, n piontransport.Net) *Sockets {
		s := newP2PSockets(t, name, Config{Options: opts})
		s.p2p.iceLoopback = false
		s.p2p.iceNet = n
		return s
	}
	return &natPeers{p2pPeers: &p2pPeers{lis: mk("alice", netA), con: mk("bob", netB)}, world: w}
}

// connect starts the connection over lossless custom signaling.
func (p *natPeers) connect(t *testing.T) {
	t.Helper()
	sn := newSignalNet(0)
	sn.join(t, p.lis)
	sn.join(t, p.con)
	ls, err := p.lis.CreateListenSocketP2P(0)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	if p.cconn, err = p.con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 0); err != nil {
		t.Fatal(err)
	}
}

// routeKind is the route as GNS's test prints it, from the connection info.
func routeKind(info ConnectionInfo) string {
	switch {
	case info.Flags&ConnInfoRelayed != 0:
		return "relay"
	case info.Flags&ConnInfoFast != 0:
		return "local"
	}
	return "udp"
}

func TestP2PNATRoutes(t *testing.T) {
	cases := []struct {
		name     string
		lis, con natsim.NAT
		sameLAN  bool
		want     string
	}{
		{name: "same LAN", lis: natsim.FullCone, sameLAN: true, want: "local"},
		{name: "cone to cone", lis: natsim.FullCone, con: natsim.PortRestrictedCone, want: "udp"},
		{name: "symmetric to symmetric", lis: natsim.Symmetric, con: natsim.Symmetric, want: "relay"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := natWorld(t, c.lis, c.con, c.sameLAN, true)
			p.connect(t)
			p.waitConnected(t)
			exchange(t, p.con, p.cconn, p.lis, p.lconn, 30)
			for _, side := range []struct {
				s *Sockets
				h Conn
			}{{p.lis, p.lconn}, {p.con, p.cconn}} {
				info, _ := side.s.ConnectionInfo(side.h)
				if got := routeKind(info); got != c.want {
					t.Errorf("route %s (addr %v, flags %#x), want %s", got, info.RemoteAddr, info.Flags, c.want)
				}
				if c.want == "relay" && info.RemoteAddr.Addr().String() != natsim.ServerIP {
					t.Errorf("relayed route shows %v, want the relay's address", info.RemoteAddr)
				}
			}
		})
	}
}

// TestP2PSymmetricWithoutTURNFails: behind two symmetric NATs with no
// relay, both sides fail with 5008 (Misc_P2P_Rendezvous).
func TestP2PSymmetricWithoutTURNFails(t *testing.T) {
	p := natWorld(t, natsim.Symmetric, natsim.Symmetric, false, false, Int32Value(OptTimeoutInitial, 3000))
	p.connect(t)
	waitFor(t, "both sides to fail", func() bool {
		ended := func(st ConnState) bool { return st == StateProblemDetectedLocally || st == StateClosedByPeer }
		return p.lconn != 0 && ended(p.state(p.lis, p.lconn)) && ended(p.state(p.con, p.cconn))
	}, p.lis, p.con)
	// The first side to time out tells the other through a signal, so one
	// side may see ClosedByPeer; both carry 5008, as GNS reports it.
	for _, side := range []struct {
		s *Sockets
		h Conn
	}{{p.lis, p.lconn}, {p.con, p.cconn}} {
		info, _ := side.s.ConnectionInfo(side.h)
		if info.EndReason != EndMiscP2PRendezvous {
			t.Errorf("end reason %d (%s), want 5008", info.EndReason, info.EndDebug)
		}
	}
}

func TestP2PRelayUpgradedToDirect(t *testing.T) {
	p := natWorld(t, natsim.FullCone, natsim.FullCone, false, true)
	timing := &ice.Timing{CheckInterval: 50 * time.Millisecond, KeepaliveInterval: 100 * time.Millisecond,
		RelayWait: time.Millisecond, Upgrade: 300 * time.Millisecond}
	p.lis.p2p.iceTiming, p.con.p2p.iceTiming = timing, timing
	p.world.BlockDirect(true)
	p.connect(t)
	p.waitConnected(t)
	info, _ := p.con.ConnectionInfo(p.cconn)
	if routeKind(info) != "relay" {
		t.Fatalf("first route %s, want relay while direct is blocked", routeKind(info))
	}
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)
	p.world.BlockDirect(false)
	waitFor(t, "route upgrade on both sides", func() bool {
		a, _ := p.lis.ConnectionInfo(p.lconn)
		b, _ := p.con.ConnectionInfo(p.cconn)
		return routeKind(a) == "udp" && routeKind(b) == "udp"
	}, p.lis, p.con)
	// The connection carried on over the new path.
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)
	if st := p.state(p.con, p.cconn); st != StateConnected {
		t.Errorf("state %v after the switch", st)
	}
}

// TestP2PRelayOnly: with P2P_Transport_ICE_Enable 1 both sides use only
// relays even where a direct route exists, and neither shows the other's
// address.
func TestP2PRelayOnly(t *testing.T) {
	p := natWorld(t, natsim.FullCone, natsim.FullCone, false, true, Int32Value(OptP2PTransportICEEnable, 1))
	p.connect(t)
	p.waitConnected(t)
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)
	for _, side := range []struct {
		s *Sockets
		h Conn
	}{{p.lis, p.lconn}, {p.con, p.cconn}} {
		info, _ := side.s.ConnectionInfo(side.h)
		if routeKind(info) != "relay" || info.RemoteAddr.Addr().String() != natsim.ServerIP {
			t.Errorf("route %s to %v, want relay through %s", routeKind(info), info.RemoteAddr, natsim.ServerIP)
		}
	}
	if n := p.world.DirectDatagrams(); n != 0 {
		t.Errorf("%d datagrams went directly between the sites", n)
	}
}
