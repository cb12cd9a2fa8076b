package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/wire"
)

// A listen socket's receive loop hands datagrams from strangers to its
// handshake loop instead of answering them itself: a flood of handshakes
// (spoofed ChallengeRequests cost the listener a MAC, a protobuf and a
// send each) then delays the connections' datagrams by a classification
// and a queue push, not by the listener's work, and what the handshake
// loop cannot keep up with is dropped, as the socket buffer would.

// handshakeQueueLen bounds the datagrams waiting for the handshake loop;
// beyond it they are dropped and counted. Clients retry every 500 ms.
const handshakeQueueLen = 256

// Per-source limit on the handshake datagrams one address (IP and port:
// one client socket) gets handled: a client sends about two a second.
const (
	perSourceHandshakes = 16
	perSourceWindow     = time.Second
	// maxTrackedSources bounds the per-source table; sources beyond it in
	// one window are not limited individually (the queue still bounds them).
	maxTrackedSources = 1 << 14
)

type handshakeJob struct {
	now  time.Time
	from netip.AddrPort
	b    []byte // pooled
}

type handshakeQueue struct {
	u       *Socket
	jobs    chan handshakeJob
	quit    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64 // shed, refused early or over a source's limit

	// Per-source counts in the current window; only the handshake loop
	// touches them.
	windowStart time.Time
	perSource   map[netip.AddrPort]uint16

	started  atomic.Bool
	stopOnce sync.Once
}

func newHandshakeQueue(u *Socket) *handshakeQueue {
	return &handshakeQueue{u: u, jobs: make(chan handshakeJob, handshakeQueueLen), quit: make(chan struct{}),
		done: make(chan struct{}), perSource: make(map[netip.AddrPort]uint16)}
}

// worthHandling is the receive loop's cheap early test: only the control
// messages a listener acts on, at a size a sender could mean, go on.
func worthHandling(b []byte) bool {
	if len(b) < wire.MinDatagramLen || len(b) > wire.MaxUDPPayload {
		return false
	}
	switch wire.MsgID(b[0]) {
	case wire.MsgChallengeRequest, wire.MsgConnectionClosed:
		return len(b) >= wire.MinPaddedLen
	case wire.MsgConnectRequest:
		return true
	}
	return false
}

// offer queues a datagram for the handshake loop, or drops it.
func (q *handshakeQueue) offer(now time.Time, from netip.AddrPort, b []byte) {
	if !worthHandling(b) {
		q.dropped.Add(1)
		return
	}
	cp := bufpool.Get(len(b))
	copy(cp, b)
	select {
	case q.jobs <- handshakeJob{now: now, from: from, b: cp}:
	default:
		bufpool.Put(cp)
		q.dropped.Add(1)
	}
}

// allow counts a handshake datagram from addr and reports whether it is
// within the source's limit.
func (q *handshakeQueue) allow(now time.Time, addr netip.AddrPort) bool {
	if now.Sub(q.windowStart) >= perSourceWindow {
		q.windowStart = now
		clear(q.perSource)
	}
	n, tracked := q.perSource[addr]
	if !tracked && len(q.perSource) >= maxTrackedSources {
		return true
	}
	if n >= perSourceHandshakes {
		return false
	}
	q.perSource[addr] = n + 1
	return true
}

func (q *handshakeQueue) run() {
	defer close(q.done)
	for {
		select {
		case j := <-q.jobs:
			q.handle(j)
		case <-q.quit:
			for {
				select {
				case j := <-q.jobs:
					bufpool.Put(j.b)
				default:
					return
				}
			}
		}
	}
}

func (q *handshakeQueue) handle(j handshakeJob) {
	defer bufpool.Put(j.b)
	if !q.allow(j.now, j.from) {
		q.dropped.Add(1)
		return
	}
	u := q.u
	u.mu.Lock()
	reply, req := u.listener.Receive(j.now, j.from, j.b, u.replyBuf[:0])
	if len(reply) > 0 {
		u.pc.WriteBatch([]endpoint.Packet{{Buf: reply, Addr: j.from}})
	}
	u.replyBuf = reply
	u.mu.Unlock()
	if req != nil && u.cfg.Accept != nil {
		u.cfg.Accept(j.now, j.from, req)
	}
}

// stop ends the loop and waits for it, if it runs.
func (q *handshakeQueue) stop() {
	q.stopOnce.Do(func() { close(q.quit) })
	if q.started.Load() {
		<-q.done
	}
}
