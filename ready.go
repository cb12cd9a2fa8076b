package mist

import "runtime"

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
func (s *Sockets) yieldToReaders() {
	if s.backlog.Load() {
		s.backlog.Store(false)
		runtime.Gosched()
	}
}

// signalReady notes that a message was queued, without blocking.
func (s *Sockets) signalReady() {
	if len(s.ready) > 0 {
		return // a signal is pending: no need to take the channel's lock
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
