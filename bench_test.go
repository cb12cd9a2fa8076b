package mist

import (
	"runtime"
	"testing"
)

// BenchmarkPairSendReceive measures the API path alone: one message sent
// and received through an in-process socket pair.
func BenchmarkPairSendReceive(b *testing.B) {
	s, _ := New(Config{})
	defer s.Close()
	a, c, _ := s.CreateSocketPair(false, nil, nil)
	payload := make([]byte, 100)
	out := make([]*Message, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		s.SendMessageToConnection(a, payload, SendReliable)
		if s.ReceiveMessagesOnConnection(c, out) != 1 {
			b.Fatal("no message")
		}
		out[0].Release()
	}
}

// BenchmarkUDPSendReceive sends batches of messages over loopback UDP and
// receives them, reporting allocations per message.
func BenchmarkUDPSendReceive(b *testing.B) {
	p := newUDPPair(b, fastOpts, fastOpts)
	const batch = 64
	payload := make([]byte, 200)
	out := make([]*Message, batch)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)) * batch)
	for b.Loop() {
		for range batch {
			p.client.SendMessageToConnection(p.cconn, payload, SendReliable|SendNoNagle)
		}
		got := 0
		for got < batch {
			n := p.server.ReceiveMessagesOnConnection(p.sconn, out)
			for _, m := range out[:n] {
				m.Release()
			}
			got += n
			if n == 0 {
				runtime.Gosched()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
}

// The steady-state receive path (queue, poll, release) allocates nothing.
func TestReceivePathAllocations(t *testing.T) {
	s := newTestSockets(t)
	a, c, _ := s.CreateSocketPair(false, nil, nil)
	g := s.CreatePollGroup()
	s.SetConnectionPollGroup(c, g)
	payload := make([]byte, 300)
	out := make([]*Message, 4)
	run := func() {
		s.SendMessageToConnection(a, payload, SendReliable)
		s.SendMessageToConnection(a, payload, SendUnreliable)
		n := s.ReceiveMessagesOnPollGroup(g, out[:1])
		n += s.ReceiveMessagesOnConnection(c, out[1:])
		if n != 2 {
			t.Fatalf("received %d", n)
		}
		out[0].Release()
		out[1].Release()
	}
	run()
	allocs := testing.AllocsPerRun(1000, run)
	if raceEnabled {
		t.Logf("%v allocations per send+receive (not checked under -race)", allocs)
		return
	}
	if allocs != 0 {
		t.Errorf("%v allocations per send+receive", allocs)
	}
}
