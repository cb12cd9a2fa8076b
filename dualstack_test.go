package mist

import (
	"net/netip"
	"testing"
)

// A listen socket on [::]:port takes IPv4 and IPv6 clients alike.
func TestDualStackListenSocket(t *testing.T) {
	server := newTestSockets(t)
	server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			server.AcceptConnection(ev.Conn)
		}
	})
	port := freeUDPPort(t)
	if server.CreateListenSocketIP(netip.AddrPortFrom(netip.IPv6Unspecified(), port)) == 0 {
		t.Skip("no dual-stack socket here")
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		client := newTestSockets(t)
		h := client.ConnectByIPAddress(netip.AddrPortFrom(netip.MustParseAddr(ip), port))
		waitFor(t, "connection to "+ip, func() bool {
			info, _ := client.ConnectionInfo(h)
			return info.State == StateConnected
		}, server, client)
		info, _ := client.ConnectionInfo(h)
		if info.RemoteAddr.Addr().String() != ip {
			t.Errorf("remote address %v", info.RemoteAddr)
		}
	}
}
