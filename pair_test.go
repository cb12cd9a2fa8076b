package mist

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

func newTestSockets(t *testing.T) *Sockets {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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
