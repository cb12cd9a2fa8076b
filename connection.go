package mist

import (
	"github.com/mistnet/mist/internal/config"
	"github.com/mistnet/mist/internal/engine"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// transport is what carries one connection's messages: an in-process pipe
// or a UDP connection. Every method is called with the connection's lock
// held; implementations report state changes back through the connection.
type transport interface {
	// send queues one message and returns its message number.
	send(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result)
	// flush cancels Nagle delays.
	flush(now time.Time)
	// accept completes an inbound handshake.
	accept(now time.Time) Result
	// close ends the connection from the local side. lingering asks for
	// queued reliable data to be delivered first.
	close(now time.Time, reason EndReason, debug string, linger bool)
	// destroy tears the transport down at once without telling the peer.
	destroy()
	configureLanes(priorities []int, weights []uint16) Result
	status(now time.Time, st *RealTimeStatus, lanes []LaneStatus)
	detailedStatus() string
	description() string
}

// connection is the API side of one connection: handle, state as the
// application sees it, receive queue, poll group and configuration.
type connection struct {
	s      *Sockets
	handle Conn
	cfg    *configStore

	mu sync.Mutex
	// droppedQueueFull counts unreliable messages dropped because the
	// receive queue was full (reliable ones are refused and resent).
	droppedQueueFull uint64
	state            ConnState // may be internal (< 0) after the app closed it
	apiClosed        bool      // the handle is gone for the application
	inbound          bool
	listen           ListenSocket
	remote           Identity
	remoteAddr       netip.AddrPort
	name             string
	endReason        EndReason
	endDebug         string
	flags            ConnInfoFlags
	lanes            int
	tr               transport
	// sock is the UDP socket the connection's datagrams arrive on, set
	// before the handle is published; nil for socket pairs.
	sock *engine.Socket
	recv recvState // see receive
	// quiet suppresses callbacks until Connected: socket pairs start
	// connected without any.
	quiet bool
	// afterUnlock holds work that needs other connections' locks; it runs
	// when the closing call releases c.mu.
	afterUnlock []func()

	// Guarded by s.qmu.
	userData   int64
	limitMsgs  int // receive limits, as of the last backlog
	limitBytes int
	lastPop    time.Duration // when the application last took a message, since s.created
	queue      msgList
	group      *pollGroup
	accepting  bool // the queue takes new messages
}

func newConnection(s *Sockets, h Conn, parent *configStore) *connection {
	c := &connection{s: s, handle: h, cfg: parent.child(config.ConnectionScope), lanes: 1, accepting: true}
	return c
}

// setState moves to a new state and posts the change if the API-visible
// state changed. Called with c.mu held.
func (c *connection) setState(st ConnState) {
	old := c.state
	if old == st {
		return
	}
	c.state = st
	if !c.apiClosed && !c.quiet && old.apiVisible() != st.apiVisible() {
		c.s.postStatus(c, old)
	}
	if st == StateConnected {
		c.quiet = false
	}
}

// ended records why the connection ended and moves it to st
// (ClosedByPeer or ProblemDetectedLocally). Called with c.mu held.
func (c *connection) ended(st ConnState, reason EndReason, debug string) {
	if c.state != StateConnecting && c.state != StateFindingRoute && c.state != StateConnected {
		return
	}
	c.endReason = reason
	c.endDebug = truncate(debug, MaxEndDebugLen)
	c.setState(st)
}

// infoLocked builds the ConnectionInfo snapshot. Called with c.mu held.
func (c *connection) infoLocked() ConnectionInfo {
	desc := "#" + strconv.FormatUint(uint64(c.handle), 10)
	if c.tr != nil {
		desc += " " + c.tr.description()
	}
	if c.name != "" {
		desc += " '" + c.name + "'"
	}
	c.s.qmu.Lock()
	ud := c.userData
	c.s.qmu.Unlock()
	return ConnectionInfo{
		RemoteIdentity: c.remote,
		UserData:       ud,
		ListenSocket:   c.listen,
		RemoteAddr:     c.remoteAddr,
		State:          c.state.apiVisible(),
		EndReason:      c.endReason,
		EndDebug:       c.endDebug,
		Description:    truncate(desc, 127),
		Flags:          c.flags,
	}
}

// deliver queues a received message. It reports false, leaving m to the
// caller, when the receive limits are reached or the application has
// closed the connection. It needs no connection lock, only s.qmu, so a
// transport may call it from anywhere.
func (c *connection) deliver(m *Message, maxMessages, maxBytes int) bool {
	s := c.s
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if !c.accepting {
		return false
	}
	if maxMessages > 0 && c.queue.count >= maxMessages {
		return false
	}
	if maxBytes > 0 && c.queue.bytes+len(m.Data) > maxBytes {
		return false
	}
	m.Conn = c.handle
	m.PeerIdentity = c.remote
	m.ConnUserData = c.userData
	m.owner = c
	c.queue.pushBack(m)
	if g := c.group; g != nil {
		m.group = g
		g.queue.pushBack(m)
	}
	if (maxMessages > 0 && 2*c.queue.count >= maxMessages) || (maxBytes > 0 && 2*c.queue.bytes >= maxBytes) {
		s.backlog.Store(true)
		c.limitMsgs, c.limitBytes = maxMessages, maxBytes
		if (maxMessages > 0 && 4*c.queue.count >= 3*maxMessages) || (maxBytes > 0 && 4*c.queue.bytes >= 3*maxBytes) {
			s.pressed.Store(c)
		}
	}
	s.signalReady()
	return true
}

// popLocked removes m from both views of the queue. Called with s.qmu held.
func (c *connection) popLocked(m *Message) {
	c.queue.remove(m)
	if g := m.group; g != nil {
		g.queue.remove(m)
	}
	m.owner, m.group = nil, nil
}

// purgeLocked discards every unread message and leaves the poll group.
// Called with s.qmu held.
func (c *connection) purgeLocked() {
	for m := c.queue.head; m != nil; m = c.queue.head {
		c.popLocked(m)
		m.Release()
	}
	if c.group != nil {
		c.group.remove(c)
		c.group = nil
	}
	c.accepting = false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// pollGroup gathers the messages of several connections into one queue.
type pollGroup struct {
	handle PollGroup
	queue  msgList // linked through the group links; guarded by s.qmu
	conns  map[*connection]struct{}
	// socks counts the group's connections per UDP socket, for busy-polling
	// receivers that read the sockets themselves; guarded by s.qmu.
	socks     map[*engine.Socket]int
	recv      recvState // see receive
	destroyed bool      // guarded by s.qmu
}

func newPollGroup(h PollGroup) *pollGroup {
	return &pollGroup{handle: h, queue: msgList{viaGroup: true}, conns: make(map[*connection]struct{}), socks: make(map[*engine.Socket]int)}
}

// add and remove keep conns and socks in step. Called with s.qmu held.
func (g *pollGroup) add(c *connection) {
	g.conns[c] = struct{}{}
	if c.sock != nil {
		g.socks[c.sock]++
	}
}

func (g *pollGroup) remove(c *connection) {
	if _, ok := g.conns[c]; !ok {
		return
	}
	delete(g.conns, c)
	if c.sock != nil {
		if g.socks[c.sock]--; g.socks[c.sock] <= 0 {
			delete(g.socks, c.sock)
		}
	}
}

// detachAll removes every connection from the group; their messages stay
// in their own queues. Called with s.qmu held.
func (g *pollGroup) detachAll() {
	for m := g.queue.head; m != nil; m = g.queue.head {
		g.queue.remove(m)
		m.group = nil
	}
	for c := range g.conns {
		c.group = nil
	}
	clear(g.conns)
	clear(g.socks)
}

// setGroupLocked moves c to g (nil: no group), carrying its unread messages,
// which are merged into g's queue by receive time. Called with s.qmu held.
func (c *connection) setGroupLocked(g *pollGroup) {
	old := c.group
	if old == g {
		return
	}
	if old != nil {
		for m := c.queue.head; m != nil; m = c.queue.next(m) {
			old.queue.remove(m)
			m.group = nil
		}
		old.remove(c)
	}
	c.group = g
	if g == nil {
		return
	}
	g.add(c)
	for m := c.queue.head; m != nil; m = c.queue.next(m) {
		at := g.queue.tail
		for at != nil && at.TimeReceived.After(m.TimeReceived) {
			at = g.queue.prev(at)
		}
		g.queue.insertAfter(at, m)
		m.group = g
	}
}
