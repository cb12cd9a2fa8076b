package mist

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/engine"
)

// Receiving: the engine's receive loops queue messages with
// connection.deliver, which signals ready; the application takes them
// from a connection or a poll group (an inbox), busy-polling its sockets
// inline or waiting when the inbox is empty.

// inbox is a queue the application receives from: a connection's or a poll
// group's.
type inbox interface {
	// pop moves up to len(out) messages into out; -1 once the inbox is
	// gone for the application.
	pop(s *Sockets, out []*Message) int
	// sockets appends the sockets that feed the inbox, for inline polls.
	sockets(s *Sockets, dst []*engine.Socket) []*engine.Socket
	// recvState is the inbox's busy-poll and spin bookkeeping.
	recvState() *recvState
}

// recvState is what receive calls remember about an inbox.
type recvState struct {
	// lastEmpty is when (monotonic nanoseconds since the instance was
	// created) a receive call last found the inbox empty; see receive.
	lastEmpty atomic.Int64
	spin      spinState // see receiveWait
}

// ReceiveMessagesOnConnection moves up to len(out) queued messages into out
// and returns how many, or -1 if the handle is invalid. Each message must
// be released.
func (s *Sockets) ReceiveMessagesOnConnection(h Conn, out []*Message) int {
	s.mu.RLock()
	c := s.conns[h]
	s.mu.RUnlock()
	if c == nil {
		return -1
	}
	return s.receive(c, out)
}

// ReceiveMessagesOnPollGroup moves up to len(out) messages queued on the
// group's connections into out and returns how many, or -1 if g is invalid.
func (s *Sockets) ReceiveMessagesOnPollGroup(g PollGroup, out []*Message) int {
	s.mu.RLock()
	pg := s.groups[g]
	s.mu.RUnlock()
	if pg == nil {
		return -1
	}
	return s.receive(pg, out)
}

// receive takes messages from in. When the caller is busy-polling an empty
// inbox (this is the second empty call in a row within busyPollWindow), it
// reads the inbox's sockets in the caller's goroutine first: only
// busy-pollers pay for the system call.
func (s *Sockets) receive(in inbox, out []*Message) int {
	st := in.recvState()
	n := in.pop(s, out)
	if n == 0 && s.busyPolling(&st.lastEmpty) && s.pollInline(in) {
		n = in.pop(s, out)
	}
	if n > 0 && st.lastEmpty.Load() != 0 {
		// Only empty calls in a row are busy-polling: a blocking receiver
		// finds the queue empty once, waits, and then finds messages.
		st.lastEmpty.Store(0)
	}
	return n
}

// maxPollSockets bounds the sockets one busy-poll reads: a group of many
// client connections has a socket each, too many to read on every call;
// their receive loops serve them.
const maxPollSockets = 4

// pollInline reads the sockets that feed in, and reports whether it
// handled any datagrams.
func (s *Sockets) pollInline(in inbox) bool {
	if c, ok := in.(*connection); ok && c.sock == nil {
		// No socket of its own (P2P, socket pairs): skip the buffer,
		// which escapes through the interface call.
		return c.pollP2P()
	}
	var buf [maxPollSockets]*engine.Socket
	got := false
	for _, u := range in.sockets(s, buf[:0]) {
		got = u.Poll() || got
	}
	return got
}

// busyPollWindow is how soon after an empty receive call another one marks
// the caller as busy-polling. A game loop polling once a frame never
// comes close; a loop spinning on the call does every time.
const busyPollWindow = 100 * time.Microsecond

// busyPolling records an empty receive call in lastEmpty and reports
// whether the previous call was empty too, within busyPollWindow.
func (s *Sockets) busyPolling(lastEmpty *atomic.Int64) bool {
	now := int64(time.Since(s.created))
	prev := lastEmpty.Swap(now)
	return prev != 0 && now-prev <= int64(busyPollWindow)
}

func (c *connection) recvState() *recvState { return &c.recv }

func (c *connection) sockets(s *Sockets, dst []*engine.Socket) []*engine.Socket {
	if c.sock == nil {
		return dst
	}
	return append(dst, c.sock)
}

// pop moves up to len(out) of c's queued messages into out; -1 if the
// application closed c.
func (c *connection) pop(s *Sockets, out []*Message) int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !c.accepting && c.queue.count == 0 {
		// Closed by the application after the lookup.
		return -1
	}
	n := 0
	for n < len(out) && c.queue.head != nil {
		m := c.queue.head
		c.popLocked(m)
		out[n] = m
		n++
	}
	if n > 0 {
		c.lastPop = time.Since(s.created)
	}
	return n
}

func (g *pollGroup) recvState() *recvState { return &g.recv }

// sockets returns the sockets of the group's connections (typically one
// listen socket), none if there are more than dst can take.
func (g *pollGroup) sockets(s *Sockets, dst []*engine.Socket) []*engine.Socket {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(g.socks) > cap(dst)-len(dst) {
		return dst
	}
	for u := range g.socks {
		dst = append(dst, u)
	}
	return dst
}

// pop moves up to len(out) of the group's queued messages into out; -1
// once the group is destroyed.
func (g *pollGroup) pop(s *Sockets, out []*Message) int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if g.destroyed {
		return -1
	}
	n := 0
	var now time.Duration
	for n < len(out) && g.queue.head != nil {
		m := g.queue.head
		if now == 0 {
			now = time.Since(s.created)
		}
		m.owner.lastPop = now
		m.owner.popLocked(m)
		out[n] = m
		n++
	}
	return n
}

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
	return s.receiveWait(ctx, c, out)
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
	return s.receiveWait(ctx, pg, out)
}

func (s *Sockets) receiveWait(ctx context.Context, in inbox, out []*Message) (int, error) {
	if n := s.receive(in, out); n != 0 {
		return n, nil
	}
	spin := &in.recvState().spin
	if spin.worthIt() {
		until := time.Now().Add(waitSpin)
		for time.Now().Before(until) {
			runtime.Gosched()
			if n := s.receive(in, out); n != 0 {
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
		if n := s.receive(in, out); n != 0 {
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

// MessagesReady returns a channel that receives a value after a message has
// been queued for the application on any connection of this instance, so
// a receive loop can wait instead of polling. The channel holds at most one
// pending signal, shared by all waiters: after a wake-up, receive until
// nothing is left, and when several goroutines wait on one instance, bound
// the wait with a timeout.
func (s *Sockets) MessagesReady() <-chan struct{} { return s.ready }

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
