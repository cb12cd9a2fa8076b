package netsim

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1000")
	addrB = netip.MustParseAddrPort("10.0.0.2:2000")
)

// arrival is one received datagram of a trace.
type arrival struct {
	seq      int
	sentAt   time.Duration // since the start of the trace
	recvedAt time.Duration
}

// trace sends count numbered datagrams from a to b, one every interval,
// waits long enough for every delay to expire, and returns what b read. It
// must run inside a synctest bubble.
func trace(t *testing.T, a endpoint.PacketConn, b endpoint.PacketConn, count int, interval time.Duration) []arrival {
	t.Helper()
	start := time.Now()
	var got []arrival
	done := make(chan struct{})
	go func() {
		defer close(done)
		ms := make([]endpoint.Packet, 8)
		for i := range ms {
			ms[i].Buf = make([]byte, 64)
		}
		for {
			n, err := b.ReadBatch(ms)
			if err != nil {
				return
			}
			now := time.Since(start)
			for _, p := range ms[:n] {
				seq := int(binary.BigEndian.Uint32(p.Buf))
				sent := time.Duration(binary.BigEndian.Uint64(p.Buf[4:]))
				got = append(got, arrival{seq, sent, now})
			}
			for i := range ms {
				ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
			}
		}
	}()
	buf := make([]byte, 12)
	for i := range count {
		binary.BigEndian.PutUint32(buf, uint32(i))
		binary.BigEndian.PutUint64(buf[4:], uint64(time.Since(start)))
		if _, err := a.WriteBatch([]endpoint.Packet{{Buf: buf, Addr: b.LocalAddr()}}); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		time.Sleep(interval)
	}
	time.Sleep(10 * time.Second) // longer than any configured delay
	synctest.Wait()
	b.Close()
	<-done
	return got
}

func pair(t *testing.T, n *Network) (*MemConn, *MemConn) {
	t.Helper()
	a, err := n.Listen(addrA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Listen(addrB)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// within checks a binomial count against its expectation, allowing four
// standard deviations.
func within(t *testing.T, what string, got, trials int, p float64) {
	t.Helper()
	mean := float64(trials) * p
	sd := math.Sqrt(float64(trials) * p * (1 - p))
	if math.Abs(float64(got)-mean) > 4*sd+1 {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f", what, got, trials, mean, 4*sd)
	}
}

func TestCleanLinkDeliversInOrderAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, NewNetwork())
		defer a.Close()
		got := trace(t, a, b, 100, time.Millisecond)
		if len(got) != 100 {
			t.Fatalf("received %d of 100", len(got))
		}
		for i, r := range got {
			if r.seq != i || r.recvedAt != r.sentAt {
				t.Fatalf("arrival %d: %+v, want seq %d with no delay", i, r, i)
			}
		}
	})
}

func TestLoss(t *testing.T) {
	for _, pct := range []float64{1, 20, 50} {
		synctest.Test(t, func(t *testing.T) {
			n := NewNetwork(WithSeed(7), WithFaults(Faults{LossPct: pct}))
			a, b := pair(t, n)
			defer a.Close()
			const count = 5000
			got := trace(t, a, b, count, 100*time.Microsecond)
			within(t, "lost", count-len(got), count, pct/100)
			if st := n.LinkStats(addrA, addrB); st.Lost != uint64(count-len(got)) || st.Packets != count {
				t.Errorf("stats %+v, lost %d", st, count-len(got))
			}
		})
	}
}

func TestLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork()
		a, b := pair(t, n)
		defer a.Close()
		n.SetLink(addrA, addrB, Faults{Lag: 40 * time.Millisecond})
		got := trace(t, a, b, 50, time.Millisecond)
		if len(got) != 50 {
			t.Fatalf("received %d of 50", len(got))
		}
		for i, r := range got {
			if r.seq != i || r.recvedAt-r.sentAt != 40*time.Millisecond {
				t.Fatalf("arrival %+v: want seq %d after exactly 40ms", r, i)
			}
		}
	})
}

func TestReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(WithSeed(3), WithFaults(Faults{ReorderPct: 10, ReorderTime: 15 * time.Millisecond}))
		a, b := pair(t, n)
		defer a.Close()
		const count = 3000
		got := trace(t, a, b, count, time.Millisecond)
		if len(got) != count {
			t.Fatalf("received %d of %d", len(got), count)
		}
		late := 0
		outOfOrder := 0
		maxSeq := -1
		for _, r := range got {
			switch d := r.recvedAt - r.sentAt; d {
			case 0:
			case 15 * time.Millisecond:
				late++
			default:
				t.Fatalf("delay %v, want 0 or 15ms", d)
			}
			if r.seq < maxSeq {
				outOfOrder++
			}
			maxSeq = max(maxSeq, r.seq)
		}
		within(t, "reordered", late, count, 0.10)
		if outOfOrder != late {
			t.Errorf("%d arrivals out of order, %d delayed by the reorder time", outOfOrder, late)
		}
		if st := n.LinkStats(addrA, addrB); st.Reordered != uint64(late) {
			t.Errorf("Reordered = %d, want %d", st.Reordered, late)
		}
	})
}

func TestDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(WithSeed(5), WithFaults(Faults{DupPct: 10, DupTimeMax: 10 * time.Millisecond}))
		a, b := pair(t, n)
		defer a.Close()
		const count = 3000
		got := trace(t, a, b, count, time.Millisecond)
		first := make(map[int]time.Duration)
		dups := 0
		for _, r := range got {
			at, seen := first[r.seq]
			if !seen {
				first[r.seq] = r.recvedAt
				if r.recvedAt != r.sentAt {
					t.Fatalf("original %d delayed", r.seq)
				}
				continue
			}
			dups++
			if d := r.recvedAt - at; d <= 0 || d > 10*time.Millisecond+time.Microsecond {
				t.Fatalf("duplicate of %d after %v, want (0, 10ms]", r.seq, d)
			}
		}
		if len(first) != count {
			t.Fatalf("%d distinct datagrams of %d", len(first), count)
		}
		within(t, "duplicated", dups, count, 0.10)
	})
}

func TestJitterKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := Faults{JitterAvg: 5 * time.Millisecond, JitterMax: 20 * time.Millisecond, JitterPct: 50}
		n := NewNetwork(WithSeed(11), WithFaults(f))
		a, b := pair(t, n)
		defer a.Close()
		const count = 2000
		got := trace(t, a, b, count, 2*time.Millisecond)
		if len(got) != count {
			t.Fatalf("received %d of %d", len(got), count)
		}
		var total time.Duration
		for i, r := range got {
			if r.seq != i {
				t.Fatalf("jitter reordered: arrival %d is %d", i, r.seq)
			}
			d := r.recvedAt - r.sentAt
			if d < 0 || d > 20*time.Millisecond+count*time.Microsecond {
				t.Fatalf("delay %v out of range", d)
			}
			total += d
		}
		// Half the datagrams get exponential jitter of mean 5ms (clipped at
		// 20ms); clumping only adds. The mean delay must be well above zero
		// and below the unclipped bound plus clumping.
		mean := total / count
		if mean < time.Millisecond || mean > 10*time.Millisecond {
			t.Errorf("mean delay %v, want roughly 2.5ms", mean)
		}
	})
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 12-byte datagrams every 1ms = 12000 B/s offered against 6000 B/s.
		n := NewNetwork(WithFaults(Faults{RateLimit: 6000, RateBurst: 1200}))
		a, b := pair(t, n)
		defer a.Close()
		const count = 5000
		got := trace(t, a, b, count, time.Millisecond)
		if frac := float64(len(got)) / count; frac < 0.45 || frac > 0.56 {
			t.Fatalf("delivered %.2f of offered, want about half", frac)
		}
	})
}

func TestQueueFullAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(WithQueueLimits(10, 10))
		a, b := pair(t, n)
		for range 20 {
			a.WriteBatch([]endpoint.Packet{{Buf: []byte("x"), Addr: addrB}})
		}
		if st := n.LinkStats(addrA, addrB); st.QueueFull != 10 {
			t.Fatalf("QueueFull = %d, want 10", st.QueueFull)
		}
		ms := make([]endpoint.Packet, 64)
		for i := range ms {
			ms[i].Buf = make([]byte, 8)
		}
		if k, err := b.ReadBatch(ms); k != 10 || err != nil {
			t.Fatalf("ReadBatch = %d, %v", k, err)
		}
		errc := make(chan error)
		go func() {
			_, err := b.ReadBatch(ms)
			errc <- err
		}()
		synctest.Wait() // the reader is blocked
		b.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
		if _, err := b.WriteBatch(ms[:1]); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteBatch after Close: %v", err)
		}
		// The address is free again; traffic to a closed conn vanishes.
		a.WriteBatch([]endpoint.Packet{{Buf: []byte("x"), Addr: addrB}})
		if st := n.LinkStats(addrA, addrB); st.Undeliverable != 1 {
			t.Fatalf("Undeliverable = %d", st.Undeliverable)
		}
		if _, err := n.Listen(addrB); err != nil {
			t.Fatalf("relisten: %v", err)
		}
		if _, err := n.Listen(addrA); err == nil {
			t.Fatal("listen on a used address succeeded")
		}
		a.Close()
	})
}

func TestEphemeralPorts(t *testing.T) {
	n := NewNetwork()
	ip := netip.MustParseAddrPort("127.0.0.5:0")
	c1, err1 := n.Listen(ip)
	c2, err2 := n.Listen(ip)
	if err1 != nil || err2 != nil || c1.LocalAddr() == c2.LocalAddr() || c1.LocalAddr().Port() == 0 {
		t.Fatalf("ephemeral: %v %v %v %v", c1.LocalAddr(), c2.LocalAddr(), err1, err2)
	}
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.9]:5")
	c3, _ := n.Listen(mapped)
	if !c3.LocalAddr().Addr().Is4() {
		t.Fatalf("mapped address not normalised: %v", c3.LocalAddr())
	}
}

// TestSeedDeterminism: the reorder time is off the send grid so no two
// releases fall on the same instant, where goroutine order would decide.
func TestSeedDeterminism(t *testing.T) {
	run := func() []int {
		var seqs []int
		synctest.Test(t, func(t *testing.T) {
			n := NewNetwork(WithSeed(42), WithFaults(Faults{LossPct: 30, ReorderPct: 20, ReorderTime: 3500 * time.Microsecond}))
			a, b := pair(t, n)
			defer a.Close()
			for _, r := range trace(t, a, b, 500, time.Millisecond) {
				seqs = append(seqs, r.seq)
			}
		})
		return seqs
	}
	first, second := run(), run()
	if len(first) != len(second) {
		t.Fatalf("runs differ in length: %d vs %d", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("runs differ at %d", i)
		}
	}
}

// TestWrapInMemory checks the wrapping conn on both directions, under
// synctest over the in-memory network.
func TestWrapInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, NewNetwork())
		wa := Wrap(a, Options{Seed: 9, Send: Faults{Lag: 10 * time.Millisecond, LossPct: 10}})
		wb := Wrap(b, Options{Seed: 10, Recv: Faults{Lag: 5 * time.Millisecond, DupPct: 10, DupTimeMax: time.Millisecond}})
		defer wa.Close()
		const count = 2000
		got := trace(t, wa, wb, count, time.Millisecond)
		distinct := map[int]bool{}
		for _, r := range got {
			if d := r.recvedAt - r.sentAt; d < 15*time.Millisecond || d > 16*time.Millisecond+time.Microsecond {
				t.Fatalf("delay %v, want 15ms (16ms for a duplicate)", d)
			}
			distinct[r.seq] = true
		}
		within(t, "lost", count-len(distinct), count, 0.10)
		within(t, "duplicated", len(got)-len(distinct), len(distinct), 0.10)
		if st := wa.SendStats(); st.Lost != uint64(count-len(distinct)) || st.Delayed != uint64(len(distinct)) {
			t.Errorf("send stats %+v", st)
		}
		if st := wb.RecvStats(); st.Duplicated != uint64(len(got)-len(distinct)) {
			t.Errorf("recv stats %+v", st)
		}
	})
}

// TestWrapUDP runs the wrapper over real loopback sockets.
func TestWrapUDP(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	ra, err := endpoint.Listen(lo, nil)
	if err != nil {
		t.Skip(err)
	}
	rb, err := endpoint.Listen(lo, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := Wrap(ra, Options{Seed: 1, Send: Faults{LossPct: 50}})
	b := Wrap(rb, Options{Seed: 2})
	defer a.Close()
	defer b.Close()
	const count = 400
	out := make([]endpoint.Packet, count)
	for i := range out {
		out[i] = endpoint.Packet{Buf: binary.BigEndian.AppendUint32(nil, uint32(i)), Addr: b.LocalAddr()}
	}
	if k, err := a.WriteBatch(out); k != count || err != nil {
		t.Fatalf("WriteBatch = %d, %v", k, err)
	}
	want := count - int(a.SendStats().Lost)
	within(t, "lost", count-want, count, 0.5)
	ms := make([]endpoint.Packet, 16)
	for i := range ms {
		ms[i].Buf = make([]byte, 64)
	}
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < want && time.Now().Before(deadline) {
		k, err := b.ReadBatch(ms)
		if err != nil {
			t.Fatal(err)
		}
		got += k
		for i := range ms {
			ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
		}
	}
	if got != want {
		t.Fatalf("received %d, want %d", got, want)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := b.ReadBatch(ms)
		errc <- err
	}()
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadBatch not unblocked by Close")
	}
}

func TestUnroutableCreatesNoState(t *testing.T) {
	n := NewNetwork()
	a, err := n.Listen(addrA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for port := range 1000 {
		dst := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(port+1))
		a.WriteBatch([]endpoint.Packet{{Buf: []byte("x"), Addr: dst}})
	}
	if got := n.Unroutable(); got != 1000 {
		t.Fatalf("Unroutable = %d, want 1000", got)
	}
	n.mu.Lock()
	links := len(n.links)
	n.mu.Unlock()
	if links != 0 {
		t.Fatalf("%d links created for unroutable traffic", links)
	}
}

func BenchmarkWrapNoFaults(b *testing.B) {
	benchWrap(b, Faults{})
}

func BenchmarkWrapLossAndLag(b *testing.B) {
	benchWrap(b, Faults{LossPct: 1, Lag: time.Microsecond})
}

func benchWrap(b *testing.B, f Faults) {
	n := NewNetwork()
	ra, _ := n.Listen(addrA)
	rb, _ := n.Listen(addrB)
	a := Wrap(ra, Options{Send: f})
	defer a.Close()
	done := make(chan struct{})
	go func() { // drain the receiver so its inbox never fills
		defer close(done)
		in := make([]endpoint.Packet, 64)
		for i := range in {
			in[i].Buf = make([]byte, 1500)
		}
		for {
			if _, err := rb.ReadBatch(in); err != nil {
				return
			}
			for i := range in {
				in[i].Buf = in[i].Buf[:cap(in[i].Buf)]
			}
		}
	}()
	out := []endpoint.Packet{{Buf: make([]byte, 1200), Addr: addrB}}
	b.ReportAllocs()
	b.SetBytes(1200)
	for b.Loop() {
		a.WriteBatch(out)
	}
	b.StopTimer()
	rb.Close()
	<-done
}
