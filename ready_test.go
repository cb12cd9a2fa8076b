package mist

import "testing"

func TestMessagesReadySignalsQueuedMessages(t *testing.T) {
	s := newTestSockets(t)
	a, b, ok := s.CreateSocketPair(false, nil, nil)
	if !ok {
		t.Fatal("CreateSocketPair failed")
	}
	select {
	case <-s.MessagesReady():
		t.Fatal("signalled before anything was sent")
	default:
	}
	for range 3 {
		if _, r := s.SendMessageToConnection(a, []byte("x"), SendReliable); r != ResultOK {
			t.Fatalf("send: %v", r)
		}
	}
	select {
	case <-s.MessagesReady():
	default:
		t.Fatal("no signal after messages were queued")
	}
	select {
	case <-s.MessagesReady():
		t.Fatal("three messages left more than one pending signal")
	default:
	}
	out := make([]*Message, 4)
	if n := s.ReceiveMessagesOnConnection(b, out); n != 3 {
		t.Fatalf("received %d messages, want 3", n)
	}
	for _, m := range out[:3] {
		m.Release()
	}
}
