package mist

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// When the server vanishes without a word, the client notices after the
// keepalives go unanswered: ProblemDetectedLocally, Misc_Timeout, about
// 20.5-21.5 s after the last packet.
func TestPeerVanishesTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := memPair(t, nil, nil)
		start := time.Now()
		p.server.CloseListenSocket(p.ls) // tears the connection down silently
		waitFor(t, "timeout", func() bool { return clientState(p).State == StateProblemDetectedLocally }, p.client)
		info := clientState(p)
		if info.EndReason != EndMiscTimeout || info.EndDebug != "Connection dropped" {
			t.Errorf("end %d %q", info.EndReason, info.EndDebug)
		}
		if d := time.Since(start); d < 20*time.Second || d > 23*time.Second {
			t.Errorf("timed out after %v", d)
		}
		p.client.Close()
		p.server.Close()
	})
}

// A connect attempt to nobody ends after TimeoutInitial with GNS's text.
func TestConnectTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.NewNetwork()
		s, _ := newSockets(Config{}, netSeams{dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
			return n.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		}})
		start := time.Now()
		h := s.ConnectByIPAddress(netip.MustParseAddrPort("10.0.0.9:27015"), Int32Value(OptTimeoutInitial, 3000))
		var ev *ConnStatusChanged
		s.OnConnectionStatusChanged(func(e *ConnStatusChanged) { ev = e })
		waitFor(t, "timeout", func() bool { return ev != nil && ev.Info.State == StateProblemDetectedLocally }, s)
		if d := time.Since(start); d < 3*time.Second || d > 3100*time.Millisecond {
			t.Errorf("timed out after %v", d)
		}
		if ev.Conn != h || ev.Info.EndReason != EndMiscTimeout || ev.Info.EndDebug != "Timed out attempting to connect" {
			t.Errorf("event %+v", ev.Info)
		}
		s.Close()
	})
}

// An inbound connection the application neither accepts nor closes ends
// after TimeoutInitial.
func TestUnacceptedConnectionTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.NewNetwork()
		server, _ := newSockets(Config{}, netSeams{listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return n.Listen(a) }})
		client, _ := newSockets(Config{}, netSeams{dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
			return n.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		}})
		addr := netip.MustParseAddrPort("10.0.0.1:27015")
		server.CreateListenSocketIP(addr, Int32Value(OptTimeoutInitial, 2000))
		var got *ConnStatusChanged
		server.OnConnectionStatusChanged(func(e *ConnStatusChanged) { got = e })
		client.ConnectByIPAddress(addr, Int32Value(OptTimeoutInitial, 60000))
		waitFor(t, "server timeout", func() bool { return got != nil && got.Info.State == StateProblemDetectedLocally }, server)
		if got.Info.EndReason != EndMiscTimeout || got.Info.EndDebug != "App didn't accept or close incoming connection in time." {
			t.Errorf("event %+v", got.Info)
		}
		client.Close()
		server.Close()
	})
}

// Close leaves no goroutines behind: receive loops stop.
func TestCloseStopsGoroutines(t *testing.T) {
	before := receiveLoops()
	p := newUDPPair(t, fastOpts, fastOpts)
	if receiveLoops() < before+2 {
		t.Fatal("receive loops not counted")
	}
	p.client.SendMessageToConnection(p.cconn, []byte("x"), SendReliable)
	p.client.Close()
	p.server.Close()
	waitFor(t, "receive loops to end", func() bool { return receiveLoops() <= before })
}

// The global fake-network options wrap sockets opened while they are set.
func TestFakeNetworkOptionsWrapSockets(t *testing.T) {
	open := func() endpoint.PacketConn {
		pc, err := endpoint.Listen(netip.MustParseAddrPort("127.0.0.1:0"), nil)
		if err != nil {
			t.Fatal(err)
		}
		w := wrapFaults(pc)
		t.Cleanup(func() { w.Close() })
		return w
	}
	if _, ok := open().(*netsim.Conn); ok {
		t.Error("wrapped without fake options")
	}
	if !SetGlobalConfigValue(FloatValue(OptFakePacketLossSend, 25)) {
		t.Fatal("set FakePacketLoss_Send")
	}
	defer ResetGlobalConfigValue(OptFakePacketLossSend)
	if _, ok := open().(*netsim.Conn); !ok {
		t.Error("not wrapped with FakePacketLoss_Send set")
	}
	if v, r := GlobalConfigValue(OptFakePacketLossSend); r != ConfigOK || v.Float() != 25 {
		t.Errorf("global value %v %v", v, r)
	}
}
