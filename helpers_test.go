package mist

// Helpers shared by the scenario tests: instances joined over loopback UDP
// or an in-memory network, waiting, message patterns and seams.

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
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
	return newUDPPairWith(t, serverOpts, clientOpts, netSeams{}, netip.MustParseAddr("127.0.0.1"))
}

// newUDPPairWith lets the test replace the sockets of both instances and
// choose the server's IP.
func newUDPPairWith(t testing.TB, serverOpts, clientOpts []ConfigValue, seams netSeams, ip netip.Addr) *udpPair {
	t.Helper()
	p := &udpPair{}
	var err error
	if p.server, err = newSockets(Config{}, seams); err != nil {
		t.Fatal(err)
	}
	if p.client, err = newSockets(Config{}, seams); err != nil {
		t.Fatal(err)
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

// fastOpts lift the send rate so tests move data quickly.
var fastOpts = []ConfigValue{
	Int32Value(OptSendRateMin, 16<<20),
	Int32Value(OptSendRateMax, 16<<20),
	Int32Value(OptSendBufferSize, 4<<20),
}

// pattern fills a message whose content identifies it: index in the first
// bytes, then a byte sequence derived from it.
func pattern(idx, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(idx*31 + i)
	}
	if size >= 4 {
		binary.LittleEndian.PutUint32(b, uint32(idx))
	}
	return b
}

func checkPattern(b []byte) (int, bool) {
	if len(b) < 4 {
		return -1, false
	}
	idx := int(binary.LittleEndian.Uint32(b))
	for i := 4; i < len(b); i++ {
		if b[i] != byte(idx*31+i) {
			return idx, false
		}
	}
	return idx, true
}

func serverState(p *udpPair) ConnectionInfo {
	info, _ := p.server.ConnectionInfo(p.sconn)
	return info
}

func clientState(p *udpPair) ConnectionInfo {
	info, _ := p.client.ConnectionInfo(p.cconn)
	return info
}

func newTestSockets(t *testing.T) *Sockets {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memPair connects two instances over an in-memory network; call inside a
// synctest bubble.
func memPair(t *testing.T, serverOpts, clientOpts []ConfigValue) (*udpPair, *netsim.Network) {
	n := netsim.NewNetwork(netsim.WithSeed(3))
	p := newUDPPairWith(t, serverOpts, clientOpts, netSeams{
		listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return n.Listen(a) },
		dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
			return n.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		},
	}, netip.MustParseAddr("10.0.0.1"))
	return p, n
}

// receiveLoops counts the receive goroutines of all instances.
func receiveLoops() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*Socket).run(")
}

// fullSoak makes the long scenario tests run at full length (make soak):
// the lossy transfers with 10,000 reliable messages (by default 1,000 in
// memory and, over UDP, a sample of 40 that still spans 1 B to 512 KB).
var fullSoak = flag.Bool("mist.full", false, "run the long scenario tests at full length")

// withFaultyUDP opens real UDP sockets wrapped in fault injection on
// everything they send.
func withFaultyUDP(f netsim.Faults, seed uint64) netSeams {
	wrap := func(pc endpoint.PacketConn, err error) (endpoint.PacketConn, error) {
		if err != nil {
			return nil, err
		}
		return netsim.Wrap(pc, netsim.Options{Send: f, Seed: seed}), nil
	}
	return netSeams{
		listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return wrap(endpoint.Listen(a, nil)) },
		dial:   func(a netip.AddrPort) (endpoint.PacketConn, error) { return wrap(endpoint.Dial(a, nil)) },
	}
}

func sum(xs []int) (s int) {
	for _, x := range xs {
		s += x
	}
	return s
}

// mutePacketConn drops every write once muted: a process killed without a
// word to its peer.
type mutePacketConn struct {
	endpoint.PacketConn
	muted *atomic.Bool
}

func (m mutePacketConn) WriteBatch(ms []endpoint.Packet) (int, error) {
	if m.muted.Load() {
		return len(ms), nil
	}
	return m.PacketConn.WriteBatch(ms)
}
