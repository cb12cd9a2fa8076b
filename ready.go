package mist

// MessagesReady returns a channel that receives a value after a message has
// been queued for the application on any connection of this instance, so
// a receive loop can wait instead of polling. The channel holds at most one
// pending signal, shared by all waiters: after a wake-up, receive until
// nothing is left, and when several goroutines wait on one instance, bound
// the wait with a timeout.
func (s *Sockets) MessagesReady() <-chan struct{} { return s.ready }

// signalReady notes that a message was queued, without blocking.
func (s *Sockets) signalReady() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
