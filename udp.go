package mist

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/config"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
)

// recvBufSize is larger than any datagram GNS sends (wire.MaxUDPPayload),
// so that a longer one arrives long enough to be refused rather than cut
// down to a size that passes.
const recvBufSize = 2048

// udpSocket is one UDP socket and its receive loop: a listen socket's,
// shared by its connections, or a client connection's own.
type udpSocket struct {
	s    *Sockets
	pc   endpoint.PacketConn
	done chan struct{}

	// Listen sockets.
	listen *listenSocket

	// Client sockets: the one connection and the only accepted source.
	client *udpTransport
	remote netip.AddrPort

	mu       sync.Mutex // guards byAddr, listener and replyBuf
	byAddr   map[netip.AddrPort]*udpTransport
	listener *conn.Listener
	replyBuf []byte

	// Inline polling by busy-polling receivers; see poll.
	pollMu    sync.Mutex
	pollPkts  []endpoint.Packet
	pollKicks pendingKicks
	// handling is set while the receive loop handles a batch it read.
	handling atomic.Bool
}

// nonblockingReader is a socket that can be read without waiting.
type nonblockingReader interface {
	TryReadBatch(ms []endpoint.Packet) (int, error)
}

// pollBatch is how many datagrams one inline poll may take.
const pollBatch = 16

// poll reads and handles whatever datagrams are queued on the socket,
// without waiting, in the caller's goroutine, and reports whether there
// were any. A receiver that busy-polls then gets its messages without the
// hand-off from the receive loop, whose goroutine may be waiting for the
// very processor the poller is spinning on. The receive loop keeps
// running; whichever reads a datagram first handles it.
//
// Only an idle receive loop is bypassed: while it is handling a batch,
// traffic is flowing, it will read again at once, and a second reader
// would only take datagrams out of order.
func (u *udpSocket) poll() bool {
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
	now := u.s.now()
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
type pendingKicks []*udpTransport

func (k *pendingKicks) add(t *udpTransport) {
	for _, x := range *k {
		if x == t {
			return
		}
	}
	*k = append(*k, t)
}

// run services the collected connections and forgets them.
func (k *pendingKicks) run(now time.Time) {
	for i, t := range *k {
		t.c.mu.Lock()
		t.kick(now)
		t.c.mu.Unlock()
		(*k)[i] = nil
	}
	*k = (*k)[:0]
}

func (u *udpSocket) close() {
	u.pc.Close()
	<-u.done
}

// run is the receive loop: it reads batches and hands each datagram to its
// connection (by source address) or to the listener.
//
// A client socket carries one connection, and most such connections sit
// idle, so its batch starts at one buffer, doubles while full reads follow
// each other closely and drops back to one after a second without a full
// read.
func (u *udpSocket) run() {
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
		u.s.loopsHandling.Add(1)
		now := u.s.now()
		for i := range pkts[:n] {
			p := &pkts[i]
			u.handle(now, p.Addr, p.Buf[:p.N], &kicks)
			p.Buf = p.Buf[:cap(p.Buf)]
			u.s.yieldToReaders()
		}
		kicks.run(now)
		u.s.loopsHandling.Add(-1)
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
func (u *udpSocket) handle(now time.Time, from netip.AddrPort, b []byte, kicks *pendingKicks) {
	if u.client != nil {
		if from != u.remote {
			return
		}
		u.client.receive(now, b)
		kicks.add(u.client)
		return
	}
	u.mu.Lock()
	t := u.byAddr[from]
	if t != nil {
		if id, ok := handshakeClientID(b); !ok || id == t.clientID {
			u.mu.Unlock()
			t.receive(now, b)
			kicks.add(t)
			return
		}
		// A handshake from the connection's address with another client
		// id: a client that restarted on the same port. The listener
		// vets it as it would a stranger's, and acceptRequest decides
		// whether it may replace the connection.
	}
	reply, req := u.listener.Receive(now, from, b, u.replyBuf[:0])
	if len(reply) > 0 {
		u.pc.WriteBatch([]endpoint.Packet{{Buf: reply, Addr: from}})
	}
	u.replyBuf = reply
	u.mu.Unlock()
	if req != nil {
		u.s.acceptRequest(now, u, from, req)
	}
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

// replaceAfterQuiet is how long a connection must have gone without an
// authenticated packet before a new client at its address may replace it.
// A client socket carries one connection (GNS's as well as ours), and the
// new client proved with its challenge that it receives at that address,
// so the old peer is almost certainly gone; the wait only spares a live
// connection from a sender that can both spoof and watch its address.
const replaceAfterQuiet = time.Second

// replaceQuiet makes way for a new client at from: a connection there that
// has ended, or gone quiet, is ended locally and forgets the address. It
// reports false if a live connection keeps the address.
func (u *udpSocket) replaceQuiet(now time.Time, from netip.AddrPort) bool {
	u.mu.Lock()
	old := u.byAddr[from]
	u.mu.Unlock()
	if old == nil {
		return true
	}
	c := old.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if old.gone {
		return true
	}
	switch old.cc.State() {
	case conn.StateConnecting, conn.StateConnected, conn.StateLinger:
		if now.Sub(old.cc.LastAlive()) < replaceAfterQuiet {
			return false
		}
		old.cc.Fail(now, int(EndMiscTimeout), "Peer restarted: a new connection came from its address")
		old.kick(now)
	}
	old.forgetAddr()
	return true
}

// write sends datagrams to one address.
func (u *udpSocket) write(batch []endpoint.Packet) {
	for len(batch) > 0 {
		n, err := u.pc.WriteBatch(batch)
		if err != nil || n == 0 {
			return
		}
		batch = batch[n:]
	}
}

// spamLimiter allows one reply per 250 ms, process-wide, to datagrams that
// may be spoofed.
var spamLimiter struct {
	mu   sync.Mutex
	next time.Time
}

func allowSpamReply(now time.Time) bool {
	spamLimiter.mu.Lock()
	defer spamLimiter.mu.Unlock()
	if now.Before(spamLimiter.next) {
		return false
	}
	spamLimiter.next = now.Add(250 * time.Millisecond)
	return true
}

func (s *Sockets) track(t *udpTransport) {
	s.liveMu.Lock()
	s.live[t] = struct{}{}
	s.liveMu.Unlock()
}

func (s *Sockets) listenPacket(addr netip.AddrPort) (endpoint.PacketConn, error) {
	if s.packetListen != nil {
		return s.packetListen(addr)
	}
	// GRO lets one read take a train of datagrams a GSO sender wrote at
	// once; its buffers (at most 256 KiB) are paid once per listen socket,
	// never per idle client.
	pc, err := endpoint.Listen(addr, &endpoint.Options{GRO: true})
	if err != nil {
		return nil, err
	}
	return wrapFaults(pc), nil
}

func (s *Sockets) dialPacket(remote netip.AddrPort) (endpoint.PacketConn, error) {
	if s.packetDial != nil {
		return s.packetDial(remote)
	}
	pc, err := endpoint.Dial(remote, nil)
	if err != nil {
		return nil, err
	}
	return wrapFaults(pc), nil
}

func (s *Sockets) createListenSocketIP(addr netip.AddrPort, opts []ConfigValue) (ListenSocket, error) {
	if addr.Port() == 0 {
		return InvalidListenSocket, errors.New("mist: must specify local port")
	}
	cfg := s.cfg.child(config.ListenSocketScope)
	if !cfg.applyOptions(opts) {
		return InvalidListenSocket, errors.New("mist: bad option")
	}
	if !addr.Addr().IsValid() {
		addr = netip.AddrPortFrom(netip.IPv6Unspecified(), addr.Port())
	}
	pc, err := s.listenPacket(addr)
	if err != nil {
		return InvalidListenSocket, err
	}
	l, err := conn.NewListener(nil)
	if err != nil {
		pc.Close()
		return InvalidListenSocket, err
	}
	u := &udpSocket{s: s, pc: pc, done: make(chan struct{}), byAddr: make(map[netip.AddrPort]*udpTransport), listener: l}
	ls := &listenSocket{cfg: cfg, addr: pc.LocalAddr(), conns: make(map[*connection]struct{}), udp: u}
	u.listen = ls
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pc.Close()
		return InvalidListenSocket, net.ErrClosed
	}
	for {
		s.nextListen++
		idx := s.nextListen & 0xffff
		h := ListenSocket(idx | (s.nextListen>>16&0x7fff)<<16)
		if idx == 0 || s.listens[h] != nil {
			continue
		}
		ls.handle = h
		break
	}
	s.listens[ls.handle] = ls
	s.mu.Unlock()
	go u.run()
	return ls.handle, nil
}

// allowWithoutAuth is the effective IP_AllowWithoutAuth for a peer address.
func allowWithoutAuth(cfg *configStore, peer netip.AddrPort) int {
	e := int(cfg.int(OptIPAllowWithoutAuth))
	if isLoopback(peer.Addr()) {
		e = max(e, int(cfg.int(OptIPLocalHostAllowWithoutAuth)))
	}
	return e
}

// acceptRequest turns a ConnectRequest that passed the challenge into a
// Connecting connection, or drops it.
func (s *Sockets) acceptRequest(now time.Time, u *udpSocket, from netip.AddrPort, req *connRequest) {
	ls := u.listen
	e := allowWithoutAuth(ls.cfg, from)
	id, err := conn.RequestIdentity(req, from, e)
	if err != nil {
		return
	}
	clientID := req.GetClientConnectionId()
	if !u.replaceQuiet(now, from) {
		return
	}
	// One connection per (identity, client id): the same client coming from
	// another address is refused. The refusal (a padded ConnectionClosed) is
	// larger than the request, as in GNS; the valid challenge has already
	// shown that the sender receives at its address, so it cannot be used
	// for reflection.
	u.mu.Lock()
	for _, t := range u.byAddr {
		if t.clientID == clientID && t.clientIdentity == id {
			reply := conn.DuplicateReply(u.replyBuf[:0], clientID)
			u.pc.WriteBatch([]endpoint.Packet{{Buf: reply, Addr: from}})
			u.replyBuf = reply
			u.mu.Unlock()
			return
		}
	}
	u.mu.Unlock()

	s.mu.Lock()
	if s.closed || (ls.pairAccept == nil && s.listens[ls.handle] != ls) {
		s.mu.Unlock()
		return
	}
	h, ok := s.allocConnID()
	if !ok {
		s.mu.Unlock()
		return
	}
	c := newConnection(s, h, ls.cfg)
	c.inbound = true
	c.listen = ls.handle
	c.remoteAddr = from
	c.remote = Identity{id}
	c.userData = c.cfg.int(OptConnectionUserData)
	t := &udpTransport{c: c, sock: u, remote: from, clientID: clientID, clientIdentity: id}
	cfg := s.connConfig(c, t, from, e)
	cc, err := conn.NewServer(now, &cfg, req, id)
	if err != nil {
		s.unreserveConnID(h)
		s.mu.Unlock()
		return
	}
	t.cc = cc
	c.tr = t
	c.sock = u
	s.conns[h] = c
	s.mu.Unlock()
	s.track(t)

	u.mu.Lock()
	u.byAddr[from] = t
	u.mu.Unlock()
	ls.mu.Lock()
	ls.conns[c] = struct{}{}
	ls.mu.Unlock()

	c.mu.Lock()
	c.flags = connFlags(cc, from)
	c.quiet = ls.pairAccept != nil
	c.setState(StateConnecting)
	if c.quiet {
		t.accept(now)
	}
	t.kick(now)
	c.mu.Unlock()
	if ls.pairAccept != nil {
		select {
		case ls.pairAccept <- h:
		default:
		}
	}
}

func (s *Sockets) connectByIPAddress(addr netip.AddrPort, opts []ConfigValue) (Conn, error) {
	return s.connectIP(addr, opts, false)
}

// connectIP starts an outbound connection; quiet ones post no callbacks
// until they are connected.
func (s *Sockets) connectIP(addr netip.AddrPort, opts []ConfigValue, quiet bool) (Conn, error) {
	if addr.Port() == 0 || !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		return InvalidConn, errors.New("mist: bad remote address")
	}
	addr = normalizeAddrPort(addr)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return InvalidConn, net.ErrClosed
	}
	h, ok := s.allocConnID()
	s.mu.Unlock()
	if !ok {
		return InvalidConn, errors.New("mist: too many connections")
	}
	fail := func(err error) (Conn, error) {
		s.mu.Lock()
		s.unreserveConnID(h)
		s.mu.Unlock()
		return InvalidConn, err
	}
	c := newConnection(s, h, s.cfg)
	if !c.cfg.applyOptions(opts) {
		return fail(errors.New("mist: bad option"))
	}
	c.cfg.lockConnection()
	c.remoteAddr = addr
	c.userData = c.cfg.int(OptConnectionUserData)
	pc, err := s.dialPacket(addr)
	if err != nil {
		return fail(err)
	}
	u := &udpSocket{s: s, pc: pc, done: make(chan struct{}), remote: addr}
	t := &udpTransport{c: c, sock: u, remote: addr}
	u.client = t
	now := s.now()
	cfg := s.connConfig(c, t, addr, allowWithoutAuth(c.cfg, addr))
	cc, err := conn.NewClient(now, &cfg)
	if err != nil {
		pc.Close()
		return fail(err)
	}
	t.cc = cc
	c.tr = t
	c.sock = u
	s.mu.Lock()
	s.conns[h] = c
	s.mu.Unlock()
	s.track(t)

	c.mu.Lock()
	c.quiet = quiet
	c.setState(StateConnecting)
	t.kick(now)
	c.mu.Unlock()
	go u.run()
	return h, nil
}

// connConfig gathers a connection's protocol settings from its config.
func (s *Sockets) connConfig(c *connection, t *udpTransport, remote netip.AddrPort, e int) conn.Config {
	ms := func(opt ConfigOption) time.Duration { return time.Duration(c.cfg.int(opt)) * time.Millisecond }
	return conn.Config{
		LocalID:          uint32(c.handle),
		Identity:         s.identity.wire(),
		Cert:             s.local.Load(),
		AppID:            s.appID,
		Trusted:          s.trusted,
		AllowWithoutAuth: e,
		Unencrypted:      int(c.cfg.int(OptUnencrypted)),
		TimeoutInitial:   ms(OptTimeoutInitial),
		TimeoutConnected: ms(OptTimeoutConnected),
		MTU:              int(c.cfg.int(OptMTUPacketSize)),
		Remote:           remote,
		NewSession:       t.newSession,
		AllowSpamReply:   allowSpamReply,

		SendTimeSincePrevious: c.cfg.int(OptSendTimeSincePreviousPacket) > 0,
	}
}

func connFlags(cc *conn.Conn, remote netip.AddrPort) ConnInfoFlags {
	var f ConnInfoFlags
	if !cc.Authenticated() {
		f |= ConnInfoUnauthenticated
	}
	if cc.State() == conn.StateConnected && !cc.Encrypted() {
		f |= ConnInfoUnencrypted
	}
	if isLoopback(remote.Addr()) {
		f |= ConnInfoFast
	}
	return f
}
