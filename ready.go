package mist

import (
	"runtime"
	"time"
)

// MessagesReady returns a channel that receives a value after a message has
// been queued for the application on any connection of this instance, so
// a receive loop can wait instead of polling. The channel holds at most one
// pending signal, shared by all waiters: after a wake-up, receive until
// nothing is left, and when several goroutines wait on one instance, bound
// the wait with a timeout.
func (s *Sockets) MessagesReady() <-chan struct{} { return s.ready }

// yieldToReaders lets the application's receive loop run when a receive
// queue is more than half full. A batch of datagrams can carry more
// messages than a queue holds (64 packets of small messages are over a
// thousand), and on a busy machine the loop that drains the queue may be
// waiting for the processor this receive loop is using: without yielding
// the queue overflows and messages are dropped that the application would
// have read in time.
//
// A queue three quarters full while the application is reading it makes
// the receive loop wait, up to maxReaderWait, until it is half empty
// again: datagrams wait in the socket buffer meanwhile, the sender sees
// its round trip grow and slows down, and nothing is dropped that a
// reader keeping up on average would have taken. A connection the
// application stopped reading gets no such wait: its messages are dropped
// at the limit, as GNS does.
func (s *Sockets) yieldToReaders() {
	if !s.backlog.Load() {
		return
	}
	s.backlog.Store(false)
	runtime.Gosched()
	c := s.pressed.Swap(nil)
	if c == nil {
		return
	}
	start := time.Now()
	for c.draining(start) && time.Since(start) < maxReaderWait {
		time.Sleep(readerPoll)
	}
}

const (
	// maxReaderWait bounds one wait of the receive loop for the reader.
	maxReaderWait = time.Millisecond
	// readerPoll is how often the waiting receive loop looks again.
	readerPoll = 50 * time.Microsecond
	// readingWindow is how recently the application must have taken
	// messages to count as reading.
	readingWindow = 10 * time.Millisecond
)

// draining reports whether the application is taking c's messages (it
// took some within readingWindow) and the queue is still at least half
// full.
func (c *connection) draining(now time.Time) bool {
	s := c.s
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !c.accepting || now.Sub(s.created)-c.lastPop > readingWindow {
		return false
	}
	return (c.limitMsgs > 0 && 2*c.queue.count >= c.limitMsgs) || (c.limitBytes > 0 && 2*c.queue.bytes >= c.limitBytes)
}

// signalReady notes that a message was queued, without blocking.
func (s *Sockets) signalReady() {
	if s.waiters.Load() > 0 {
		s.wakeWaiters()
	}
	if len(s.ready) > 0 {
		return // a signal is pending: no need to take the channel's lock
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
