package mist

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/linkemu"
	"github.com/mistnet/mist/internal/netsim"
)

// bottleneckRun is what one run through an emulated bottleneck measured.
type bottleneckRun struct {
	link  *linkemu.Link
	bins  [][]int // per flow, payload bytes received per 100 ms
	rates []int   // per flow, SendRate in the real-time status at the end
}

const bottleneckBin = 100 * time.Millisecond

// goodput is flow i's payload rate over [from, to) as a fraction of the
// link's rate.
func (r *bottleneckRun) goodput(i int, from, to time.Duration) float64 {
	sum := 0
	for b := int(from / bottleneckBin); b < int(to/bottleneckBin) && b < len(r.bins[i]); b++ {
		sum += r.bins[i][b]
	}
	return float64(sum) * 8 / (to - from).Seconds() / float64(r.link.Config().Rate)
}

// runBottleneck sends reliable data from flows clients to one server
// through a shared bottleneck for dur, on synctest's fake clock. Client
// i starts at starts[i]. The link's statistics are reset at resetAt.
func runBottleneck(t *testing.T, cfg linkemu.Config, starts []time.Duration, dur, resetAt time.Duration) *bottleneckRun {
	opts := []ConfigValue{
		Int32Value(OptSendRateMin, 16_000),
		Int32Value(OptSendRateMax, 100_000_000),
		Int32Value(OptSendBufferSize, 4<<20),
	}
	delay := cfg.Delay
	cfg.Delay = 0 // the network's lag adds it, in both directions
	run := &bottleneckRun{link: linkemu.New(cfg), bins: make([][]int, len(starts)), rates: make([]int, len(starts))}
	net := netsim.NewNetwork(netsim.WithFaults(netsim.Faults{Lag: delay}), netsim.WithSeed(5))
	serverAddr := netip.MustParseAddrPort("10.0.0.1:27015")
	net.SetBottleneck(serverAddr, run.link)
	setup := netSeams{
		listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return net.Listen(a) },
		dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
			return net.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		},
	}
	p := newUDPPairWith(t, opts, opts, setup, serverAddr.Addr())
	var sconns []Conn
	p.server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			p.server.AcceptConnection(ev.Conn)
			sconns = append(sconns, ev.Conn)
		}
	})
	cconns := []Conn{p.cconn}
	sconns = append(sconns, p.sconn)
	start := time.Now()
	msg := make([]byte, 16<<10)
	buf := make([]*Message, 64)
	reset := false
	for time.Since(start) < dur {
		now := time.Since(start)
		if !reset && now >= resetAt {
			run.link.ResetStats()
			reset = true
		}
		for len(cconns) < len(starts) && now >= starts[len(cconns)] {
			c := p.client.ConnectByIPAddress(serverAddr, opts...)
			if c == 0 {
				t.Fatal("ConnectByIPAddress failed")
			}
			cconns = append(cconns, c)
		}
		for _, c := range cconns {
			for {
				if _, r := p.client.SendMessageToConnection(c, msg, SendReliable); r != ResultOK {
					break
				}
			}
		}
		// Connections are accepted in order, so server conn i is client
		// conn i.
		for i, c := range sconns {
			for {
				n := p.server.ReceiveMessagesOnConnection(c, buf)
				if n <= 0 {
					break
				}
				bin := int(time.Since(start) / bottleneckBin)
				for len(run.bins[i]) <= bin {
					run.bins[i] = append(run.bins[i], 0)
				}
				for _, m := range buf[:n] {
					run.bins[i][bin] += len(m.Data)
					m.Release()
				}
			}
		}
		p.server.RunCallbacks()
		p.client.RunCallbacks()
		time.Sleep(time.Millisecond)
	}
	for i, c := range cconns {
		if st, r := p.client.ConnectionRealTimeStatus(c, nil); r == ResultOK {
			run.rates[i] = st.SendRate
		}
	}
	return run
}

type bottleneckShape struct {
	name  string
	rate  int64         // bit/s
	delay time.Duration // one way
	queue float64       // BDPs
	loss  float64       // percent
}

func (s bottleneckShape) config() linkemu.Config {
	c := linkemu.Config{Rate: s.rate, Delay: s.delay, LossPct: s.loss, Seed: 9}
	c.QueueBytes = max(linkemu.MinQueueBytes, int(s.queue*float64(c.BDP())))
	return c
}

// Through the whole stack (reliability layer, acks as the receiver sends
// them, pacing by the connection's timers) on the fake clock, the adaptive
// rate meets the goals on the reference shapes: >= 90 % goodput over
// seconds 5-20 (85 % with random loss), 90 % of the link within 2 s,
// queueing delay p95 <= 10 ms, drops <= 1 %; and the real-time status shows
// the estimate.
func TestBottleneckShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, sh := range []bottleneckShape{
		{"10Mbit_50ms_1BDP", 10e6, 25 * time.Millisecond, 1, 0},
		{"10Mbit_50ms_shallow", 10e6, 25 * time.Millisecond, 0.2, 0},
		{"100Mbit_10ms_1BDP", 100e6, 5 * time.Millisecond, 1, 0},
		{"2Mbit_150ms_deep", 2e6, 75 * time.Millisecond, 4, 0},
		{"10Mbit_50ms_deep", 10e6, 25 * time.Millisecond, 4, 0},
		{"100Mbit_10ms_shallow", 100e6, 5 * time.Millisecond, 0.25, 0},
		{"10Mbit_50ms_1pct_loss", 10e6, 25 * time.Millisecond, 1, 1},
	} {
		t.Run(sh.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := runBottleneck(t, sh.config(), []time.Duration{0}, 20*time.Second, 5*time.Second)
				good := r.goodput(0, 5*time.Second, 20*time.Second)
				reached := time.Duration(-1)
				for at := 2 * bottleneckBin; at <= 20*time.Second; at += bottleneckBin {
					if r.goodput(0, at-2*bottleneckBin, at) >= 0.9*(1-sh.loss/100)*0.95 {
						reached = at
						break
					}
				}
				st := r.link.Stats()
				drops := float64(st.QueueDrops) / float64(max(st.Packets, 1))
				p50, p95 := r.link.QueueDelay(0.5), r.link.QueueDelay(0.95)
				capacity := int(sh.rate / 8)
				t.Logf("goodput %.1f%%, 90%% at %v, queue p50 %v p95 %v, drops %.2f%%, status SendRate %d B/s (link %d)",
					100*good, reached, p50, p95, 100*drops, r.rates[0], capacity)
				want := 0.90
				if sh.loss > 0 {
					want = 0.85
				}
				if good < want {
					t.Errorf("goodput %.1f%%, want >= %.0f%%", 100*good, 100*want)
				}
				if reached < 0 || reached > 2*time.Second {
					t.Errorf("90%% of the link (payload) reached at %v, want within 2 s", reached)
				}
				avgPacket := int64(st.Bytes / max(st.Packets, 1))
				pktTime := time.Duration(avgPacket * 8 * int64(time.Second) / sh.rate)
				if limit := max(10*time.Millisecond, 5*pktTime/2); p95 > limit {
					t.Errorf("queueing delay p95 %v, want <= %v", p95, limit)
				}
				if drops > 0.01 {
					t.Errorf("drops %.2f%%, want <= 1%%", 100*drops)
				}
				if r.rates[0] < capacity*8/10 || r.rates[0] > capacity*3/2 {
					t.Errorf("real-time status SendRate %d B/s on a %d B/s link", r.rates[0], capacity)
				}
			})
		})
	}
}

// A second connection joining 5 s after the first gets its share: Jain's
// index of their rates over one second reaches 0.9 within 10 s of its start
// and stays there, and together they keep the link busy.
func TestBottleneckTwoFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, sh := range []bottleneckShape{
		{"10Mbit_50ms_1BDP", 10e6, 25 * time.Millisecond, 1, 0},
		{"100Mbit_10ms_1BDP", 100e6, 5 * time.Millisecond, 1, 0},
	} {
		t.Run(sh.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const second = 5 * time.Second
				r := runBottleneck(t, sh.config(), []time.Duration{0, second}, 25*time.Second, second)
				fairFrom := time.Duration(-1)
				for at := second + time.Second; at <= 25*time.Second; at += 500 * time.Millisecond {
					j := linkemu.Jain(r.goodput(0, at-time.Second, at), r.goodput(1, at-time.Second, at))
					if j < 0.9 {
						fairFrom = -1
					} else if fairFrom < 0 {
						fairFrom = at
					}
				}
				a, b := r.goodput(0, 15*time.Second, 25*time.Second), r.goodput(1, 15*time.Second, 25*time.Second)
				st := r.link.Stats()
				t.Logf("fair (Jain >= 0.9) from %v after the second start; seconds 15-25: %.0f%% + %.0f%% of the link, Jain %.3f; queue p95 %v, drops %.2f%%",
					fairFrom-second, 100*a, 100*b, linkemu.Jain(a, b), r.link.QueueDelay(0.95), 100*float64(st.QueueDrops)/float64(max(st.Packets, 1)))
				if fairFrom < 0 || fairFrom-second > 10*time.Second {
					t.Errorf("Jain's index >= 0.9 from %v after the second connection started, want within 10 s", fairFrom-second)
				}
				if a+b < 0.9 {
					t.Errorf("together %.0f%% of the link", 100*(a+b))
				}
			})
		})
	}
}
