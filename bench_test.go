package mist

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkVictimUnderChallengeFlood measures one connection's echo round
// trip over loopback UDP while 64 other sources (as a spoofer's would be)
// flood the same listen socket with ChallengeRequests, against the same
// round trip with no flood. It reports the round trip's p50 and p99 and the
// flood's rate. Figures from a shared machine are noisy: compare the two
// sub-benchmarks of one run.
func BenchmarkVictimUnderChallengeFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			p := newUDPPair(b, fastOpts, fastOpts)
			addr, _ := p.server.ListenSocketAddress(p.ls)
			target := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port()))
			stop := make(chan struct{})
			var flooded atomic.Int64
			var wg sync.WaitGroup
			if flood {
				var socks []*net.UDPConn
				for range 64 {
					c, err := net.DialUDP("udp4", nil, target)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					socks = append(socks, c)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := challengeRequest(512, 1)
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						binary.LittleEndian.PutUint32(req[4:], uint32(i)|1)
						if _, err := socks[i%len(socks)].Write(req); err == nil {
							flooded.Add(1)
						}
					}
				}()
			}
			// The server echoes what it receives.
			ctx, cancel := context.WithCancel(context.Background())
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := make([]*Message, 16)
				for {
					n, err := p.server.ReceiveMessagesOnConnectionWait(ctx, p.sconn, in)
					if err != nil || n < 0 {
						return
					}
					for _, m := range in[:n] {
						p.server.SendMessageToConnection(p.sconn, m.Data, SendReliable|SendNoNagle)
						m.Release()
					}
				}
			}()
			elapsed := victimRoundTrips(b, p.client, p.cconn)
			close(stop)
			cancel()
			wg.Wait()
			b.ReportMetric(float64(flooded.Load())/elapsed.Seconds(), "flood-pkt/s")
		})
	}
}

// BenchmarkVictimUnderPeerFlood measures one connection's echo round trip
// while another authenticated connection to the same listen socket sends
// 16-byte unreliable messages, each in its own packet, as fast as its send
// rate allows; the server reads both through one poll group, echoing the
// victim and dropping the flood. Noisy on a shared machine: compare the
// two sub-benchmarks of one run.
func BenchmarkVictimUnderPeerFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			p := newUDPPair(b, fastOpts, fastOpts)
			g := p.server.CreatePollGroup()
			p.server.SetConnectionPollGroup(p.sconn, g)
			victim := p.sconn
			stop := make(chan struct{})
			var flooded atomic.Int64
			var wg sync.WaitGroup
			if flood {
				addr, _ := p.server.ListenSocketAddress(p.ls)
				fc := p.client.ConnectByIPAddress(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port()), fastOpts...)
				waitFor(b, "flooder connected", func() bool {
					ci, _ := p.client.ConnectionInfo(fc)
					return ci.State == StateConnected
				}, p.server, p.client)
				p.server.mu.RLock()
				for h := range p.server.conns {
					if h != victim {
						p.server.SetConnectionPollGroup(h, g)
					}
				}
				p.server.mu.RUnlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := make([]byte, 16)
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, r := p.client.SendMessageToConnection(fc, msg, SendUnreliableNoDelay|SendNoNagle); r == ResultOK {
							flooded.Add(1)
						} else {
							runtime.Gosched()
						}
					}
				}()
			}
			ctx, cancel := context.WithCancel(context.Background())
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := make([]*Message, 64)
				for {
					n, err := p.server.ReceiveMessagesOnPollGroupWait(ctx, g, in)
					if err != nil || n < 0 {
						return
					}
					for _, m := range in[:n] {
						if m.Conn == victim {
							p.server.SendMessageToConnection(victim, m.Data, SendReliable|SendNoNagle)
						}
						m.Release()
					}
				}
			}()
			elapsed := victimRoundTrips(b, p.client, p.cconn)
			close(stop)
			cancel()
			wg.Wait()
			b.ReportMetric(float64(flooded.Load())/elapsed.Seconds(), "flood-msg/s")
		})
	}
}

// BenchmarkP2PSendReceive is BenchmarkUDPSendReceive over a P2P
// connection on loopback: the same data path, fed by an ICE route.
func BenchmarkP2PSendReceive(b *testing.B) {
	sn := newSignalNet(0)
	cfg := Config{Options: fastOpts}
	p := &p2pPeers{lis: newP2PSockets(b, "alice", cfg), con: newP2PSockets(b, "bob", cfg)}
	sn.join(b, p.lis)
	sn.join(b, p.con)
	ls, err := p.lis.CreateListenSocketP2P(0)
	if err != nil {
		b.Fatal(err)
	}
	p.ls = ls
	p.watch()
	alice, _ := p.lis.Identity()
	if p.cconn, err = p.con.ConnectP2PCustomSignaling(sn.signaling(alice.String()), alice, 0); err != nil {
		b.Fatal(err)
	}
	p.waitConnected(b)
	const batch = 64
	payload := make([]byte, 200)
	out := make([]*Message, batch)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)) * batch)
	for b.Loop() {
		for range batch {
			p.con.SendMessageToConnection(p.cconn, payload, SendReliable|SendNoNagle)
		}
		got := 0
		for got < batch {
			n := p.lis.ReceiveMessagesOnConnection(p.lconn, out)
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

// victimRoundTrips times one 64-byte reliable echo per benchmark iteration
// on c, reports the p50 and p99 round trips and returns the time taken.
func victimRoundTrips(b *testing.B, s *Sockets, c Conn) time.Duration {
	payload := make([]byte, 64)
	out := make([]*Message, 1)
	rtts := make([]time.Duration, 0, 1024)
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		s.SendMessageToConnection(c, payload, SendReliable|SendNoNagle)
		for {
			n, err := s.ReceiveMessagesOnConnectionWait(context.Background(), c, out)
			if err != nil || n < 0 {
				b.Fatal("client connection gone")
			}
			if n == 1 {
				out[0].Release()
				break
			}
		}
		rtts = append(rtts, time.Since(t0))
	}
	elapsed := time.Since(start)
	slices.Sort(rtts)
	pct := func(q float64) float64 { return float64(rtts[int(q*float64(len(rtts)-1))].Microseconds()) }
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	return elapsed
}
