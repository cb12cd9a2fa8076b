package mist

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

const (
	// waitSpin is how long a waiting receive keeps looking before it
	// sleeps. A reply that lands within it is taken without waking a
	// sleeping goroutine, which costs several microseconds on each side of
	// a round trip.
	waitSpin = 50 * time.Microsecond
	// spinMisses is how many waits in a row may end asleep before a
	// receiver stops spinning; it tries again every spinRetry waits.
	spinMisses = 4
	spinRetry  = 16
)

// spinState remembers whether spinning paid off for a receiver lately, so
// that one whose messages come seldom does not burn a processor for
// nothing on every wait.
type spinState struct{ misses atomic.Int32 }

func (s *spinState) worthIt() bool {
	m := s.misses.Load()
	if m < spinMisses {
		return true
	}
	s.misses.Add(1)
	return m%spinRetry == 0
}

// ReceiveMessagesOnConnectionWait is ReceiveMessagesOnConnection that waits
// until at least one message is queued, ctx ends (its error is returned)
// or the handle becomes invalid (-1, nil).
//
// While replies have been coming quickly it first looks for messages for
// up to 50 µs, reading the connection's socket itself, and only then
// sleeps: a reply on its way is taken as soon as it lands, without the
// hand-off from the receive loop. A receiver whose waits keep ending asleep
// stops spinning.
func (s *Sockets) ReceiveMessagesOnConnectionWait(ctx context.Context, h Conn, out []*Message) (int, error) {
	s.mu.RLock()
	c := s.conns[h]
	s.mu.RUnlock()
	if c == nil {
		return -1, nil
	}
	return s.receiveWait(ctx, &c.spin, func() int { return s.ReceiveMessagesOnConnection(h, out) })
}

// ReceiveMessagesOnPollGroupWait is ReceiveMessagesOnPollGroup that waits
// as ReceiveMessagesOnConnectionWait does, reading the group's listen
// socket itself while it spins.
func (s *Sockets) ReceiveMessagesOnPollGroupWait(ctx context.Context, g PollGroup, out []*Message) (int, error) {
	s.mu.RLock()
	pg := s.groups[g]
	s.mu.RUnlock()
	if pg == nil {
		return -1, nil
	}
	return s.receiveWait(ctx, &pg.spin, func() int { return s.ReceiveMessagesOnPollGroup(g, out) })
}

func (s *Sockets) receiveWait(ctx context.Context, spin *spinState, receive func() int) (int, error) {
	if n := receive(); n != 0 {
		return n, nil
	}
	if spin.worthIt() {
		until := time.Now().Add(waitSpin)
		for time.Now().Before(until) {
			runtime.Gosched()
			if n := receive(); n != 0 {
				spin.misses.Store(0)
				return n, nil
			}
			if s.loopsHandling.Load() > 0 {
				// Traffic is flowing through a receive loop: leave it the
				// processor; the message it delivers wakes this waiter.
				break
			}
		}
		spin.misses.Add(1)
	}
	// Sleep until woken. Registering before the last look means a message
	// queued after it closes the channel this waiter holds.
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	for {
		woken := s.waitChan()
		if n := receive(); n != 0 {
			return n, nil
		}
		select {
		case <-woken:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// waitChan returns the channel the next wake-up closes.
func (s *Sockets) waitChan() chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.waitCh == nil {
		s.waitCh = make(chan struct{})
	}
	return s.waitCh
}

// wakeWaiters wakes every sleeping receiveWait.
func (s *Sockets) wakeWaiters() {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.waitCh != nil {
		close(s.waitCh)
		s.waitCh = nil
	}
}
