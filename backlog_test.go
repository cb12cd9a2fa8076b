package mist

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A receive loop that shares one processor with the application yields
// when a queue passes half its limit, so a burst of small messages larger
// than the queue (a batch of datagrams holds over a thousand) is read in
// time instead of overflowing the queue.
func TestReceiveLoopYieldsBeforeQueueOverflows(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	opts := []ConfigValue{Int32Value(OptSendRateMin, 64<<20), Int32Value(OptSendRateMax, 64<<20)}
	p := newUDPPair(t, opts, opts)
	var got atomic.Int64
	done := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		in := make([]*Message, 64)
		ready := p.server.MessagesReady()
		for {
			n := p.server.ReceiveMessagesOnConnection(p.sconn, in)
			for _, m := range in[:max(n, 0)] {
				m.Release()
			}
			got.Add(int64(max(n, 0)))
			if n > 0 {
				continue
			}
			select {
			case <-ready:
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	msg := make([]byte, 40)
	sent := 0
	for round := 0; round < 100; round++ {
		// 2,000 messages at once: two queues' worth.
		for range 2000 {
			if _, r := p.client.SendMessageToConnection(p.cconn, msg, SendUnreliable); r == ResultOK {
				sent++
			}
		}
		p.client.FlushMessagesOnConnection(p.cconn)
		time.Sleep(2 * time.Millisecond)
	}
	// Wait until nothing more arrives.
	for last := int64(-1); got.Load() != last; {
		last = got.Load()
		time.Sleep(100 * time.Millisecond)
	}
	close(done)
	<-drained
	lost := sent - int(got.Load())
	t.Logf("sent %d, received %d", sent, got.Load())
	// Without yielding half the messages are lost. The race detector
	// slows the application's loop enough to lose a few even so.
	limit := sent / 100
	if raceEnabled {
		limit = sent / 4
	}
	if lost > limit {
		t.Errorf("%d of %d messages lost to the receive queue limit", lost, sent)
	}
}

// A connection the application does not read gets GNS's drops at the
// limit, not the wait a reader gets: flooding it must not slow the other
// connections of the listen socket.
func TestUnreadConnectionDoesNotStallSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	opts := []ConfigValue{Int32Value(OptSendRateMin, 64<<20), Int32Value(OptSendRateMax, 64<<20)}
	flood := newUDPPair(t, opts, opts)
	// A second client of the same server.
	client, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	before := len(flood.sEvents)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), flood.server.listens[flood.ls].addr.Port())
	cconn := client.ConnectByIPAddress(addr, opts...)
	var sconn Conn
	waitFor(t, "second connection", func() bool {
		for _, ev := range flood.sEvents[before:] {
			if ev.Info.State == StateConnecting {
				sconn = ev.Conn
			}
		}
		info, _ := client.ConnectionInfo(cconn)
		return sconn != InvalidConn && info.State == StateConnected
	}, flood.server, client)

	stop := make(chan struct{})
	flooded := make(chan int)
	go func() {
		msg := make([]byte, 64)
		sent := 0
		for {
			select {
			case <-stop:
				flooded <- sent
				return
			default:
			}
			if _, r := flood.client.SendMessageToConnection(flood.cconn, msg, SendUnreliable); r == ResultOK {
				sent++
			} else {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // the unread queue fills
	in := make([]*Message, 1)
	var worst time.Duration
	for range 20 {
		start := time.Now()
		client.SendMessageToConnection(cconn, []byte("ping"), SendReliableNoNagle)
		waitFor(t, "ping at the server", func() bool {
			if flood.server.ReceiveMessagesOnConnection(sconn, in) != 1 {
				return false
			}
			flood.server.SendMessageToConnection(sconn, in[0].Data, SendReliableNoNagle)
			in[0].Release()
			return true
		})
		waitFor(t, "echo", func() bool {
			if client.ReceiveMessagesOnConnection(cconn, in) != 1 {
				return false
			}
			in[0].Release()
			return true
		})
		worst = max(worst, time.Since(start))
	}
	close(stop)
	sent := <-flooded
	t.Logf("flooded with %d messages; worst echo %v", sent, worst)
	if sent < 10000 {
		t.Fatalf("only %d flood messages sent", sent)
	}
	if worst > 50*time.Millisecond {
		t.Fatalf("echo took %v while an unread connection was flooded", worst)
	}
}
