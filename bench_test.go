package mist

import (
	"net"
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

// BenchmarkPingPong measures one round trip of a 32-byte reliable message
// over loopback UDP, each side waiting on MessagesReady as a blocking
// program would; BenchmarkPingPong/raw is the same exchange on plain UDP
// sockets, the reference the mist figure is read against.
func BenchmarkPingPong(b *testing.B) {
	b.Run("mist", func(b *testing.B) {
		p := newUDPPair(b, fastOpts, fastOpts)
		done := make(chan struct{})
		defer close(done)
		go func() {
			in := make([]*Message, 8)
			ready := p.server.MessagesReady()
			for {
				n := p.server.ReceiveMessagesOnConnection(p.sconn, in)
				if n < 0 {
					return
				}
				for _, m := range in[:n] {
					p.server.SendMessageToConnection(p.sconn, m.Data, SendReliableNoNagle)
					m.Release()
				}
				if n == 0 {
					select {
					case <-ready:
					case <-done:
						return
					}
				}
			}
		}()
		msg := make([]byte, 32)
		in := make([]*Message, 1)
		ready := p.client.MessagesReady()
		for b.Loop() {
			p.client.SendMessageToConnection(p.cconn, msg, SendReliableNoNagle)
			for p.client.ReceiveMessagesOnConnection(p.cconn, in) == 0 {
				<-ready
			}
			in[0].Release()
		}
	})
	b.Run("raw", func(b *testing.B) {
		srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := srv.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				srv.WriteToUDPAddrPort(buf[:n], from)
			}
		}()
		msg := make([]byte, 32)
		buf := make([]byte, 2048)
		for b.Loop() {
			cli.Write(msg)
			if _, err := cli.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
