package mist

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
)

// TestListenSocketFlood throws garbage and spoofed handshake messages at a
// listen socket: no connection appears, the heap stays bounded, and a real
// client still gets in afterwards.
func TestListenSocketFlood(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	addr, _ := p.server.ListenSocketAddress(p.ls)
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	datagram := make([]byte, 600)
	for i := range 20_000 {
		n := 5 + i%590
		for j := range datagram[:n] {
			datagram[j] = byte(i*13 + j*7)
		}
		switch i % 4 {
		case 0: // ChallengeRequest, padded
			datagram[0], datagram[1], datagram[2] = 0x20, 6, 0
			datagram[3] = 0x0d
			binary.LittleEndian.PutUint32(datagram[4:], uint32(i)|1)
			n = 512
		case 1: // ConnectRequest with a made-up challenge
			datagram[0] = 0x22
		case 2: // data
			datagram[0] = 0x80
		}
		raw.Write(datagram[:n])
	}
	// Let the receive loop work through the socket (the kernel may drop
	// part of the flood).
	waitFor(t, "flood processed", func() bool {
		st := p.server.listens[p.ls].udp.ListenerStats()
		return st.ChallengesSent+st.Dropped+st.BadChallenges > 2_000
	})
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grown := int64(ms.HeapAlloc) - int64(before); grown > 4<<20 {
		t.Errorf("heap grew by %d bytes", grown)
	}
	p.server.mu.RLock()
	n := len(p.server.conns)
	p.server.mu.RUnlock()
	if n != 1 {
		t.Errorf("%d connections after the flood, want the 1 real one", n)
	}
	if st := serverState(p); st.State != StateConnected {
		t.Errorf("real connection %v", st.State)
	}
}

func TestEventsChannel(t *testing.T) {
	s := newTestSockets(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := s.Events(ctx)
	a, _, _ := s.CreateSocketPair(false, nil, nil)
	s.CloseConnection(a, 0, "", false)
	s.InitAuthentication()
	var got []Event
	timeout := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("got %d events", len(got))
		}
	}
	if ev, ok := got[0].(*ConnStatusChanged); !ok || ev.Conn != a || ev.Info.State != StateNone {
		t.Errorf("first event %#v", got[0])
	}
	if ev, ok := got[2].(*AuthStatus); !ok || ev.Avail != AvailabilityCurrent {
		t.Errorf("third event %#v", got[2])
	}
	cancel()
	for range events {
	}
}

// TestListenSocketRefusesOversize: a listen socket answers a padded
// ChallengeRequest of MaxUDPPayload bytes and ignores one a byte longer,
// counting it as dropped.
func TestListenSocketRefusesOversize(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	addr, _ := p.server.ListenSocketAddress(p.ls)
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	dropped := func() uint64 { return p.server.listens[p.ls].udp.ListenerStats().Dropped }
	request := func(n int) []byte {
		b := make([]byte, n)
		b[0], b[1], b[2] = 0x20, 5, 0 // padded ChallengeRequest, 5-byte body
		b[3] = 0x0d                   // connection_id, fixed32
		binary.LittleEndian.PutUint32(b[4:], 0x1234)
		return b
	}
	reply := make([]byte, 2048)
	before := dropped()
	raw.Write(request(1301))
	raw.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := raw.Read(reply); err == nil {
		t.Fatalf("got a %d-byte reply to a 1301-byte ChallengeRequest", n)
	}
	waitFor(t, "oversize datagram counted", func() bool { return dropped() > before })
	raw.Write(request(1300))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(reply); err != nil || reply[0] != 0x21 {
		t.Fatalf("no ChallengeReply to a 1300-byte ChallengeRequest: %d bytes, %v", n, err)
	}
}

// TestClientRestartOnSamePort: a client that dies silently and restarts on
// the same local port with a new connection id gets connected promptly,
// and the server ends the old connection, whose address it takes over.
func TestClientRestartOnSamePort(t *testing.T) {
	local := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	var muted atomic.Bool
	p := newUDPPairWith(t, fastOpts, fastOpts, netSeams{dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
		pc, err := endpoint.Listen(local, nil)
		if err != nil {
			return nil, err
		}
		return mutePacketConn{pc, &muted}, nil
	}}, netip.MustParseAddr("127.0.0.1"))
	oldServerConn := p.sconn
	if _, r := p.client.SendMessageToConnection(p.cconn, []byte("before the crash"), SendReliable); r != ResultOK {
		t.Fatalf("send: %v", r)
	}
	receiveAll(t, p.server, p.sconn, 1)
	muted.Store(true)
	p.client.Close()

	restarted, err := newSockets(Config{}, netSeams{dial: func(netip.AddrPort) (endpoint.PacketConn, error) { return endpoint.Listen(local, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	addr, _ := p.server.ListenSocketAddress(p.ls)
	start := time.Now()
	c := restarted.ConnectByIPAddress(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port()), fastOpts...)
	if c == InvalidConn {
		t.Fatal("ConnectByIPAddress failed")
	}
	for {
		restarted.RunCallbacks()
		p.server.RunCallbacks()
		if ci, _ := restarted.ConnectionInfo(c); ci.State == StateConnected {
			break
		} else if ci.State != StateConnecting {
			t.Fatalf("restarted client: %v, %d %q", ci.State, ci.EndReason, ci.EndDebug)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("restarted client not connected after 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("restarted client connected after %v", time.Since(start))
	if old, _ := p.server.ConnectionInfo(oldServerConn); old.State != StateProblemDetectedLocally || old.EndReason != EndMiscTimeout {
		t.Errorf("old server connection: %v, reason %d", old.State, old.EndReason)
	}
	if p.sconn == oldServerConn {
		t.Fatal("the server did not accept a new connection")
	}
	if _, r := restarted.SendMessageToConnection(c, []byte("after"), SendReliable); r != ResultOK {
		t.Fatalf("send: %v", r)
	}
	if got := receiveAll(t, p.server, p.sconn, 1); string(got[0].Data) != "after" {
		t.Errorf("got %q", got[0].Data)
	}
}

// challengeRequest is a padded ChallengeRequest of n bytes from client
// connection id.
func challengeRequest(n int, id uint32) []byte {
	b := make([]byte, n)
	b[0], b[1], b[2] = 0x20, 5, 0 // padded ChallengeRequest, 5-byte body
	b[3] = 0x0d                   // connection_id, fixed32
	binary.LittleEndian.PutUint32(b[4:], id)
	return b
}

// TestChallengeRepliesLimitedPerSource: one source address flooding
// ChallengeRequests gets a bounded number of replies per second; the rest
// are dropped and counted.
func TestChallengeRepliesLimitedPerSource(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	addr, _ := p.server.ListenSocketAddress(p.ls)
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	before := p.server.listens[p.ls].udp.ListenerStats()
	const sent = 200
	for i := range sent {
		raw.Write(challengeRequest(512, uint32(i)|1))
		if i%20 == 19 {
			time.Sleep(time.Millisecond) // stay within the socket buffer
		}
	}
	replies := 0
	buf := make([]byte, 2048)
	for {
		raw.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := raw.Read(buf); err != nil {
			break
		}
		replies++
	}
	after := p.server.listens[p.ls].udp.ListenerStats()
	// The flood took well under a second: at most two windows' worth.
	if replies == 0 || replies > 32 {
		t.Errorf("%d replies to %d ChallengeRequests from one source, want 1..32", replies, sent)
	}
	if dropped := after.Dropped - before.Dropped; dropped < uint64(sent-replies)/2 {
		t.Errorf("%d of the %d unanswered requests counted as dropped", dropped, sent-replies)
	}
	// Another source is not affected.
	other, err := net.DialUDP("udp4", nil, raw.RemoteAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.Write(challengeRequest(512, 7))
	other.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := other.Read(buf); err != nil || buf[0] != 0x21 {
		t.Errorf("a second source got no ChallengeReply: %v", err)
	}
}
