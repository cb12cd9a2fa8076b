package mist

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/engine"
	"github.com/mistnet/mist/internal/p2p/ice"
	"github.com/mistnet/mist/internal/p2p/rendezvous"
	"github.com/mistnet/mist/internal/p2p/signaling"
	"github.com/mistnet/mist/internal/pb"
	"google.golang.org/protobuf/proto"
)

// p2pTransport is a P2P connection: its signaling session (crypto
// handshake, ICE messages, closing before Connected), its ICE session, and
// once the keys are known the same UDP data path as a direct connection
// (udpTransport over conn.Conn), whose datagrams go to the ICE route.
// Every method is called with c.mu held; session calls also take m.mu.
type p2pTransport struct {
	c   *connection
	m   *p2pState
	sig ConnectionSignaling
	hdr signaling.Header
	// sess is the rendezvous session; nil once it has been forgotten.
	sess      *rendezvous.Session
	symmetric bool

	lc   *rendezvous.LocalCrypto // initiator's handshake material
	peer *cert.Peer              // acceptor: the validated request
	ls   *listenSocket           // acceptor: the listen socket, if any

	ice *ice.Session
	// iceGen numbers ICE sessions: callbacks of a replaced one are ignored.
	iceGen int
	// heldICE are the peer's ICE messages received before ICE started
	// (an acceptor starts it when the application accepts).
	heldICE []*pb.ICERendezvous
	// routingReady: RoutingReady was given to the session.
	routingReady bool

	// udp is the data path, from the end of the crypto handshake; path
	// is its active path, the current ICE route.
	udp   *udpConn
	path  *icePath
	route ice.Route
	// dataDone: the data path was torn down.
	dataDone bool
	// confirmed: a data packet decrypted on the selected route.
	confirmed bool

	timer   *time.Timer
	timerAt time.Time
	// released: the signaling object was released.
	released bool

	early      []p2pEarlyMsg
	earlyBytes int
	earlyNum   []int64
	lanePrio   []int
	laneW      []uint16
}

type p2pEarlyMsg struct {
	lane  int
	data  []byte
	flags SendFlags
}

// maxHeldICE bounds the ICE messages kept for a connection not yet
// accepted; the sender retransmits what is lost.
const maxHeldICE = 64

func (p *p2pTransport) setSession(sess *rendezvous.Session) {
	p.sess = sess
	p.hdr = signaling.Header{
		Conn:              uint32(p.c.handle),
		LocalIdentity:     p.c.s.identity.String(),
		RemoteIdentity:    sess.RemoteIdentity().String(),
		LocalVirtualPort:  sess.LocalVirtualPort(),
		RemoteVirtualPort: sess.RemoteVirtualPort(),
	}
}

// rendezvousConfig is the signaling configuration of this connection.
func (p *p2pTransport) rendezvousConfig(localPort, remotePort int) rendezvous.Config {
	cfg := p.c.cfg
	wait := 10 * time.Millisecond // host candidates only
	if v, _ := cfg.get(OptP2PSTUNServerList); v.Str() != "" {
		wait = 100 * time.Millisecond
	}
	timeout := time.Duration(cfg.int(OptTimeoutInitial)) * time.Millisecond
	if timeout <= 0 {
		timeout = -1
	}
	return rendezvous.Config{
		LocalIdentity:      p.c.s.identity.wire(),
		LocalCert:          p.c.s.local.Load(),
		LocalConnID:        uint32(p.c.handle),
		LocalVirtualPort:   localPort,
		RemoteVirtualPort:  remotePort,
		InitialRoutingWait: wait,
		TimeoutInitial:     timeout,
		ICEDisabled:        cfg.int(OptP2PTransportICEEnable) == 0,
	}
}

// withSession runs f on the session under the rendezvous lock.
func (p *p2pTransport) withSession(f func(s *rendezvous.Session)) {
	if p.sess == nil {
		return
	}
	p.m.mu.Lock()
	f(p.sess)
	p.m.mu.Unlock()
}

// startICE creates the ICE session (controlling on the accepting side) and
// queues its password as the first reliable ICE message. A failure ends
// the connection with the ICE failure's reason.
func (p *p2pTransport) startICE(now time.Time, controlling bool) {
	if reason, err := ice.CheckImplementation(int32(p.c.cfg.int(OptP2PTransportICEImplementation))); err != nil {
		p.fail(now, EndReason(reason), err.Error())
		return
	}
	ic, err := p.m.iceConfig(p.c.cfg, controlling, uint32(p.c.handle))
	if err == nil {
		p.iceGen++
		gen := p.iceGen
		ic.OnCandidate = func(line string) { p.onCandidate(gen, line) }
		ic.OnRoute = func(r ice.Route) { p.onRoute(gen, r) }
		ic.OnReceive = func(b []byte) { p.onReceive(gen, b) }
		p.ice, err = ice.NewSession(ic)
	}
	if err != nil {
		reason, debug := EndMiscGeneric, "ICE: "+err.Error()
		if errors.Is(err, ice.ErrNotEnabled) {
			reason = EndReason(ice.EndNotEnabled)
		}
		p.fail(now, reason, debug)
		return
	}
	pwd := p.ice.LocalPassword()
	p.withSession(func(s *rendezvous.Session) {
		s.QueueICE(now, &pb.ICERendezvous{Auth: &pb.ICERendezvous_Auth{PwdFrag: proto.String(pwd)}})
	})
	held := p.heldICE
	p.heldICE = nil
	p.applyICE(held)
}

// applyICE hands the peer's ICE messages to the ICE session.
func (p *p2pTransport) applyICE(msgs []*pb.ICERendezvous) {
	if len(msgs) == 0 {
		return
	}
	if p.ice == nil {
		room := maxHeldICE - len(p.heldICE)
		if len(msgs) > room {
			msgs = msgs[:max(room, 0)]
		}
		p.heldICE = append(p.heldICE, msgs...)
		return
	}
	var id uint32
	p.withSession(func(s *rendezvous.Session) { id = s.RemoteConnID() })
	for _, msg := range msgs {
		if a := msg.GetAuth(); a != nil {
			if id != 0 {
				p.ice.SetRemoteCredentials(id, a.GetPwdFrag())
			}
		}
		if cand := msg.GetAddCandidate(); cand != nil {
			// Lines GNS would drop are dropped here too.
			p.ice.AddRemoteCandidate(cand.GetCandidate())
		}
	}
}

// onSignal acts on what a received signal brought.
func (p *p2pTransport) onSignal(now time.Time, in rendezvous.Inbound) {
	if p.sess == nil {
		return
	}
	if in.Closed != nil {
		p.stopData()
		p.c.ended(StateClosedByPeer, EndReason(in.Closed.Reason), in.Closed.Debug)
		return
	}
	if in.PeerICEDisabled && p.c.state != StateConnected {
		p.fail(now, 4999, "Peer's signals do not enable ICE")
		return
	}
	if in.ConnectOK != nil {
		p.finishInitiator(now)
	}
	p.applyICE(in.ICE)
}

// finishInitiator completes the handshake when the connect OK arrives.
func (p *p2pTransport) finishInitiator(now time.Time) {
	c := p.c
	policy := cert.Policy{AllowWithoutAuth: c.s.p2pAllowWithoutAuth(c.cfg), AppID: c.s.appID, Trusted: c.s.trusted, Now: now}
	var est *rendezvous.Established
	var err error
	p.withSession(func(s *rendezvous.Session) {
		est, err = rendezvous.FinishInitiator(s, p.lc, cert.CipherList(int(c.cfg.int(OptUnencrypted))), policy)
	})
	p.lc = nil
	if err != nil {
		p.failCrypto(now, err)
		return
	}
	c.setState(StateFindingRoute)
	if err := p.startData(now, est, false); err != nil {
		p.fail(now, EndMiscInternalError, err.Error())
	}
}

// failCrypto ends the connection for a failed certificate or crypt check.
func (p *p2pTransport) failCrypto(now time.Time, err error) {
	var ce *cert.Error
	if errors.As(err, &ce) {
		p.fail(now, EndReason(ce.Reason), ce.Msg)
		return
	}
	p.fail(now, EndRemoteBadCrypt, err.Error())
}

// startData makes the data path from the finished handshake.
func (p *p2pTransport) startData(now time.Time, est *rendezvous.Established, isServer bool) error {
	c := p.c
	send, err := crypto.NewCipher(est.Cipher, est.Keys.SendKey, est.Keys.SendIV)
	if err != nil {
		return err
	}
	recv, err := crypto.NewCipher(est.Cipher, est.Keys.RecvKey, est.Keys.RecvIV)
	if err != nil {
		return err
	}
	t := &udpConn{c: c, ls: p.ls}
	p.path = &icePath{p: p, route: p.route}
	cfg := c.s.engineConfig(c, t, c.s.p2pAllowWithoutAuth(c.cfg))
	cfg.Owner = p2pOwner{t, p}
	var remoteID uint32
	p.withSession(func(s *rendezvous.Session) { remoteID = s.RemoteConnID() })
	ec, err := engine.NewP2P(now, cfg, p.path, conn.P2PHandshake{
		IsServer:       isServer,
		RemoteID:       remoteID,
		RemoteIdentity: c.remote.wire(),
		Authenticated:  est.Peer.CASigned,
		PeerVersion:    est.PeerProtocolVersion,
		Send:           send,
		Recv:           recv,
	})
	if err != nil {
		return err
	}
	t.ec = ec
	p.udp = t
	c.s.track(t)
	c.flags = p.flags()
	if p.route.Kind != ice.RouteNone {
		// ICE selected a route before the handshake finished.
		p.useRoute(now, true)
	}
	return nil
}

// accept is the application's AcceptConnection.
func (p *p2pTransport) accept(now time.Time) Result {
	c := p.c
	if p.sess == nil || p.peer == nil || p.udp != nil {
		return ResultInvalidState
	}
	var est *rendezvous.Established
	var err error
	p.withSession(func(s *rendezvous.Session) {
		_, est, err = rendezvous.AcceptSession(now, s, p.peer, c.s.appID, cert.CipherList(int(c.cfg.int(OptUnencrypted))), rand.Reader)
	})
	if err != nil {
		p.failCrypto(now, err)
		p.kick(now)
		return ResultHandshakeFailed
	}
	c.cfg.lockConnection()
	c.setState(StateFindingRoute)
	if err := p.startData(now, est, true); err != nil {
		p.fail(now, EndMiscInternalError, err.Error())
		p.kick(now)
		return ResultHandshakeFailed
	}
	p.startICE(now, true)
	p.kick(now)
	return ResultOK
}

// crossed resolves a symmetric connect whose request crossed req from the
// peer, as GNS does: both sides compare the two requests the same way and
// exactly one becomes the acceptor. Here it is this side (the comparison
// is positive): its own request is dropped silently (the peer dropped it
// too), and the connection, keeping its handle, accepts req with a fresh
// signaling session and ICE as the controlling agent. Otherwise req is
// ignored and this side waits for the peer's answer.
func (p *p2pTransport) crossed(now time.Time, req *rendezvous.Request, ctx SignalingRecvContext) error {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.sess == nil || p.lc == nil || c.state != StateConnecting {
		return ErrSignalIgnored
	}
	if rendezvous.CompareSymmetric(uint32(c.handle), p.lc.Cert.Signed.GetCert(), req.ConnID, req.Cert.GetCert()) <= 0 {
		return ErrSignalIgnored
	}
	policy := cert.Policy{AllowWithoutAuth: c.s.p2pAllowWithoutAuth(c.cfg), AppID: c.s.appID, Trusted: c.s.trusted, Now: now}
	peer, err := rendezvous.ValidateRequest(req, policy)
	if err != nil {
		var ce *cert.Error
		if errors.As(err, &ce) {
			c.s.p2pReject(req, ce.Reason, ce.Msg, ctx)
		}
		return err
	}
	rcfg := p.rendezvousConfig(req.LocalVirtualPort, req.RemoteVirtualPort)
	m := p.m
	m.mu.Lock()
	m.router.Remove(p.sess)
	delete(m.sessions, p.sess)
	sess, in, err := rendezvous.NewAcceptor(rcfg, req, now)
	if err == nil {
		if err = m.router.Add(sess); err == nil {
			m.sessions[sess] = p
		}
	}
	if err != nil {
		// Keep the outbound attempt as it was.
		m.router.Add(p.sess)
		m.sessions[p.sess] = p
		m.mu.Unlock()
		return err
	}
	m.mu.Unlock()
	p.closeICE()
	p.heldICE = nil
	p.route = ice.Route{}
	p.routingReady = false
	p.lc = nil
	p.peer = peer
	p.setSession(sess)
	p.onSignal(now, in)
	if r := p.accept(now); r != ResultOK {
		return fmt.Errorf("mist: accepting the crossing request: %v", r)
	}
	return nil
}

// onCandidate signals one local candidate (ICE goroutine).
func (p *p2pTransport) onCandidate(gen int, line string) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != p.iceGen || p.ice == nil {
		return
	}
	now := c.s.now()
	p.withSession(func(s *rendezvous.Session) {
		s.QueueICE(now, &pb.ICERendezvous{AddCandidate: &pb.ICECandidate{Candidate: proto.String(line)}})
		if !p.routingReady {
			// The first host candidate ends the wait; with STUN the
			// session's own wait lets a reflexive one join.
			if v, _ := c.cfg.get(OptP2PSTUNServerList); v.Str() == "" {
				p.routingReady = true
				s.RoutingReady()
			}
		}
	})
	p.kick(now)
}

// onRoute follows the ICE route (ICE goroutine): the first selection
// starts the data path, later ones switch it.
func (p *p2pTransport) onRoute(gen int, r ice.Route) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != p.iceGen || p.ice == nil {
		return
	}
	if !p.dataLive() {
		p.route = r
		return
	}
	now := c.s.now()
	first := p.route.Kind == ice.RouteNone
	p.route = r
	p.useRoute(now, first)
	p.udp.ec.Kick(now)
}

// useRoute points the data path at the selected route: connection info,
// queued messages on the first route, an immediate ping to confirm it.
func (p *p2pTransport) useRoute(now time.Time, first bool) {
	c := p.c
	c.remoteAddr = routeAddr(p.route)
	c.flags = p.flags()
	// A new path for the new route: the connection's packet numbers, keys
	// and reliability carry on over it.
	old := p.path
	p.path = &icePath{p: p, route: p.route}
	p.udp.ec.SetActivePath(p.path)
	p.udp.ec.RemovePath(old)
	if first {
		p.sendEarly(now)
	}
	p.udp.ec.RouteChanged(now)
	p.checkConfirmed(now)
}

// onReceive takes a datagram from the peer (ICE goroutine).
func (p *p2pTransport) onReceive(gen int, b []byte) {
	c := p.c
	c.mu.Lock()
	if gen != p.iceGen || !p.dataLive() {
		c.mu.Unlock()
		return
	}
	ec, path := p.udp.ec, p.path
	c.mu.Unlock()
	now := c.s.now()
	ec.Receive(now, path, b) // takes c.mu
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.dataLive() {
		p.checkConfirmed(now)
		ec.Kick(now)
	}
}

// pollP2P reads the datagrams already queued on the ICE route's socket on
// the caller's goroutine (see receive's busy polling); false if c has no
// such route.
func (c *connection) pollP2P() bool {
	c.mu.Lock()
	p, ok := c.tr.(*p2pTransport)
	var sess *ice.Session
	if ok {
		sess = p.ice
	}
	c.mu.Unlock()
	return sess != nil && sess.Poll()
}

// checkConfirmed moves FindingRoute to Connected once a data packet
// decrypted and a route is selected.
func (p *p2pTransport) checkConfirmed(now time.Time) {
	if p.confirmed || p.route.Kind == ice.RouteNone || p.udp.ec.DataPacketsReceived() == 0 {
		return
	}
	if p.udp.ec.State() != conn.StateConnected {
		return
	}
	p.confirmed = true
	p.withSession(func(s *rendezvous.Session) { s.MarkConnected(now) })
	c := p.c
	if c.state == StateFindingRoute {
		c.flags = p.flags()
		c.setState(StateConnected)
	}
}

// routeAddr is the remote address route r sends to: the peer's for a
// direct route, the relay's for a relayed one (never the peer's own
// address behind a relay).
func routeAddr(r ice.Route) netip.AddrPort {
	if r.LocalType == ice.TypeRelay && r.RemoteType != ice.TypeRelay {
		// Our relay forwards to the peer: the relay is where we send.
		return r.Local
	}
	return r.Remote
}

// flags are the connection info flags of the current route.
func (p *p2pTransport) flags() ConnInfoFlags {
	var f ConnInfoFlags
	if p.udp != nil {
		if !p.udp.ec.Authenticated() {
			f |= ConnInfoUnauthenticated
		}
		if !p.udp.ec.Encrypted() {
			f |= ConnInfoUnencrypted
		}
	}
	switch p.route.Kind {
	case ice.RouteRelay:
		f |= ConnInfoRelayed
	case ice.RouteLocal:
		f |= ConnInfoFast
	}
	return f
}

// kick flushes the signaling, runs the data path and rearms the timer.
func (p *p2pTransport) kick(now time.Time) {
	var deadline time.Time
	if sess := p.sess; sess != nil {
		var st rendezvous.State
		var end rendezvous.CloseInfo
		var done bool
		p.m.mu.Lock()
		rendezvous.Flush(now, sess, p.sig, p.hdr)
		st, end = sess.State(), sess.End()
		deadline = sess.Deadline()
		done = st >= rendezvous.StateClosedByPeer && sess.Done(now)
		if done {
			p.m.router.Remove(sess)
			delete(p.m.sessions, sess)
		}
		p.m.mu.Unlock()
		switch st {
		case rendezvous.StateClosedLocally:
			// Timeouts (5003 Connecting, 5008 FindingRoute) and refused
			// signals end the connection here.
			if p.c.state == StateConnecting || p.c.state == StateFindingRoute {
				p.stopData()
				p.c.ended(StateProblemDetectedLocally, EndReason(end.Reason), end.Debug)
			}
		case rendezvous.StateClosedByPeer:
			if p.c.state == StateConnecting || p.c.state == StateFindingRoute {
				p.stopData()
				p.c.ended(StateClosedByPeer, EndReason(end.Reason), end.Debug)
			}
		}
		if done {
			p.sess = nil
			deadline = time.Time{}
			p.release()
		}
	}
	if p.dataLive() {
		p.udp.ec.Kick(now)
	}
	p.arm(now, deadline)
}

func (p *p2pTransport) arm(now, d time.Time) {
	if d.IsZero() {
		if p.timer != nil && !p.timerAt.IsZero() {
			p.timer.Stop()
			p.timerAt = time.Time{}
		}
		return
	}
	if !p.timerAt.IsZero() && !p.timerAt.After(d) {
		return
	}
	p.timerAt = d
	wait := max(d.Sub(now), 0)
	if p.timer == nil {
		p.timer = time.AfterFunc(wait, p.onTimer)
		return
	}
	p.timer.Reset(wait)
}

func (p *p2pTransport) onTimer() {
	c := p.c
	c.mu.Lock()
	p.timerAt = time.Time{}
	p.kick(c.s.now())
	c.mu.Unlock()
}

// release hands the signaling object back once the session is done.
func (p *p2pTransport) release() {
	if p.released {
		return
	}
	p.released = true
	if p.sig != nil {
		p.sig.Release()
	}
}

// fail ends a connection that is not yet Connected: the session tells the
// peer, ICE and the data path stop.
func (p *p2pTransport) fail(now time.Time, reason EndReason, debug string) {
	p.withSession(func(s *rendezvous.Session) { s.Close(now, int(reason), debug) })
	p.stopData()
	p.c.ended(StateProblemDetectedLocally, reason, debug)
}

// stopData stops ICE and drops the data path without sending on it.
func (p *p2pTransport) stopData() {
	if p.dataLive() {
		p.udp.ec.Destroy()
	}
	p.closeICE()
	for _, m := range p.early {
		bufpool.Put(m.data)
	}
	p.early, p.earlyBytes = nil, 0
}

func (p *p2pTransport) closeICE() {
	if p.ice != nil {
		// Close may wait for ICE goroutines that wait for c.mu.
		go p.ice.Close()
		p.ice = nil
	}
}

// sendEarly hands the messages queued before the route to the data path.
func (p *p2pTransport) sendEarly(now time.Time) {
	t := p.udp
	if p.lanePrio != nil || p.laneW != nil {
		t.configureLanes(p.lanePrio, p.laneW)
	}
	for _, m := range p.early {
		t.ec.Send(now, m.lane, m.data, m.flags&SendReliable != 0, m.flags&SendNoNagle != 0)
		bufpool.Put(m.data)
	}
	p.early, p.earlyBytes = nil, 0
}

// dataReady: messages go to the data path once it has a route.
func (p *p2pTransport) dataReady() bool {
	return p.dataLive() && p.route.Kind != ice.RouteNone
}

func (p *p2pTransport) send(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result) {
	if p.dataReady() {
		return p.udp.send(now, lane, data, flags)
	}
	if p.earlyBytes+len(data) > int(p.c.cfg.int(OptSendBufferSize)) {
		return -1, ResultLimitExceeded
	}
	p.earlyBytes += len(data)
	for len(p.earlyNum) <= lane {
		p.earlyNum = append(p.earlyNum, 0)
	}
	p.earlyNum[lane]++
	cp := bufpool.Get(len(data))
	copy(cp, data)
	p.early = append(p.early, p2pEarlyMsg{lane: lane, data: cp, flags: flags})
	return p.earlyNum[lane], ResultOK
}

func (p *p2pTransport) flush(now time.Time) {
	if p.dataReady() {
		p.udp.flush(now)
	}
}

// close is the application's close: before Connected the peer learns it
// through a signal; after, through ConnectionClosed on the route.
func (p *p2pTransport) close(now time.Time, reason EndReason, debug string, linger bool) {
	p.withSession(func(s *rendezvous.Session) { s.Close(now, int(reason), debug) })
	if p.confirmed && p.dataLive() {
		p.udp.close(now, reason, debug, linger)
	} else {
		p.stopData()
	}
	p.kick(now)
}

// destroy drops the connection at once without telling the peer.
func (p *p2pTransport) destroy() {
	if p.sess != nil {
		p.m.mu.Lock()
		p.m.router.Remove(p.sess)
		delete(p.m.sessions, p.sess)
		p.m.mu.Unlock()
		p.sess = nil
	}
	p.release()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.stopData()
}

func (p *p2pTransport) configureLanes(priorities []int, weights []uint16) Result {
	if p.dataReady() {
		return p.udp.configureLanes(priorities, weights)
	}
	p.lanePrio, p.laneW = priorities, weights
	return ResultOK
}

func (p *p2pTransport) status(now time.Time, st *RealTimeStatus, lanes []LaneStatus) {
	if p.udp != nil {
		p.udp.status(now, st, lanes)
	}
	for _, m := range p.early {
		if m.flags&SendReliable != 0 {
			st.PendingReliable += len(m.data)
		} else {
			st.PendingUnreliable += len(m.data)
		}
	}
}

func (p *p2pTransport) detailedStatus() string {
	text := "Route: " + p.routeText() + "\n"
	if p.udp != nil {
		text += p.udp.detailedStatus()
	}
	return text
}

func (p *p2pTransport) routeText() string {
	if p.route.Kind == ice.RouteNone {
		return "none"
	}
	return fmt.Sprintf("%s %s -> %s", p.route.Kind, p.route.Local, p.route.Remote)
}

func (p *p2pTransport) description() string {
	return "P2P " + p.c.remote.String()
}

// dataLive reports whether the data path exists and is not torn down.
func (p *p2pTransport) dataLive() bool { return p.udp != nil && !p.dataDone }

// p2pOwner is the data path's owner: the UDP connection's, plus ICE's end
// when the data path is torn down.
type p2pOwner struct {
	*udpConn
	p *p2pTransport
}

func (o p2pOwner) StateChanged(st conn.State, reason int, debug string) {
	o.udpConn.StateChanged(st, reason, debug)
	if st == conn.StateDead {
		o.p.dataDone = true
		o.p.closeICE()
	}
}

// icePath is the data path over one ICE route: datagrams go to the ICE
// session's selected pair (through the TURN relay for a relay route).
// Received datagrams come through onReceive.
type icePath struct {
	p     *p2pTransport
	route ice.Route
}

func (ip *icePath) Kind() engine.PathKind {
	if ip.route.Kind == ice.RouteRelay {
		return engine.PathRelayed
	}
	return engine.PathUDP
}

func (ip *icePath) RemoteAddr() netip.AddrPort { return routeAddr(ip.route) }

// WriteDatagrams sends on the route; without one (or on a send error) the
// datagrams are lost, which the protocol above recovers from.
func (ip *icePath) WriteDatagrams(ds [][]byte) {
	s := ip.p.ice
	if s == nil || ip.route.Kind == ice.RouteNone {
		return
	}
	s.SendBatch(ds)
}
