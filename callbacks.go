package mist

import (
	"context"
	"sync"
)

// OnConnectionStatusChanged registers fn for connection status changes at
// interface scope (the Callback_ConnectionStatusChanged option). Changes are
// queued only while a function is configured for the connection, and fn
// runs inside RunCallbacks. nil unregisters.
func (s *Sockets) OnConnectionStatusChanged(fn func(*ConnStatusChanged)) {
	if fn == nil {
		s.cfg.unset(OptCallbackConnectionStatusChanged)
		return
	}
	s.cfg.set(PtrValue(OptCallbackConnectionStatusChanged, fn))
}

// OnAuthenticationStatus registers fn for authentication status changes,
// delivered inside RunCallbacks. nil unregisters.
func (s *Sockets) OnAuthenticationStatus(fn func(*AuthStatus)) {
	s.cbMu.Lock()
	s.authHandler = fn
	s.cbMu.Unlock()
}

// RunCallbacks delivers, on the calling goroutine and in order, every
// callback queued since the previous call.
func (s *Sockets) RunCallbacks() {
	s.cbMu.Lock()
	pending := s.callbacks
	s.callbacks = nil
	s.cbMu.Unlock()
	for i, cb := range pending {
		cb()
		pending[i] = nil
	}
}

// Events returns a channel carrying every connection status change and
// authentication status change from now until ctx is done, when the channel
// is closed. It is independent of RunCallbacks: both see every event. Events
// are buffered without bound while the reader lags.
func (s *Sockets) Events(ctx context.Context) <-chan Event {
	sub := &subscriber{wake: make(chan struct{}, 1), out: make(chan Event)}
	s.cbMu.Lock()
	s.subscribers = append(s.subscribers, sub)
	s.cbMu.Unlock()
	go func() {
		defer close(sub.out)
		defer s.unsubscribe(sub)
		for {
			sub.mu.Lock()
			pending := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			for _, ev := range pending {
				select {
				case sub.out <- ev:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-sub.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sub.out
}

type subscriber struct {
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	out   chan Event
}

func (sub *subscriber) push(ev Event) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, ev)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (s *Sockets) unsubscribe(sub *subscriber) {
	s.cbMu.Lock()
	defer s.cbMu.Unlock()
	for i, x := range s.subscribers {
		if x == sub {
			s.subscribers = append(s.subscribers[:i], s.subscribers[i+1:]...)
			return
		}
	}
}

// postStatus queues a status-change notification for c, which moved from
// old to its current state. Called with c.mu held.
func (s *Sockets) postStatus(c *connection, old ConnState) {
	ev := &ConnStatusChanged{Conn: c.handle, Info: c.infoLocked(), OldState: old.apiVisible()}
	v, _ := c.cfg.get(OptCallbackConnectionStatusChanged)
	fn, _ := v.Ptr().(func(*ConnStatusChanged))
	s.cbMu.Lock()
	defer s.cbMu.Unlock()
	if fn != nil {
		s.callbacks = append(s.callbacks, func() { fn(ev) })
	}
	for _, sub := range s.subscribers {
		sub.push(ev)
	}
}

// postAuthLocked queues an auth-status notification. The handler is looked
// up at delivery: programs often register it only after calling
// InitAuthentication, and still expect the event. Called with cbMu held.
func (s *Sockets) postAuthLocked() {
	ev := &AuthStatus{Avail: s.authAvail, Debug: s.authDebug}
	s.callbacks = append(s.callbacks, func() {
		s.cbMu.Lock()
		fn := s.authHandler
		s.cbMu.Unlock()
		if fn == nil {
			v, _ := globalConfig.get(OptCallbackAuthStatusChanged)
			fn, _ = v.Ptr().(func(*AuthStatus))
		}
		if fn != nil {
			fn(ev)
		}
	})
	for _, sub := range s.subscribers {
		sub.push(ev)
	}
}
