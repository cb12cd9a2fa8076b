package natsim

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/transport/v5/vnet"
)

// TestGatewayBehaviour checks each NAT kind's mapping and filtering with
// plain datagrams: a host behind the gateway sends to p1 and q; then p1,
// p2 (same IP as p1, other port) and r (never contacted) send back to the
// mapping p1 saw.
func TestGatewayBehaviour(t *testing.T) {
	type want struct{ sameMapping, fromP1, fromP2, fromR bool }
	for nat, w := range map[NAT]want{
		FullCone:           {true, true, true, true},
		RestrictedCone:     {true, true, true, false},
		PortRestrictedCone: {true, true, false, false},
		Symmetric:          {false, true, false, false},
	} {
		t.Run(nat.String(), func(t *testing.T) {
			world, err := New()
			if err != nil {
				t.Fatal(err)
			}
			defer world.Close()
			site, _ := world.AddSite(nat)
			pub, _ := world.AddSite(Public)
			hostNet, hostIP, err := site.AddHost()
			if err != nil {
				t.Fatal(err)
			}
			pNet, pIP, _ := pub.AddHost()
			qNet, qIP, _ := pub.AddHost()
			rNet, rIP, _ := pub.AddHost()
			if err := world.Start(); err != nil {
				t.Fatal(err)
			}
			host := listen(t, hostNet, hostIP)
			p1, p2 := listen(t, pNet, pIP), listen(t, pNet, pIP)
			q, r := listen(t, qNet, qIP), listen(t, rNet, rIP)

			send(t, host, p1.LocalAddr())
			m1 := recvFrom(t, p1, true)
			if m1 == nil {
				t.Fatal("first datagram lost")
			}
			send(t, host, q.LocalAddr())
			m2 := recvFrom(t, q, true)
			if m2 == nil {
				t.Fatal("second datagram lost")
			}
			if same := m1.String() == m2.String(); same != w.sameMapping {
				t.Fatalf("mappings %v and %v: same=%v, want %v", m1, m2, same, w.sameMapping)
			}
			if ip := m1.(*net.UDPAddr).IP.String(); ip != site.PublicIP.String() {
				t.Fatalf("mapped IP %s, want the gateway's %s", ip, site.PublicIP)
			}
			for _, c := range []struct {
				name string
				from net.PacketConn
				want bool
			}{{"p1", p1, w.fromP1}, {"p2", p2, w.fromP2}, {"r", r, w.fromR}} {
				send(t, c.from, m1)
				if got := recvFrom(t, host, c.want) != nil; got != c.want {
					t.Fatalf("reply from %s delivered=%v, want %v", c.name, got, c.want)
				}
			}
		})
	}
}

func listen(t *testing.T, n *vnet.Net, ip netip.Addr) net.PacketConn {
	t.Helper()
	c, err := n.ListenPacket("udp4", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.PacketConn, to net.Addr) {
	t.Helper()
	if _, err := c.WriteTo([]byte("x"), to); err != nil {
		t.Fatal(err)
	}
}

// recvFrom waits for one datagram; when none is expected it waits briefly
// and returns nil.
func recvFrom(t *testing.T, c net.PacketConn, expected bool) net.Addr {
	t.Helper()
	wait := 2 * time.Second
	if !expected {
		wait = 200 * time.Millisecond
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	_, from, err := c.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return from
}
