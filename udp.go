package mist

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mistnet/mist/internal/config"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/engine"
	"github.com/mistnet/mist/internal/netsim"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/reliability"
)

// This file joins the API to the connection engine (internal/engine): it
// opens sockets, turns accepted requests and dials into connections, and
// is each UDP connection's transport (API → engine) and owner (engine →
// API).

type connRequest = pb.ConnectRequest

// udpConn is a UDP connection as the API sees it (its transport) and as the
// engine sees the API (its engine.Owner). Both directions run under the
// connection's lock, c.mu.
type udpConn struct {
	c  *connection
	ec *engine.Conn
	// ls is the listen socket of an inbound connection.
	ls *listenSocket
	// maxMsgs and maxBytes are the receive limits, as of the session's
	// settings.
	maxMsgs, maxBytes int
}

// Settings is engine.Owner.Settings.
func (t *udpConn) Settings() engine.Settings {
	cfg := t.c.cfg.sc.Connection()
	t.maxMsgs, t.maxBytes = cfg.RecvBufferMessages, cfg.RecvBufferSize
	return engine.Settings{
		NagleTime:                cfg.NagleTime,
		SendBufferSize:           cfg.SendBufferSize,
		RecvBufferSize:           cfg.RecvBufferSize,
		RecvMaxMessageSize:       cfg.RecvMaxMessageSize,
		RecvMaxSegmentsPerPacket: cfg.RecvMaxSegmentsPerPacket,
		SendRateMin:              cfg.SendRateMin,
		SendRateMax:              cfg.SendRateMax,
	}
}

// Deliver is engine.Owner.Deliver: it queues the message for the
// application.
func (t *udpConn) Deliver(rm reliability.Message, arrived time.Time) bool {
	var m *Message
	if rm.Lent {
		m = newReceivedCopy(rm.Data)
	} else {
		m = newReceived(rm.Data)
	}
	m.Lane = uint16(rm.Lane)
	m.MessageNumber = rm.Num
	if rm.Reliable {
		m.Flags = SendReliable
	}
	m.TimeReceived = arrived
	if t.c.deliver(m, t.maxMsgs, t.maxBytes) {
		return true
	}
	if !rm.Reliable {
		t.c.droppedQueueFull++
	}
	// Refused: the session keeps ownership of a payload it gave.
	if !rm.Lent {
		m.Data, m.pooled = nil, false
	}
	m.Release()
	return false
}

// UnreadBytes is engine.Owner.UnreadBytes.
func (t *udpConn) UnreadBytes() int {
	s := t.c.s
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return t.c.queue.bytes
}

// StateChanged is engine.Owner.StateChanged: it reflects the protocol
// state into the API state.
func (t *udpConn) StateChanged(st conn.State, reason int, debug string) {
	c := t.c
	switch st {
	case conn.StateConnected:
		if c.state == StateConnecting {
			c.remote = Identity{t.ec.RemoteIdentity()}
			c.flags = connFlags(t.ec, c.remoteAddr)
			c.setState(StateConnected)
		}
	case conn.StateClosedByPeer, conn.StateProblemDetectedLocally:
		c.ended(ConnState(st), EndReason(reason), debug)
	case conn.StateDead:
		s := c.s
		s.liveMu.Lock()
		delete(s.live, t)
		s.liveMu.Unlock()
		if ls := t.ls; ls != nil {
			ls.mu.Lock()
			delete(ls.conns, c)
			ls.mu.Unlock()
		}
	}
}

func (t *udpConn) send(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result) {
	n, err := t.ec.Send(now, lane, data, flags&SendReliable != 0, flags&SendNoNagle != 0)
	if err != nil {
		return -1, sendResult(err)
	}
	return n, ResultOK
}

func (t *udpConn) flush(now time.Time) { t.ec.Flush(now) }

func (t *udpConn) accept(now time.Time) Result {
	if err := t.ec.Accept(now); err != nil {
		if errors.Is(err, engine.ErrHandshakeFailed) {
			return ResultHandshakeFailed
		}
		return ResultInvalidState
	}
	t.c.cfg.lockConnection()
	return ResultOK
}

func (t *udpConn) close(now time.Time, reason EndReason, debug string, linger bool) {
	t.ec.Close(now, int(reason), debug, linger)
}

func (t *udpConn) destroy() { t.ec.Destroy() }

func (t *udpConn) configureLanes(priorities []int, weights []uint16) Result {
	switch err := t.ec.ConfigureLanes(priorities, weights); {
	case err == nil:
		return ResultOK
	case errors.Is(err, engine.ErrPeerTooOld):
		return ResultFail
	}
	return ResultInvalidParam
}

func (t *udpConn) status(now time.Time, st *RealTimeStatus, lanes []LaneStatus) {
	var es engine.Status
	ls := make([]conn.LaneStatus, len(lanes))
	t.ec.Status(now, &es, ls)
	fillStatus(st, lanes, &es, ls)
}

// observe is status for a monitor (engine.Conn.Observe) plus the
// connection's lifetime counters.
func (t *udpConn) observe(now time.Time, st *RealTimeStatus, lanes []LaneStatus, n *ConnectionCounters) {
	var es engine.Status
	var ec engine.Counters
	ls := make([]conn.LaneStatus, len(lanes))
	t.ec.Observe(now, &es, ls, &ec)
	fillStatus(st, lanes, &es, ls)
	cs := ec.Stats
	*n = ConnectionCounters{
		PacketsSent: cs.PacketsSent, BytesSent: cs.BytesSent,
		PacketsRecv: cs.PacketsRecv, BytesRecv: cs.BytesRecv,
		DroppedInvalid: cs.Dropped, DroppedDuplicate: cs.Duplicates, DecryptFailed: cs.DecryptFail,
		RetransmittedSegments: uint64(ec.RetransmittedSegments), RetransmittedBytes: uint64(ec.RetransmittedBytes),
	}
}

// fillStatus converts the engine's status of a connection and its lanes.
func fillStatus(st *RealTimeStatus, lanes []LaneStatus, es *engine.Status, ls []conn.LaneStatus) {
	if es.HavePing {
		st.Ping = int(es.Ping.Milliseconds())
	}
	st.QualityLocal, st.QualityRemote, st.MaxJitter = es.QualityLocal, es.QualityRemote, es.MaxJitter
	st.OutPacketsPerSec, st.OutBytesPerSec = es.OutPacketsPerSec, es.OutBytesPerSec
	st.InPacketsPerSec, st.InBytesPerSec = es.InPacketsPerSec, es.InBytesPerSec
	st.PendingReliable, st.PendingUnreliable = es.PendingReliable, es.PendingUnreliable
	st.SentUnackedReliable = es.SentUnackedReliable
	st.QueueTime = es.QueueTime
	st.SendRate = es.SendRate
	for i, l := range ls {
		lanes[i] = LaneStatus{PendingUnreliable: l.PendingUnreliable, PendingReliable: l.PendingReliable,
			SentUnackedReliable: l.SentUnackedReliable, QueueTime: l.QueueTime}
	}
}

func (t *udpConn) detailedStatus() string { return t.ec.Detailed() }

func (t *udpConn) description() string {
	addr := FormatIPAddr(t.c.remoteAddr)
	if id := t.c.remote; !id.IsValid() || id.IsLocalhost() || id == IPIdentity(t.c.remoteAddr) {
		return "UDP " + addr
	}
	return "UDP " + t.c.remote.String() + "@" + addr
}

func sendResult(err error) Result {
	switch {
	case errors.Is(err, reliability.ErrInvalidParam):
		return ResultInvalidParam
	case errors.Is(err, reliability.ErrLimitExceeded):
		return ResultLimitExceeded
	case errors.Is(err, conn.ErrNotConnected):
		return ResultNoConnection
	}
	return ResultFail
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

func (s *Sockets) track(t *udpConn) {
	s.liveMu.Lock()
	s.live[t] = struct{}{}
	s.liveMu.Unlock()
}

func (s *Sockets) listenPacket(addr netip.AddrPort) (endpoint.PacketConn, error) {
	if s.seams.listen != nil {
		return s.seams.listen(addr)
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
	if s.seams.dial != nil {
		return s.seams.dial(remote)
	}
	pc, err := endpoint.Dial(remote, nil)
	if err != nil {
		return nil, err
	}
	return wrapFaults(pc), nil
}

// wrapFaults applies the global FakePacket* and FakeRateLimit* options,
// when any is set, to a new socket.
func wrapFaults(pc endpoint.PacketConn) endpoint.PacketConn {
	send, recv := netsim.FromConfig(globalConfig.sc.Fake())
	// Inactive options still carry their defaults (jitter maximum, reorder
	// time...): only the switches matter.
	active := func(f netsim.Faults) bool {
		return f.LossPct > 0 || f.Lag > 0 || f.ReorderPct > 0 || f.DupPct > 0 || f.JitterAvg > 0 || f.RateLimit > 0
	}
	if !active(send) && !active(recv) {
		return pc
	}
	return netsim.Wrap(pc, netsim.Options{Send: send, Recv: recv})
}

// socketConfig is what the instance gives each socket's receive loop.
func (s *Sockets) socketConfig(accept func(time.Time, netip.AddrPort, *connRequest)) engine.SocketConfig {
	return engine.SocketConfig{Now: s.now, AfterDatagram: s.yieldToReaders, Handling: &s.loopsHandling, Accept: accept}
}

// openListenSocket opens a listen socket on pc, starts its receive loop
// and returns it; ls is filled in and becomes its owner.
func (s *Sockets) openListenSocket(pc endpoint.PacketConn, ls *listenSocket) error {
	u, err := engine.NewListenSocket(pc, s.socketConfig(func(now time.Time, from netip.AddrPort, req *connRequest) {
		s.acceptRequest(now, ls, from, req)
	}))
	if err != nil {
		return err
	}
	ls.udp, ls.addr, ls.conns = u, pc.LocalAddr(), make(map[*connection]struct{})
	return nil
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
	ls := &listenSocket{cfg: cfg}
	if err := s.openListenSocket(pc, ls); err != nil {
		pc.Close()
		return InvalidListenSocket, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pc.Close()
		return InvalidListenSocket, net.ErrClosed
	}
	s.registerListenLocked(ls)
	s.mu.Unlock()
	ls.udp.Start()
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
// Connecting connection, or drops it. It runs in the listen socket's
// receive loop with no lock held.
func (s *Sockets) acceptRequest(now time.Time, ls *listenSocket, from netip.AddrPort, req *connRequest) {
	u := ls.udp
	e := allowWithoutAuth(ls.cfg, from)
	id, err := conn.RequestIdentity(req, from, e)
	if err != nil {
		return
	}
	// A client that restarted at the address of a connection that went
	// quiet takes its place; one connection per (identity, client id):
	// the same client coming from another address is refused.
	if !u.MakeWay(now, from) || u.RefuseDuplicate(from, req.GetClientConnectionId(), id) {
		return
	}

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
	t := &udpConn{c: c, ls: ls}
	ec, err := engine.NewServer(now, s.engineConfig(c, t, e), u.PathTo(from), req, id)
	if err != nil {
		s.unreserveConnID(h)
		s.mu.Unlock()
		return
	}
	t.ec = ec
	c.tr = t
	c.sock = u
	s.conns[h] = c
	s.mu.Unlock()
	s.track(t)

	u.Bind(ec)
	ls.mu.Lock()
	ls.conns[c] = struct{}{}
	ls.mu.Unlock()

	c.mu.Lock()
	c.flags = connFlags(ec, from)
	c.quiet = ls.pairAccept != nil
	c.setState(StateConnecting)
	if c.quiet {
		t.accept(now)
	}
	ec.Kick(now)
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
	t := &udpConn{c: c}
	now := s.now()
	ec, err := engine.Dial(now, pc, addr, s.engineConfig(c, t, allowWithoutAuth(c.cfg, addr)), s.socketConfig(nil))
	if err != nil {
		pc.Close()
		return fail(err)
	}
	t.ec = ec
	c.tr = t
	c.sock = ec.Socket()
	s.mu.Lock()
	s.conns[h] = c
	s.mu.Unlock()
	s.track(t)

	c.mu.Lock()
	c.quiet = quiet
	c.setState(StateConnecting)
	ec.Kick(now)
	c.mu.Unlock()
	c.sock.Start()
	return h, nil
}

// engineConfig gathers a connection's protocol settings from a snapshot
// of its config.
func (s *Sockets) engineConfig(c *connection, t *udpConn, allowWithoutAuth int) engine.Config {
	cfg := c.cfg.sc.Connection()
	return engine.Config{
		Protocol: conn.Config{
			LocalID:          uint32(c.handle),
			Identity:         s.identity.wire(),
			Cert:             s.local.Load(),
			AppID:            s.appID,
			Trusted:          s.trusted,
			AllowWithoutAuth: allowWithoutAuth,
			Unencrypted:      cfg.Unencrypted,
			TimeoutInitial:   cfg.TimeoutInitial,
			TimeoutConnected: cfg.TimeoutConnected,
			MTU:              cfg.MTUPacketSize,
			AllowSpamReply:   allowSpamReply,

			SendTimeSincePrevious: cfg.SendTimeSincePreviousPacket > 0,
		},
		Lock:  &c.mu,
		Owner: t,
		Now:   s.now,
	}
}

func connFlags(ec *engine.Conn, remote netip.AddrPort) ConnInfoFlags {
	var f ConnInfoFlags
	if !ec.Authenticated() {
		f |= ConnInfoUnauthenticated
	}
	if ec.State() == conn.StateConnected && !ec.Encrypted() {
		f |= ConnInfoUnencrypted
	}
	if isLoopback(remote.Addr()) {
		f |= ConnInfoFast
	}
	return f
}

// registerListenLocked gives ls a free listen-socket handle and records it.
// Called with s.mu held.
func (s *Sockets) registerListenLocked(ls *listenSocket) {
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
}
