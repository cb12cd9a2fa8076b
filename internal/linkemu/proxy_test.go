package linkemu

import (
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"
)

// udpSink counts what reaches a server socket, and echoes datagrams whose
// first byte is 'e'.
type udpSink struct {
	conn     *net.UDPConn
	arrivals chan [2]time.Time // send stamp, arrival
}

func newSink(t *testing.T) *udpSink {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(socketBuffer)
	s := &udpSink{conn: c, arrivals: make(chan [2]time.Time, 100_000)}
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if n >= 9 {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(buf[1:])))
				s.arrivals <- [2]time.Time{sent, now}
				if buf[0] == 'e' {
					c.WriteToUDPAddrPort(buf[:n], from)
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return s
}

func stamp(buf []byte, kind byte) {
	buf[0] = kind
	binary.BigEndian.PutUint64(buf[1:], uint64(time.Now().UnixNano()))
}

// The real-time proxy delivers its rate within 3 % and adds its delay within
// a couple of milliseconds, although the timers it sleeps on wake late.
func TestProxyRateAndDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	sink := newSink(t)
	const rate = 10_000_000
	up := New(Config{Rate: rate, Delay: 25 * time.Millisecond})
	down := New(Config{Delay: 25 * time.Millisecond})
	p, err := NewProxy(sink.conn.LocalAddr().(*net.UDPAddr).AddrPort(), up, down)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadBuffer(socketBuffer)

	// Delay: lone echoed datagrams, 20 ms apart, cross both directions.
	buf := make([]byte, 125) // 0.1 ms at 10 Mbit/s
	var rtts []time.Duration
	for range 40 {
		stamp(buf, 'e')
		c.Write(buf)
		c.SetReadDeadline(time.Now().Add(time.Second))
		in := make([]byte, 200)
		if n, err := c.Read(in); err == nil && n == len(buf) {
			rtts = append(rtts, time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(in[1:])))))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for len(sink.arrivals) > 0 {
		<-sink.arrivals
	}
	slices.Sort(rtts)
	if len(rtts) < 35 {
		t.Fatalf("%d of 40 echoes returned", len(rtts))
	}
	med := rtts[len(rtts)/2]
	t.Logf("round trip through 2×25 ms: min %v median %v max %v", rtts[0], med, rtts[len(rtts)-1])
	if med < 50*time.Millisecond || med > 54*time.Millisecond {
		t.Errorf("median round trip %v, want 50.1 ms plus timer lateness under 4 ms", med)
	}

	// Rate: offer 1.5× the rate for 2 s in 1 ms bursts.
	up.ResetStats()
	big := make([]byte, 1250)
	start := time.Now()
	for sent := 0; time.Since(start) < 2*time.Second; {
		due := int(time.Since(start).Seconds() * rate * 1.5 / 8 / 1250)
		for ; sent < due; sent++ {
			stamp(big, 'd')
			c.Write(big)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	var arrivals []time.Time
	for len(sink.arrivals) > 0 {
		arrivals = append(arrivals, (<-sink.arrivals)[1])
	}
	count := len(arrivals)
	st := up.Stats()
	// The link is never idle from the first arrival to the last (its queue
	// fills within a tenth of a second); the middle 80 % leaves out a late
	// wake-up at either end, which a loaded machine adds.
	lo, hi := count/10, count*9/10
	bps := float64(hi-lo) * 1250 * 8 / arrivals[hi].Sub(arrivals[lo]).Seconds()
	t.Logf("sink saw %d datagrams at %.2f Mbit/s; link dropped %d of %d", count, bps/1e6, st.QueueDrops, st.Packets)
	if bps < rate*0.97 || bps > rate*1.03 {
		t.Errorf("delivered %.0f bit/s through a %d bit/s link", bps, rate)
	}
	if uint64(count) != st.Delivered {
		t.Errorf("sink saw %d datagrams, link delivered %d", count, st.Delivered)
	}
}
