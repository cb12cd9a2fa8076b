package mist

import (
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
