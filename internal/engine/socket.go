package engine

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
)

// recvBufSize is larger than any datagram GNS sends (wire.MaxUDPPayload),
// so that a longer one arrives long enough to be refused rather than cut
// down to a size that passes.
const recvBufSize = 2048

// Receiver is what a socket's demux feeds: a connection, through the path
// the datagram arrived on.
type Receiver interface {
	// Receive handles one datagram; Service follows once per read batch.
	Receive(now time.Time, p Path, b []byte)
	Service(now time.Time)
	// yield gives up the address from to a new client if the connection
	// has ended or has gone quiet for at least quiet, ending it; it
	// reports whether it did.
	yield(now time.Time, quiet time.Duration, from netip.AddrPort) bool
}

// SocketConfig is what a socket needs from its owner.
type SocketConfig struct {
	// Now is the clock of received datagrams.
	Now func() time.Time
	// AfterDatagram, if set, runs after each datagram the receive loop
	// handles (the owner lets a reader catch up).
	AfterDatagram func()
	// Handling, if set, counts receive loops handling a batch.
	Handling *atomic.Int32
	// Accept, for listen sockets, is given each ConnectRequest that passed
	// the challenge. It vets the client and creates the connection
	// (NewServer, then Bind), or drops the request.
	Accept func(now time.Time, from netip.AddrPort, req *pb.ConnectRequest)
}

// route is a listen socket's entry for one remote address.
type route struct {
	recv Receiver
	path Path
	// clientID and clientIdentity are who the client said it is, for
	// duplicate detection.
	clientID       uint32
	clientIdentity identity.Identity
}

// Socket is one UDP socket and its receive loop: a listen socket's, which
// demultiplexes by source address among its connections and hands the
// rest to a stateless listener, or a client connection's own.
type Socket struct {
	cfg  SocketConfig
	pc   endpoint.PacketConn
	done chan struct{}

	// Client sockets: the one connection, its path and the only accepted
	// source.
	client     *Conn
	clientPath *udpPath
	remote     netip.AddrPort

	mu       sync.Mutex // guards byAddr, listener and replyBuf
	byAddr   map[netip.AddrPort]*route
	listener *conn.Listener
	replyBuf []byte

	// handshakes does the listener's work away from the receive loop.
	handshakes *handshakeQueue

	// Inline polling by busy-polling receivers; see Poll.
	pollMu    sync.Mutex
	pollPkts  []endpoint.Packet
	pollKicks pendingKicks
	// handling is set while the receive loop handles a batch it read.
	handling atomic.Bool
}

// NewListenSocket makes a listen socket on pc; Start runs its loop.
func NewListenSocket(pc endpoint.PacketConn, cfg SocketConfig) (*Socket, error) {
	l, err := conn.NewListener(nil)
	if err != nil {
		return nil, err
	}
	u := &Socket{cfg: cfg, pc: pc, done: make(chan struct{}), byAddr: make(map[netip.AddrPort]*route), listener: l}
	u.handshakes = newHandshakeQueue(u)
	return u, nil
}

// Dial starts an outbound connection to remote on its own socket pc and
// starts the socket's receive loop. The connection is kicked once, under
// its lock, before the loop starts.
func Dial(now time.Time, pc endpoint.PacketConn, remote netip.AddrPort, cfg Config, scfg SocketConfig) (*Conn, error) {
	u := &Socket{cfg: scfg, pc: pc, done: make(chan struct{}), remote: remote}
	u.clientPath = newUDPPath(u, remote)
	c, err := NewClient(now, cfg, u.clientPath)
	if err != nil {
		return nil, err
	}
	u.client = c
	return c, nil
}

// Start runs the receive loop (and a listen socket's handshake loop).
func (u *Socket) Start() {
	if u.handshakes != nil {
		u.handshakes.started.Store(true)
		go u.handshakes.run()
	}
	go u.run()
}

// LocalAddr is the socket's bound address.
func (u *Socket) LocalAddr() netip.AddrPort { return u.pc.LocalAddr() }

// Close closes the socket and waits for its receive loop (and handshake
// loop) to end.
func (u *Socket) Close() {
	u.pc.Close()
	<-u.done
	if u.handshakes != nil {
		u.handshakes.stop()
	}
}

// ListenerStats returns the counters of a listen socket's listener.
func (u *Socket) ListenerStats() conn.ListenerStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.listener == nil {
		return conn.ListenerStats{}
	}
	st := u.listener.Stats
	st.Dropped += u.handshakes.dropped.Load()
	return st
}

// nonblockingReader is a socket that can be read without waiting.
type nonblockingReader interface {
	TryReadBatch(ms []endpoint.Packet) (int, error)
}

// pollBatch is how many datagrams one inline poll may take.
const pollBatch = 16

// Poll reads and handles whatever datagrams are queued on the socket,
// without waiting, in the caller's goroutine, and reports whether there
// were any. A receiver that busy-polls then gets its messages without the
// hand-off from the receive loop, whose goroutine may be waiting for the
// very processor the poller is spinning on. The receive loop keeps
// running; whichever reads a datagram first handles it.
//
// Only an idle receive loop is bypassed: while it is handling a batch,
// traffic is flowing, it will read again at once, and a second reader
// would only take datagrams out of order.
func (u *Socket) Poll() bool {
	r, ok := u.pc.(nonblockingReader)
	if !ok || u.handling.Load() || !u.pollMu.TryLock() {
		return false
	}
	defer u.pollMu.Unlock()
	if u.pollPkts == nil {
		u.pollPkts = resizeBatch(nil, pollBatch)
	}
	n, err := r.TryReadBatch(u.pollPkts)
	if err != nil || n == 0 {
		return false
	}
	now := u.cfg.Now()
	for i := range u.pollPkts[:n] {
		p := &u.pollPkts[i]
		u.handle(now, p.Addr, p.Buf[:p.N], &u.pollKicks)
		p.Buf = p.Buf[:cap(p.Buf)]
	}
	u.pollKicks.run(now)
	return true
}

// pendingKicks collects the connections a read batch fed, so that each is
// serviced once per batch: one ack for a train of datagrams instead of
// one every few.
type pendingKicks []Receiver

func (k *pendingKicks) add(r Receiver) {
	for _, x := range *k {
		if x == r {
			return
		}
	}
	*k = append(*k, r)
}

// run services the collected connections and forgets them.
func (k *pendingKicks) run(now time.Time) {
	for i, r := range *k {
		r.Service(now)
		(*k)[i] = nil
	}
	*k = (*k)[:0]
}

// run is the receive loop: it reads batches and hands each datagram to its
// connection (by source address) or to the listener.
//
// A client socket carries one connection, and most such connections sit
// idle, so its batch starts at one buffer, doubles while full reads follow
// each other closely and drops back to one after a second without a full
// read.
func (u *Socket) run() {
	defer close(u.done)
	size := endpoint.MaxBatch
	if u.client != nil {
		size = 1
	}
	pkts := resizeBatch(nil, size)
	var kicks pendingKicks
	var lastFull time.Time
	for {
		n, err := u.pc.ReadBatch(pkts)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		u.handling.Store(true)
		if u.cfg.Handling != nil {
			u.cfg.Handling.Add(1)
		}
		now := u.cfg.Now()
		for i := range pkts[:n] {
			p := &pkts[i]
			u.handle(now, p.Addr, p.Buf[:p.N], &kicks)
			p.Buf = p.Buf[:cap(p.Buf)]
			if u.cfg.AfterDatagram != nil {
				u.cfg.AfterDatagram()
			}
		}
		kicks.run(now)
		if u.cfg.Handling != nil {
			u.cfg.Handling.Add(-1)
		}
		u.handling.Store(false)
		if u.client == nil {
			continue
		}
		switch {
		case n == len(pkts):
			// A single-buffer read is always full: only full reads in
			// quick succession show traffic waiting.
			if n < endpoint.MaxBatch && now.Sub(lastFull) < burstGap {
				pkts = resizeBatch(pkts, min(2*n, endpoint.MaxBatch))
			}
			lastFull = now
		case len(pkts) > 1 && now.Sub(lastFull) > time.Second:
			pkts = resizeBatch(pkts, 1)
		}
	}
}

// burstGap is how close together two full reads must come for a client
// socket's batch to grow.
const burstGap = 10 * time.Millisecond

// resizeBatch returns a batch of n packets with receive buffers, keeping
// the buffers of pkts it can; shrinking lets the dropped ones be freed.
func resizeBatch(pkts []endpoint.Packet, n int) []endpoint.Packet {
	out := make([]endpoint.Packet, n)
	copied := copy(out, pkts)
	for i := copied; i < n; i++ {
		out[i].Buf = make([]byte, recvBufSize)
	}
	return out
}

// handle feeds one datagram to its connection, which kicks will service,
// or to the listener.
func (u *Socket) handle(now time.Time, from netip.AddrPort, b []byte, kicks *pendingKicks) {
	if u.client != nil {
		if from != u.remote {
			return
		}
		u.client.Receive(now, u.clientPath, b)
		kicks.add(u.client)
		return
	}
	u.mu.Lock()
	if r := u.byAddr[from]; r != nil {
		if id, ok := handshakeClientID(b); !ok || id == r.clientID {
			u.mu.Unlock()
			r.recv.Receive(now, r.path, b)
			kicks.add(r.recv)
			return
		}
		// A handshake from the connection's address with another client
		// id: a client that restarted on the same port. The listener
		// vets it as it would a stranger's, and Accept decides whether it
		// may replace the connection (MakeWay).
	}
	u.mu.Unlock()
	u.handshakes.offer(now, from, b)
}

// handshakeClientID returns the client connection id of a ChallengeRequest
// or ConnectRequest, and false for any other datagram.
func handshakeClientID(b []byte) (uint32, bool) {
	if len(b) == 0 || (wire.MsgID(b[0]) != wire.MsgChallengeRequest && wire.MsgID(b[0]) != wire.MsgConnectRequest) {
		return 0, false
	}
	_, m, err := wire.ParseControlMessage(b)
	if err != nil {
		return 0, false
	}
	switch m := m.(type) {
	case *pb.ChallengeRequest:
		return m.GetConnectionId(), true
	case *pb.ConnectRequest:
		return m.GetClientConnectionId(), true
	}
	return 0, false
}

// write sends datagrams, each to its address.
func (u *Socket) write(batch []endpoint.Packet) {
	for len(batch) > 0 {
		n, err := u.pc.WriteBatch(batch)
		if err != nil || n == 0 {
			return
		}
		batch = batch[n:]
	}
}

// replaceAfterQuiet is how long a connection must have gone without an
// authenticated packet before a new client at its address may replace it.
// A client socket carries one connection (GNS's as well as ours), and the
// new client proved with its challenge that it receives at that address,
// so the old peer is almost certainly gone; the wait only spares a live
// connection from a sender that can both spoof and watch its address.
const replaceAfterQuiet = time.Second

// MakeWay prepares the address from for a new client: a connection there
// that has ended, or gone quiet, is ended locally and forgets the address.
// It reports false if a live connection keeps the address.
func (u *Socket) MakeWay(now time.Time, from netip.AddrPort) bool {
	u.mu.Lock()
	r := u.byAddr[from]
	u.mu.Unlock()
	return r == nil || r.recv.yield(now, replaceAfterQuiet, from)
}

// RefuseDuplicate reports whether a connection for (clientID, id) already
// exists on the socket, from any address; if so it answers the request at
// from with the refusal GNS sends. The refusal (a padded
// ConnectionClosed) is larger than the request, as in GNS; the valid
// challenge has already shown that the sender receives at its address, so
// it cannot be used for reflection.
func (u *Socket) RefuseDuplicate(from netip.AddrPort, clientID uint32, id identity.Identity) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.byAddr {
		if r.clientID == clientID && r.clientIdentity == id {
			reply := conn.DuplicateReply(u.replyBuf[:0], clientID)
			u.pc.WriteBatch([]endpoint.Packet{{Buf: reply, Addr: from}})
			u.replyBuf = reply
			return true
		}
	}
	return false
}

// PathTo is the socket's direct path to remote, for NewServer.
func (u *Socket) PathTo(remote netip.AddrPort) Path { return newUDPPath(u, remote) }

// Bind makes the demux feed datagrams from the address of c's path on u
// to c. c must have been made with NewServer on a path from u.PathTo.
func (u *Socket) Bind(c *Conn) {
	p := c.sockPath
	if p == nil || p.sock != u {
		return
	}
	u.mu.Lock()
	u.byAddr[p.remote] = &route{recv: c, path: p, clientID: c.clientID, clientIdentity: c.clientIdentity}
	u.mu.Unlock()
}

// unbind stops feeding r from addr.
func (u *Socket) unbind(addr netip.AddrPort, r Receiver) {
	u.mu.Lock()
	if e := u.byAddr[addr]; e != nil && e.recv == r {
		delete(u.byAddr, addr)
	}
	u.mu.Unlock()
}
