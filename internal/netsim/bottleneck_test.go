package netsim

import (
	"encoding/binary"
	"math"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/linkemu"
)

// On the fake clock a bottleneck delivers at exactly its rate and adds
// exactly its delay, and two sources share it.
func TestBottleneckRateAndDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork()
		a, _ := n.Listen(addrA)
		a2, _ := n.Listen(netip.MustParseAddrPort("10.0.0.3:3000"))
		b, _ := n.Listen(addrB)
		const rate, size = 10_000_000, 1250 // 1 ms per datagram
		bn := linkemu.New(linkemu.Config{Rate: rate, Delay: 25 * time.Millisecond, QueueBytes: 4 << 20})
		n.SetBottleneck(addrB, bn)

		var arrivals []time.Duration
		var from []netip.AddrPort
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			ms := []endpoint.Packet{{Buf: make([]byte, 2000)}}
			for {
				k, err := b.ReadBatch(ms)
				if err != nil {
					return
				}
				if k == 1 {
					arrivals = append(arrivals, time.Since(start))
					from = append(from, ms[0].Addr)
				}
				ms[0].Buf = ms[0].Buf[:cap(ms[0].Buf)]
			}
		}()
		buf := make([]byte, size)
		// One lone datagram: transmission plus delay.
		a.WriteBatch([]endpoint.Packet{{Buf: buf, Addr: addrB}})
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if len(arrivals) != 1 || arrivals[0] != 26*time.Millisecond {
			t.Fatalf("lone datagram arrivals %v, want one at 26ms", arrivals)
		}
		// Two sources at 1.5× the rate each for one second.
		for i := range 1500 {
			binary.BigEndian.PutUint32(buf, uint32(i))
			a.WriteBatch([]endpoint.Packet{{Buf: buf, Addr: addrB}})
			a2.WriteBatch([]endpoint.Packet{{Buf: buf, Addr: addrB}})
			time.Sleep(time.Second / 1500)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		b.Close()
		<-done
		got := arrivals[1:]
		if len(got) != 3000 {
			t.Fatalf("%d of 3000 datagrams arrived", len(got))
		}
		span := got[len(got)-1] - got[0]
		bps := float64(len(got)-1) * size * 8 / span.Seconds()
		if math.Abs(bps/rate-1) > 0.001 {
			t.Errorf("delivered %.0f bit/s through a %d bit/s bottleneck", bps, rate)
		}
		counts := map[netip.AddrPort]int{}
		for _, f := range from[1:] {
			counts[f]++
		}
		if len(counts) != 2 || counts[addrA] != 1500 {
			t.Errorf("arrivals per source %v", counts)
		}
		if st := bn.Stats(); st.Delivered != 3001 || st.QueueDrops != 0 {
			t.Errorf("bottleneck stats %+v", st)
		}
	})
}

// A full queue drops at the tail.
func TestBottleneckQueueDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork()
		a, _ := n.Listen(addrA)
		b, _ := n.Listen(addrB)
		bn := linkemu.New(linkemu.Config{Rate: 1_000_000, QueueBytes: 10_000})
		n.SetBottleneck(addrB, bn)
		buf := make([]byte, 1000)
		for range 50 {
			a.WriteBatch([]endpoint.Packet{{Buf: buf, Addr: addrB}})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := bn.Stats()
		// 10 fit the queue (the first among them being transmitted).
		if st.Delivered != 10 || st.QueueDrops != 40 {
			t.Errorf("delivered %d, dropped %d; want 10 and 40", st.Delivered, st.QueueDrops)
		}
		ms := make([]endpoint.Packet, 64)
		for i := range ms {
			ms[i].Buf = make([]byte, 2000)
		}
		if k, _ := b.ReadBatch(ms); k != 10 {
			t.Errorf("read %d datagrams", k)
		}
		a.Close()
		b.Close()
	})
}
