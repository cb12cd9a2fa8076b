package mist

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// freeUDPPort finds a port that is free right now on loopback.
func freeUDPPort(t testing.TB) uint16 {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// waitFor runs callbacks until cond holds; the bound is generous so that a
// slow machine does not fail the test.
func waitFor(t testing.TB, what string, cond func() bool, ss ...*Sockets) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		for _, s := range ss {
			s.RunCallbacks()
		}
		time.Sleep(time.Millisecond)
	}
}

// udpPair connects a client to a server over loopback UDP. The server
// accepts every connection.
type udpPair struct {
	server, client *Sockets
	ls             ListenSocket
	sconn, cconn   Conn
	sEvents        []*ConnStatusChanged
	cEvents        []*ConnStatusChanged
}

func newUDPPair(t testing.TB, serverOpts, clientOpts []ConfigValue) *udpPair {
	return newUDPPairWith(t, serverOpts, clientOpts, nil, netip.MustParseAddr("127.0.0.1"))
}

// newUDPPairWith lets the test replace the sockets (setup runs on both
// instances before they open any) and choose the server's IP.
func newUDPPairWith(t testing.TB, serverOpts, clientOpts []ConfigValue, setup func(*Sockets), ip netip.Addr) *udpPair {
	t.Helper()
	p := &udpPair{}
	var err error
	if p.server, err = New(Config{}); err != nil {
		t.Fatal(err)
	}
	if p.client, err = New(Config{}); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p.server)
		setup(p.client)
	}
	t.Cleanup(func() { p.client.Close(); p.server.Close() })
	p.server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		p.sEvents = append(p.sEvents, ev)
		if ev.Info.State == StateConnecting {
			if r := p.server.AcceptConnection(ev.Conn); r != ResultOK {
				t.Errorf("AcceptConnection = %v", r)
			}
			p.sconn = ev.Conn
		}
	})
	p.client.OnConnectionStatusChanged(func(ev *ConnStatusChanged) { p.cEvents = append(p.cEvents, ev) })
	port := uint16(27015)
	if ip.IsLoopback() {
		port = freeUDPPort(t)
	}
	addr := netip.AddrPortFrom(ip, port)
	if p.ls = p.server.CreateListenSocketIP(addr, serverOpts...); p.ls == 0 {
		t.Fatal("CreateListenSocketIP failed")
	}
	if p.cconn = p.client.ConnectByIPAddress(addr, clientOpts...); p.cconn == 0 {
		t.Fatal("ConnectByIPAddress failed")
	}
	waitFor(t, "connection", func() bool {
		ci, _ := p.client.ConnectionInfo(p.cconn)
		si, _ := p.server.ConnectionInfo(p.sconn)
		return ci.State == StateConnected && si.State == StateConnected
	}, p.server, p.client)
	return p
}

func receiveAll(t testing.TB, s *Sockets, c Conn, want int) []*Message {
	t.Helper()
	var got []*Message
	buf := make([]*Message, 64)
	waitFor(t, fmt.Sprintf("%d messages", want), func() bool {
		n := s.ReceiveMessagesOnConnection(c, buf)
		got = append(got, buf[:max(n, 0)]...)
		return len(got) >= want
	}, s)
	return got
}

func TestUDPConnectSendReceive(t *testing.T) {
	for _, unenc := range []int32{0, 3} {
		t.Run(fmt.Sprint("Unencrypted=", unenc), func(t *testing.T) {
			opts := append([]ConfigValue{Int32Value(OptUnencrypted, unenc)}, fastOpts...)
			p := newUDPPair(t, opts, opts)
			info, _ := p.client.ConnectionInfo(p.cconn)
			if (info.Flags&ConnInfoUnencrypted != 0) != (unenc == 3) {
				t.Errorf("flags %b", info.Flags)
			}
			sizes := []int{1, 0, 100, 1200, 5000, 100_000, MaxMessageSize}
			for i, n := range sizes {
				msg := bytes.Repeat([]byte{byte(i + 1)}, n)
				if _, r := p.client.SendMessageToConnection(p.cconn, msg, SendReliable); r != ResultOK {
					t.Fatalf("send %d bytes: %v", n, r)
				}
			}
			got := receiveAll(t, p.server, p.sconn, len(sizes))
			for i, m := range got {
				if len(m.Data) != sizes[i] || (sizes[i] > 0 && m.Data[0] != byte(i+1)) || m.MessageNumber != int64(i+1) {
					t.Errorf("message %d: %d bytes, number %d", i, len(m.Data), m.MessageNumber)
				}
				m.Release()
			}
		})
	}
}

// A message carries the time its packet arrived.
func TestUDPTimeReceived(t *testing.T) {
	p := newUDPPair(t, nil, nil)
	before := time.Now()
	if _, r := p.client.SendMessageToConnection(p.cconn, []byte("when"), SendReliableNoNagle); r != ResultOK {
		t.Fatal(r)
	}
	m := receiveAll(t, p.server, p.sconn, 1)[0]
	defer m.Release()
	if m.TimeReceived.Before(before) || m.TimeReceived.After(time.Now()) {
		t.Fatalf("TimeReceived %v outside [%v, now]", m.TimeReceived, before)
	}
}
