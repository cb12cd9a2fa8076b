package mist

import (
	"sync"
	"testing"
)

// acceptAllContext takes every connect request, with signaling that goes
// nowhere.
type acceptAllContext struct{}

func (acceptAllContext) OnConnectRequest(uint32, string, int) ConnectionSignaling {
	return SignalingFuncs{OnSend: func(SignalingHeader, []byte) bool { return true }}
}
func (acceptAllContext) SendRejectionSignal(string, []byte) {}

// FuzzReceivedP2PCustomSignal feeds arbitrary signals to an instance with
// a P2P listen socket: nothing may panic, and every signal gets a result.
// The seeds are real signals: a connect request and a follow-up.
func FuzzReceivedP2PCustomSignal(f *testing.F) {
	var mu sync.Mutex
	var seeds [][]byte
	spy := SignalingFuncs{OnSend: func(h SignalingHeader, blob []byte) bool {
		mu.Lock()
		seeds = append(seeds, append([]byte(nil), blob...))
		mu.Unlock()
		return true
	}}
	eve, err := New(Config{Identity: mustIdentity(f, "str:eve")})
	if err != nil {
		f.Fatal(err)
	}
	defer eve.Close()
	eve.p2p.iceLoopback = true
	alice := mustIdentity(f, "str:alice")
	if _, err := eve.ConnectP2PCustomSignaling(spy, alice, 0); err != nil {
		f.Fatal(err)
	}
	waitFor(f, "a signal", func() bool { mu.Lock(); defer mu.Unlock(); return len(seeds) > 0 })
	mu.Lock()
	for _, s := range seeds {
		f.Add(s)
	}
	mu.Unlock()
	f.Add([]byte{})
	f.Add([]byte{0x0d, 1, 2, 3, 4})

	s, err := New(Config{Identity: alice})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	s.p2p.iceLoopback = true
	if _, err := s.CreateListenSocketP2P(0); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		s.ReceivedP2PCustomSignal(blob, acceptAllContext{})
		s.ReceivedP2PCustomSignal(blob, declineContext{})
		s.p2p.mu.Lock()
		n := s.p2p.router.Len()
		s.p2p.mu.Unlock()
		if n > 4096 {
			t.Fatalf("%d sessions", n)
		}
	})
}

func mustIdentity(t testing.TB, s string) Identity {
	id, ok := ParseIdentity(s)
	if !ok {
		t.Fatal("bad identity", s)
	}
	return id
}
