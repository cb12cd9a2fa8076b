package mist

import (
	"net/netip"
	"testing"
)

func TestUDPCloseReachesPeer(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	p.client.CloseConnection(p.cconn, 1042, "done here", false)
	waitFor(t, "ClosedByPeer", func() bool { return serverState(p).State == StateClosedByPeer }, p.server, p.client)
	info := serverState(p)
	if info.EndReason != 1042 || info.EndDebug != "done here" {
		t.Errorf("server sees %d %q", info.EndReason, info.EndDebug)
	}
	// Events: server None→Connecting→Connected→ClosedByPeer.
	p.server.RunCallbacks()
	var states []ConnState
	for _, ev := range p.sEvents {
		states = append(states, ev.Info.State)
	}
	if len(states) != 3 || states[0] != StateConnecting || states[1] != StateConnected || states[2] != StateClosedByPeer {
		t.Errorf("server events %v", states)
	}
	if p.sEvents[0].Info.ListenSocket != p.ls {
		t.Error("inbound connection without its listen socket")
	}
	// Client events: Connecting, Connected, then None on its own close.
	p.client.RunCallbacks()
	last := p.cEvents[len(p.cEvents)-1]
	if last.Info.State != StateNone || last.OldState != StateConnected {
		t.Errorf("client's last event %v from %v", last.Info.State, last.OldState)
	}
}

func TestUDPServerRejects(t *testing.T) {
	s, _ := New(Config{})
	c, _ := New(Config{})
	defer s.Close()
	defer c.Close()
	s.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			s.CloseConnection(ev.Conn, 1234, "go away", false)
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	s.CreateListenSocketIP(addr)
	h := c.ConnectByIPAddress(addr)
	waitFor(t, "rejection", func() bool {
		info, _ := c.ConnectionInfo(h)
		return info.State == StateClosedByPeer
	}, s, c)
	info, _ := c.ConnectionInfo(h)
	if info.EndReason != 1234 || info.EndDebug != "go away" {
		t.Errorf("client sees %d %q", info.EndReason, info.EndDebug)
	}
}

func TestUDPLinger(t *testing.T) {
	slow := []ConfigValue{Int32Value(OptSendBufferSize, 2<<20)}
	for _, linger := range []bool{true, false} {
		p := newUDPPair(t, slow, slow)
		big := make([]byte, 256*1024)
		for range 3 {
			if _, r := p.client.SendMessageToConnection(p.cconn, big, SendReliable); r != ResultOK {
				t.Fatal(r)
			}
		}
		p.client.CloseConnection(p.cconn, 0, "", linger)
		got := 0
		buf := make([]*Message, 8)
		waitFor(t, "ClosedByPeer", func() bool {
			n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
			for _, m := range buf[:max(n, 0)] {
				got++
				m.Release()
			}
			return serverState(p).State == StateClosedByPeer
		}, p.server, p.client)
		for n := p.server.ReceiveMessagesOnConnection(p.sconn, buf); n > 0; n = p.server.ReceiveMessagesOnConnection(p.sconn, buf) {
			got += n
			for _, m := range buf[:n] {
				m.Release()
			}
		}
		if linger && got != 3 {
			t.Errorf("linger: %d of 3 messages delivered before the close", got)
		}
		if !linger && got == 3 {
			t.Errorf("no linger: all data still delivered")
		}
	}
}

func TestUDPReceiveBackPressure(t *testing.T) {
	server := append([]ConfigValue{Int32Value(OptRecvBufferMessages, 2)}, fastOpts...)
	p := newUDPPair(t, server, fastOpts)
	const total = 6
	for i := range total {
		p.client.SendMessageToConnection(p.cconn, pattern(i, 100), SendReliable)
	}
	// The queue fills to its limit and stays there while unread.
	waitFor(t, "queue full", func() bool {
		st, _ := p.client.ConnectionRealTimeStatus(p.cconn, nil)
		return st.PendingReliable == 0
	}, p.server, p.client)
	next := 0
	buf := make([]*Message, 1)
	waitFor(t, "all messages", func() bool {
		if n := p.server.ReceiveMessagesOnConnection(p.sconn, buf); n == 1 {
			if idx, _ := checkPattern(buf[0].Data); idx != next {
				t.Errorf("message %d, want %d", idx, next)
			}
			next++
			buf[0].Release()
		}
		return next == total
	}, p.server, p.client)
	if serverState(p).State != StateConnected {
		t.Error("connection ended")
	}
}

func TestUDPMessageTooLargeForPeer(t *testing.T) {
	server := append([]ConfigValue{Int32Value(OptRecvMaxMessageSize, 1000)}, fastOpts...)
	p := newUDPPair(t, server, fastOpts)
	p.client.SendMessageToConnection(p.cconn, make([]byte, 5000), SendReliable)
	waitFor(t, "problem detected", func() bool {
		return serverState(p).State == StateProblemDetectedLocally && clientState(p).State == StateClosedByPeer
	}, p.server, p.client)
	if r := serverState(p).EndReason; r != EndMiscInternalError {
		t.Errorf("server end reason %d", r)
	}
	if r := clientState(p).EndReason; r != EndMiscInternalError {
		t.Errorf("client sees end reason %d", r)
	}
}

func TestUDPCloseListenSocket(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	if a, ok := p.server.ListenSocketAddress(p.ls); !ok || a.Port() == 0 {
		t.Errorf("ListenSocketAddress %v %v", a, ok)
	}
	if !p.server.CloseListenSocket(p.ls) {
		t.Fatal("CloseListenSocket")
	}
	if _, ok := p.server.ConnectionInfo(p.sconn); ok {
		t.Error("child connection survived its listen socket")
	}
	if p.server.CloseListenSocket(p.ls) {
		t.Error("closed twice")
	}
}

func TestUDPRealTimeStatus(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	p.client.ConnectionRealTimeStatus(p.cconn, nil)
	for range 20 {
		p.client.SendMessageToConnection(p.cconn, make([]byte, 1000), SendReliable)
	}
	for _, m := range receiveAll(t, p.server, p.sconn, 20) {
		m.Release()
	}
	lanes := make([]LaneStatus, 1)
	st, r := p.client.ConnectionRealTimeStatus(p.cconn, lanes)
	if r != ResultOK || st.State != StateConnected || st.OutBytesPerSec <= 0 || st.SendRate != 16<<20 || st.Ping < 0 {
		t.Errorf("status %+v %v", st, r)
	}
	if _, r := p.client.ConnectionRealTimeStatus(p.cconn, make([]LaneStatus, 2)); r != ResultInvalidParam {
		t.Errorf("two lanes of one: %v", r)
	}
	if d, ok := p.client.DetailedConnectionStatus(p.cconn); !ok || len(d) == 0 {
		t.Error("no detailed status")
	}
}

func TestUDPLanes(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	if r := p.client.ConfigureConnectionLanes(p.cconn, []int{0, 1}, []uint16{1, 1}); r != ResultOK {
		t.Fatalf("ConfigureConnectionLanes = %v", r)
	}
	if r := p.client.ConfigureConnectionLanes(p.cconn, []int{0}, nil); r != ResultInvalidParam {
		t.Errorf("fewer lanes = %v", r)
	}
	if r := p.client.ConfigureConnectionLanes(p.cconn, nil, []uint16{1, 0}); r != ResultInvalidParam {
		t.Errorf("zero weight = %v", r)
	}
	msgs := []*Message{NewMessage(3), NewMessage(3)}
	for i, m := range msgs {
		copy(m.Data, "abc")
		m.Conn, m.Flags, m.Lane = p.cconn, SendReliable, uint16(i)
	}
	if res := p.client.SendMessages(msgs, true); res[0] != 1 || res[1] != 1 {
		t.Errorf("numbers per lane %v", res)
	}
	got := receiveAll(t, p.server, p.sconn, 2)
	lanes := map[uint16]bool{}
	for _, m := range got {
		lanes[m.Lane] = true
		m.Release()
	}
	if !lanes[0] || !lanes[1] {
		t.Errorf("lanes received %v", lanes)
	}
}

func TestUDPShutdownTellsPeer(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	p.client.Close()
	waitFor(t, "ClosedByPeer", func() bool { return serverState(p).State == StateClosedByPeer }, p.server)
	if info := serverState(p); info.EndReason != EndAppExceptionMax || info.EndDebug != "SteamNetworkingSockets shutdown" {
		t.Errorf("server sees %d %q", info.EndReason, info.EndDebug)
	}
	if p.client.ConnectByIPAddress(netip.MustParseAddrPort("127.0.0.1:9")) != 0 {
		t.Error("connect after Close")
	}
}

// TestUDPRealTimeStatusLanes: per-lane status shows what each lane has
// queued, adding up to the connection's totals.
func TestUDPRealTimeStatusLanes(t *testing.T) {
	slow := []ConfigValue{Int32Value(OptSendRateMin, 64_000), Int32Value(OptSendRateMax, 64_000)}
	p := newUDPPair(t, fastOpts, slow)
	if r := p.client.ConfigureConnectionLanes(p.cconn, []int{0, 1}, nil); r != ResultOK {
		t.Fatalf("ConfigureConnectionLanes = %v", r)
	}
	var msgs []*Message
	for i, n := range []int{4000, 40_000, 1000} {
		m := NewMessage(n)
		m.Conn, m.Flags, m.Lane = p.cconn, SendReliable, uint16(i%2)
		msgs = append(msgs, m)
	}
	p.client.SendMessages(msgs, true)
	lanes := make([]LaneStatus, 2)
	st, r := p.client.ConnectionRealTimeStatus(p.cconn, lanes)
	if r != ResultOK {
		t.Fatal(r)
	}
	if lanes[0].PendingReliable+lanes[1].PendingReliable != st.PendingReliable {
		t.Errorf("lanes pending %d + %d, connection %d", lanes[0].PendingReliable, lanes[1].PendingReliable, st.PendingReliable)
	}
	if lanes[1].PendingReliable < 30_000 || lanes[1].QueueTime <= 0 {
		t.Errorf("lane 1 with 40 kB queued at 64 kB/s: %+v", lanes[1])
	}
	if lanes[0].PendingReliable >= lanes[1].PendingReliable {
		t.Errorf("lane 0 (%d pending) goes first, lane 1 has %d", lanes[0].PendingReliable, lanes[1].PendingReliable)
	}
}
