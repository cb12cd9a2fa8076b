package reliability

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/snp"
)

// heldBytes adds up the receive-side buffers s really holds: the capacity
// of every lane's reassembly buffer and of every buffered unreliable
// fragment.
func heldBytes(s *Session) int {
	n := 0
	for _, l := range s.recvLanes {
		n += cap(l.buf)
		for _, f := range l.frags {
			n += cap(f.data) + fragOverhead
		}
	}
	return n
}

// heapInUse is the live heap after a collection. Two collections empty
// the buffer pools, which keep what was put back for one cycle.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// recvSlack is the constant allowed over RecvBufferSize: buffered
// unreliable fragments (maxHeldFragments of at most 2 KiB) and rounding.
const recvSlack = 160 * 1024

// TestHostileLanesCannotPinMemory: a peer addressing every lane, each with
// one segment at the far edge of the receive buffer and a window's worth
// of unfinished unreliable messages, makes the connection hold no more
// than RecvBufferSize plus a constant, counted in the buffers themselves
// and in the heap.
func TestHostileLanesCannotPinMemory(t *testing.T) {
	for _, unread := range []int{0, 128 * 1024} {
		t.Run(fmt.Sprintf("unread=%d", unread), func(t *testing.T) { testHostileLanes(t, unread) })
	}
}

// testHostileLanes runs the attack against a connection whose application
// has unread bytes waiting: the buffers get only the rest of the limit.
func testHostileLanes(t *testing.T, unread int) {
	const limit = 256 * 1024
	before := heapInUse()
	b := New(Config{RecvBufferSize: limit, UnreadBytes: func() int { return unread }})
	pktNum := int64(2)
	accepted := 0
	for lane := range snp.MaxLanes {
		var w snp.Writer
		pkt := snp.AppendStopWaiting(nil, pktNum, 0)
		pkt = w.SelectLane(pkt, lane)
		pkt = w.AppendReliable(pkt, limit-100, make([]byte, 50), false)
		for i := range 2 {
			pkt = w.AppendUnreliable(pkt, int64(1+i), 0, false, make([]byte, 500), i == 1)
		}
		if err := b.Receive(t0, pktNum, pkt, nil); err != nil {
			t.Fatalf("lane %d: %v", lane, err)
		}
		if b.alreadyReceived(pktNum) {
			accepted++
		}
		pktNum++
		// Unreliable fragments alone, in their own packets.
		for m := range maxBufferedFragments {
			pkt := snp.AppendStopWaiting(nil, pktNum, 0)
			w.Reset()
			pkt = w.SelectLane(pkt, lane)
			pkt = w.AppendUnreliable(pkt, int64(10+m), 1300, false, make([]byte, 1300), true)
			if err := b.Receive(t0, pktNum, pkt, nil); err != nil {
				t.Fatalf("lane %d: %v", lane, err)
			}
			pktNum++
		}
	}
	held := heldBytes(b)
	heap := heapInUse() - before
	runtime.KeepAlive(b)
	t.Logf("held %d bytes in buffers, heap grew %d bytes; %d of %d edge segments accepted", held, heap, accepted, snp.MaxLanes)
	if held != b.recvHeld {
		t.Errorf("buffers hold %d bytes, accounted %d", held, b.recvHeld)
	}
	if held+unread > limit+recvSlack {
		t.Errorf("buffers hold %d bytes and %d are unread, want at most %d + %d together", held, unread, limit, recvSlack)
	}
	if heap > limit-int64(unread)+recvSlack+256*1024 {
		t.Errorf("heap grew by %d bytes, want at most about %d", heap, limit-unread+recvSlack)
	}
	if unread == 0 && accepted == 0 {
		t.Error("no lane could buffer anything")
	}
}

// TestManyLanesUnderLossShareTheBuffer: legitimate traffic on many lanes
// at once, through loss, all arrives in order while the receiver never
// holds more than RecvBufferSize plus a constant.
func TestManyLanesUnderLossShareTheBuffer(t *testing.T) {
	const limit = 256 * 1024
	const lanes = 16
	p := newPair(t, Config{NagleTime: -1}, Config{RecvBufferSize: limit})
	prio, weights := make([]int, lanes), make([]int, lanes)
	for i := range lanes {
		weights[i] = 1
	}
	if err := p.s[0].ConfigureLanes(prio, weights); err != nil {
		t.Fatal(err)
	}
	const perLane = 12
	msg := make([]byte, 40*1024)
	sent := 0
	n := 0
	p.drop = func(from int, pkt int64) bool { n++; return n%7 == 0 }
	now := t0
	maxHeld := 0
	for step := 0; step < 200000; step++ {
		for sent < lanes*perLane && p.s[0].PendingReliable() < 256*1024 {
			msg[0], msg[1] = byte(sent%lanes), byte(sent/lanes)
			if _, err := p.s[0].Send(now, sent%lanes, msg, SendReliable); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		// About 20 MB/s each way: up to 16 packets per millisecond.
		for i := range 2 {
			for range 16 {
				buf, ok := p.s[i].AppendPacket(nil, now, p.next[i], 1232, true)
				if !ok {
					break
				}
				num := p.next[i]
				p.next[i]++
				if p.drop(i, num) {
					continue
				}
				if err := p.s[1-i].Receive(now, num, buf, p.deliver(1-i)); err != nil {
					t.Fatalf("side %d: %v", 1-i, err)
				}
			}
		}
		held := heldBytes(p.s[1])
		if held != p.s[1].recvHeld {
			t.Fatalf("buffers hold %d bytes, accounted %d", held, p.s[1].recvHeld)
		}
		maxHeld = max(maxHeld, held)
		if len(p.got[1]) == lanes*perLane {
			break
		}
		now = now.Add(time.Millisecond)
	}
	if len(p.got[1]) != lanes*perLane {
		t.Fatalf("%d of %d messages delivered after %v", len(p.got[1]), lanes*perLane, now.Sub(t0))
	}
	next := make([]int, lanes)
	for _, m := range p.got[1] {
		if int(m.Data[0]) != m.Lane || int(m.Data[1]) != next[m.Lane] {
			t.Fatalf("lane %d got message %d, want %d", m.Lane, m.Data[1], next[m.Lane])
		}
		next[m.Lane]++
	}
	t.Logf("delivered in %v, receiver held at most %d bytes", now.Sub(t0), maxHeld)
	if maxHeld > limit+recvSlack {
		t.Errorf("receiver held %d bytes, want at most %d + %d", maxHeld, limit, recvSlack)
	}
}

// TestUnreadCountsAgainstTheBuffer: while the application reads nothing,
// the messages waiting for it and the reassembly buffers together stay
// within RecvBufferSize plus a constant; once it reads, the rest arrives.
func TestUnreadCountsAgainstTheBuffer(t *testing.T) {
	const limit = 256 * 1024
	unread := 0
	p := newPair(t, Config{NagleTime: -1}, Config{RecvBufferSize: limit, UnreadBytes: func() int { return unread }})
	deliver := p.deliver(1)
	const msgs = 15
	msg := make([]byte, 30*1024)
	for range msgs {
		if _, err := p.s[0].Send(t0, 0, msg, SendReliable); err != nil {
			t.Fatal(err)
		}
	}
	// The application's queue takes messages up to the limit.
	queue := func(m Message) bool {
		if unread+len(m.Data) > limit {
			return false
		}
		unread += len(m.Data)
		return deliver(m)
	}
	now := t0
	for step := 0; step < 20000 && len(p.got[1]) < msgs; step++ {
		for i := range 2 {
			for range 16 {
				buf, ok := p.s[i].AppendPacket(nil, now, p.next[i], 1232, true)
				if !ok {
					break
				}
				num := p.next[i]
				p.next[i]++
				d := p.deliver(0)
				if i == 0 {
					d = queue
				}
				if err := p.s[1-i].Receive(now, num, buf, d); err != nil {
					t.Fatal(err)
				}
			}
		}
		if held := heldBytes(p.s[1]); held+unread > limit+recvSlack {
			t.Fatalf("step %d: buffers hold %d bytes and %d are unread, want at most %d + %d together", step, held, unread, limit, recvSlack)
		}
		if step >= 2000 {
			unread = 0 // the application reads
		}
		now = now.Add(time.Millisecond)
	}
	if len(p.got[1]) != msgs {
		t.Fatalf("%d of %d messages delivered", len(p.got[1]), msgs)
	}
}
