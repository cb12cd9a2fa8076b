package mist

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

func TestSocketPairSendReceive(t *testing.T) {
	s := newTestSockets(t)
	a, b, ok := s.CreateSocketPair(false, nil, nil)
	if !ok || a == 0 || b == 0 || a == b {
		t.Fatalf("CreateSocketPair = %d, %d, %v", a, b, ok)
	}
	for i, payload := range [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{7}, MaxMessageSize)} {
		n, r := s.SendMessageToConnection(a, payload, SendReliable)
		if r != ResultOK || n != int64(i+1) {
			t.Fatalf("send %d: n=%d r=%v", i, n, r)
		}
	}
	out := make([]*Message, 8)
	got := s.ReceiveMessagesOnConnection(b, out)
	if got != 3 {
		t.Fatalf("received %d messages, want 3", got)
	}
	if string(out[0].Data) != "hello" || len(out[1].Data) != 0 || len(out[2].Data) != MaxMessageSize {
		t.Fatalf("bad payloads")
	}
	for i, m := range out[:got] {
		if m.Conn != b || m.MessageNumber != int64(i+1) || m.Flags != SendReliable {
			t.Errorf("message %d: conn=%d num=%d flags=%d", i, m.Conn, m.MessageNumber, m.Flags)
		}
		m.Release()
	}
	if _, r := s.SendMessageToConnection(a, make([]byte, MaxMessageSize+1), SendReliable); r != ResultInvalidParam {
		t.Errorf("oversized send = %v, want InvalidParam", r)
	}
}

func TestSocketPairCloseGivesClosedByPeer(t *testing.T) {
	s := newTestSockets(t)
	var events []*ConnStatusChanged
	s.OnConnectionStatusChanged(func(ev *ConnStatusChanged) { events = append(events, ev) })
	a, b, _ := s.CreateSocketPair(false, nil, nil)
	s.SendMessageToConnection(a, []byte("last words"), SendReliable)
	if !s.CloseConnection(a, 1234, "bye", false) {
		t.Fatal("close failed")
	}
	if s.CloseConnection(a, 0, "", false) {
		t.Error("second close succeeded")
	}
	s.RunCallbacks()
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	if ev := events[0]; ev.Conn != a || ev.OldState != StateConnected || ev.Info.State != StateNone {
		t.Errorf("first event %+v", ev)
	}
	ev := events[1]
	if ev.Conn != b || ev.Info.State != StateClosedByPeer || ev.Info.EndReason != 1234 || ev.Info.EndDebug != "bye" {
		t.Errorf("second event %+v", ev)
	}
	_, r := s.SendMessageToConnection(b, []byte("x"), SendReliable)
	if r != ResultNoConnection || !errors.Is(r, net.ErrClosed) {
		t.Errorf("send on ClosedByPeer = %v", r)
	}
	out := make([]*Message, 4)
	if n := s.ReceiveMessagesOnConnection(b, out); n != 1 || string(out[0].Data) != "last words" {
		t.Errorf("ClosedByPeer connection should keep its queued message, got %d", n)
	}
	out[0].Release()
}

func TestSocketPairOverUDP(t *testing.T) {
	s := newTestSockets(t)
	var events int
	s.OnConnectionStatusChanged(func(*ConnStatusChanged) { events++ })
	id := SteamIDIdentity(76561197960287930)
	a, b, ok := s.CreateSocketPair(true, &id, nil)
	if !ok {
		t.Fatal("CreateSocketPair over UDP failed")
	}
	s.RunCallbacks()
	if events != 0 {
		t.Errorf("%d callbacks for the initial transition", events)
	}
	ia, _ := s.ConnectionInfo(a)
	ib, _ := s.ConnectionInfo(b)
	if ia.State != StateConnected || ib.State != StateConnected || ia.RemoteIdentity != id || ib.RemoteIdentity.Type() != IdentityIPAddress {
		t.Fatalf("infos %+v / %+v", ia, ib)
	}
	if ia.Flags&ConnInfoUnencrypted != 0 || ia.Flags&ConnInfoLoopbackBuffers != 0 {
		t.Errorf("flags %b", ia.Flags)
	}
	s.SendMessageToConnection(a, []byte("over the wire"), SendReliable)
	got := receiveAll(t, s, b, 1)
	if string(got[0].Data) != "over the wire" {
		t.Errorf("got %q", got[0].Data)
	}
	got[0].Release()
	s.CloseConnection(a, 1001, "done", false)
	waitFor(t, "ClosedByPeer", func() bool {
		info, _ := s.ConnectionInfo(b)
		return info.State == StateClosedByPeer && info.EndReason == 1001
	}, s)
}
