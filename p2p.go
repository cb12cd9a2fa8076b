package mist

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/config"
	"github.com/mistnet/mist/internal/p2p/ice"
	"github.com/mistnet/mist/internal/p2p/rendezvous"
	"github.com/mistnet/mist/internal/p2p/signaling"
	"github.com/mistnet/mist/internal/p2p/trivial"
	piontransport "github.com/pion/transport/v5"
)

// ConnectionSignaling carries one P2P connection's signals to its peer
// (ISteamNetworkingConnectionSignaling). SendSignal may be called with
// the connection's lock held: it must not call back into Sockets, and must
// not block for long. Returning false closes the connection with end
// reason 5002.
type ConnectionSignaling = signaling.ConnectionSignaling

// SignalingHeader says which connection a signal belongs to.
type SignalingHeader = signaling.Header

// SignalingRecvContext is supplied with a received signal
// (ISteamNetworkingSignalingRecvContext): it is asked for the signaling of
// a new inbound connection and sends rejections.
type SignalingRecvContext = signaling.RecvContext

// SignalingFuncs adapts two functions to ConnectionSignaling.
type SignalingFuncs = signaling.Funcs

// Errors of the P2P calls. ReceivedP2PCustomSignal returns the Signal ones
// (possibly wrapped); none of them changes any connection.
var (
	// ErrNoSignaling: ConnectP2P needs Config.SignalingServer (or use
	// ConnectP2PCustomSignaling).
	ErrNoSignaling = errors.New("mist: no signaling server configured (Config.SignalingServer)")
	// ErrVirtualPortInUse: a P2P listen socket already has that port.
	ErrVirtualPortInUse = errors.New("mist: a P2P listen socket already uses that virtual port")
	// ErrDuplicateConnection: a symmetric connection to that peer and port
	// pair already exists.
	ErrDuplicateConnection = errors.New("mist: a symmetric connection to that peer on those ports exists")

	// ErrSignalMalformed: the blob is not a rendezvous message.
	ErrSignalMalformed = rendezvous.ErrMalformed
	// ErrSignalUnknownConnection: the signal is for no connection here and
	// asks for none (dropped silently, as GNS does).
	ErrSignalUnknownConnection = rendezvous.ErrUnknownConnection
	// ErrSignalIdentityMismatch: the sender is not the connection's peer.
	ErrSignalIdentityMismatch = rendezvous.ErrIdentityMismatch
	// ErrSignalConnectionMismatch: the signal names another connection id
	// than the one established.
	ErrSignalConnectionMismatch = rendezvous.ErrConnectionMismatch
	// ErrSignalNoIdentity: the signal names no valid sender.
	ErrSignalNoIdentity = rendezvous.ErrNoIdentity
	// ErrSignalIgnored: a connect request nobody took (no listen socket on
	// its port, or the context returned no signaling).
	ErrSignalIgnored = rendezvous.ErrIgnored
)

// virtualPortMessages is GNS's port for ISteamNetworkingMessages.
const virtualPortMessages = 0x7fffffff

// p2pState is the P2P side of an instance: the rendezvous router of the
// local identity, the P2P listen sockets and the built-in signaling client.
//
// Locks: recvMu is outermost (it serializes received signals, so a user
// OnConnectRequest may call any API); mu guards the router, every
// rendezvous session and the maps, and is taken after connection.mu.
type p2pState struct {
	s      *Sockets
	recvMu sync.Mutex
	mu     sync.Mutex
	router *rendezvous.Router
	// sessions finds the transport of a session returned by the router.
	sessions map[*rendezvous.Session]*p2pTransport
	listens  map[int]*listenSocket
	trivial  *trivial.Client

	// Test hooks: the network ICE gathers on (natsim), and loopback-only
	// candidates for tests on one machine.
	iceNet      piontransport.Net
	iceLoopback bool
	iceTiming   *ice.Timing
}

func newP2PState(s *Sockets) *p2pState {
	return &p2pState{
		s:        s,
		router:   rendezvous.NewRouter(rendezvous.Limits{}),
		sessions: make(map[*rendezvous.Session]*p2pTransport),
		listens:  make(map[int]*listenSocket),
	}
}

// startSignaling connects the built-in client for GNS's trivial signaling
// protocol, registering the local identity at the first reachable server
// of a comma-separated list.
func (m *p2pState) startSignaling(servers string) error {
	c, err := trivial.New(servers, m.s.identity.String(), func(_ string, blob []byte, ctx signaling.RecvContext) {
		m.s.receiveSignal(blob, ctx, true)
	}, trivial.Options{})
	if err != nil {
		return err
	}
	m.trivial = c
	return nil
}

// close stops the signaling client, then drops every session left (closed
// connections still answering signals): nothing is signalled after the
// instance is closed.
func (m *p2pState) close() {
	if m.trivial != nil {
		m.trivial.Close()
	}
	m.mu.Lock()
	left := make([]*p2pTransport, 0, len(m.sessions))
	for _, p := range m.sessions {
		left = append(left, p)
	}
	m.mu.Unlock()
	for _, p := range left {
		p.c.mu.Lock()
		p.destroy()
		p.c.mu.Unlock()
	}
}

// CreateListenSocketP2P listens for P2P connections on a virtual port
// (0..65535). Options apply at listen-socket scope and are inherited by
// accepted connections. Inbound requests arrive through the built-in
// signaling client (Config.SignalingServer) or ReceivedP2PCustomSignal.
func (s *Sockets) CreateListenSocketP2P(virtualPort int, opts ...ConfigValue) (ListenSocket, error) {
	if virtualPort < 0 || (virtualPort > 0xffff && virtualPort != virtualPortMessages) {
		return InvalidListenSocket, fmt.Errorf("mist: bad virtual port %d", virtualPort)
	}
	cfg := s.cfg.child(config.ListenSocketScope)
	if !cfg.applyOptions(opts) {
		return InvalidListenSocket, errors.New("mist: bad option")
	}
	ls := &listenSocket{cfg: cfg, conns: make(map[*connection]struct{}), p2p: true, p2pPort: virtualPort}
	m := s.p2p
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return InvalidListenSocket, errors.New("mist: instance closed")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listens[virtualPort] != nil {
		return InvalidListenSocket, ErrVirtualPortInUse
	}
	s.registerListenLocked(ls)
	m.listens[virtualPort] = ls
	return ls.handle, nil
}

// forgetListen drops a closed P2P listen socket's port.
func (m *p2pState) forgetListen(ls *listenSocket) {
	m.mu.Lock()
	if m.listens[ls.p2pPort] == ls {
		delete(m.listens, ls.p2pPort)
	}
	m.mu.Unlock()
}

// ConnectP2P connects to a peer by identity on its virtual port, through
// the signaling server named in Config.SignalingServer. The connection goes
// Connecting → FindingRoute (crypto handshake done through signals, ICE
// looking for a route) → Connected (a data packet decrypted on the route).
//
// The option Callback_CreateConnectionSignaling, set to a
// [CreateConnectionSignalingFunc], takes precedence over the built-in
// signaling client, as in GNS.
func (s *Sockets) ConnectP2P(remote Identity, virtualPort int, opts ...ConfigValue) (Conn, error) {
	if !remote.IsValid() {
		return InvalidConn, errors.New("mist: invalid remote identity")
	}
	if create := s.createSignalingFunc(); create != nil {
		localPort := virtualPort
		for _, o := range opts {
			if o.Option == OptLocalVirtualPort && o.Int() >= 0 {
				localPort = int(o.Int())
			}
		}
		sig := create(s, remote, localPort, virtualPort)
		if sig == nil {
			return InvalidConn, errors.New("mist: Callback_CreateConnectionSignaling returned no signaling")
		}
		return s.ConnectP2PCustomSignaling(sig, remote, virtualPort, opts...)
	}
	if s.p2p.trivial == nil {
		return InvalidConn, ErrNoSignaling
	}
	return s.ConnectP2PCustomSignaling(s.p2p.trivial.Signaling(remote.String()), remote, virtualPort, opts...)
}

// CreateConnectionSignalingFunc makes the signaling of a new outbound P2P
// connection (FnSteamNetworkingSocketsCreateConnectionSignaling). Set it
// with SetGlobalConfigValue(PtrValue(OptCallbackCreateConnectionSignaling,
// fn)) (a global option, as in GNS); returning nil fails the call.
type CreateConnectionSignalingFunc func(s *Sockets, peer Identity, localVirtualPort, remoteVirtualPort int) ConnectionSignaling

// createSignalingFunc is the Callback_CreateConnectionSignaling in effect.
func (s *Sockets) createSignalingFunc() CreateConnectionSignalingFunc {
	pick := func(v any) CreateConnectionSignalingFunc {
		switch f := v.(type) {
		case CreateConnectionSignalingFunc:
			return f
		case func(*Sockets, Identity, int, int) ConnectionSignaling:
			return f
		}
		return nil
	}
	v, _ := globalConfig.get(OptCallbackCreateConnectionSignaling)
	return pick(v.Ptr())
}

// ConnectP2PCustomSignaling is ConnectP2P with the application's own
// signaling for this connection. Signals from the peer must be handed to
// ReceivedP2PCustomSignal. sig is released some time after the
// connection closes, also when this call fails. With SymmetricConnect it
// must not be called from inside OnConnectRequest.
func (s *Sockets) ConnectP2PCustomSignaling(sig ConnectionSignaling, remote Identity, virtualPort int, opts ...ConfigValue) (Conn, error) {
	h, err := s.connectP2P(sig, remote, virtualPort, opts)
	if err != nil && sig != nil {
		sig.Release()
	}
	return h, err
}

func (s *Sockets) connectP2P(sig ConnectionSignaling, remote Identity, virtualPort int, opts []ConfigValue) (Conn, error) {
	if sig == nil {
		return InvalidConn, errors.New("mist: nil signaling")
	}
	if !remote.IsValid() || remote.IsLocalhost() {
		return InvalidConn, errors.New("mist: invalid remote identity")
	}
	if virtualPort < 0 || (virtualPort > 0xffff && virtualPort != virtualPortMessages) {
		return InvalidConn, fmt.Errorf("mist: bad virtual port %d", virtualPort)
	}
	m := s.p2p
	c := newConnection(s, 0, s.cfg)
	if !c.cfg.applyOptions(opts) {
		return InvalidConn, errors.New("mist: bad option")
	}
	localPort := int(c.cfg.int(OptLocalVirtualPort))
	if localPort < 0 {
		localPort = virtualPort
	}
	symmetric := c.cfg.int(OptSymmetricConnect) != 0
	m.mu.Lock()
	if ls := m.listens[localPort]; ls != nil && ls.cfg.int(OptSymmetricConnect) != 0 {
		symmetric = true
	}
	m.mu.Unlock()
	if symmetric {
		// Serialized with received signals, so that a request from the
		// peer either made its connection before this check or finds this
		// connection as the one it crossed.
		m.recvMu.Lock()
		defer m.recvMu.Unlock()
		if h, ok, err := s.symmetricExisting(remote, localPort, virtualPort); ok || err != nil {
			return h, err
		}
	}
	now := s.now()
	h, err := s.allocP2PID()
	if err != nil {
		return InvalidConn, err
	}
	c.handle = h
	c.cfg.lockConnection()
	c.remote = remote
	c.userData = c.cfg.int(OptConnectionUserData)
	ciphers := cert.CipherList(int(c.cfg.int(OptUnencrypted)))
	var lc *rendezvous.LocalCrypto
	if ca := s.local.Load(); ca != nil {
		lc, err = rendezvous.NewLocalCryptoWithCert(ca, ciphers, rand.Reader)
	} else {
		lc, err = rendezvous.NewLocalCrypto(s.identity.wire(), s.appID, ciphers, rand.Reader)
	}
	if err != nil {
		s.releaseP2PID(h)
		return InvalidConn, err
	}
	p := &p2pTransport{c: c, m: m, sig: sig, lc: lc, symmetric: symmetric}
	rcfg := p.rendezvousConfig(localPort, virtualPort)
	rcfg.RemoteIdentity = remote.wire()
	rcfg.Cert, rcfg.Crypt = lc.Cert.Signed, lc.Signed
	sess, err := rendezvous.NewInitiator(rcfg, now)
	if err != nil {
		s.releaseP2PID(h)
		return InvalidConn, err
	}
	p.setSession(sess)
	m.mu.Lock()
	err = m.router.Add(sess)
	if err == nil {
		m.sessions[sess] = p
	}
	m.mu.Unlock()
	if err != nil {
		s.releaseP2PID(h)
		return InvalidConn, err
	}
	c.tr = p
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		m.mu.Lock()
		m.router.Remove(sess)
		delete(m.sessions, sess)
		m.mu.Unlock()
		s.releaseP2PID(h)
		return InvalidConn, errors.New("mist: instance closed")
	}
	s.conns[h] = c
	s.mu.Unlock()

	c.mu.Lock()
	c.setState(StateConnecting)
	p.startICE(now, false)
	p.kick(now)
	c.mu.Unlock()
	return h, nil
}

// symmetricExisting finds an active connection with the same peer and
// ports for a symmetric connect: an inbound one still waiting is accepted
// and returned; any other is a duplicate.
func (s *Sockets) symmetricExisting(remote Identity, localPort, remotePort int) (Conn, bool, error) {
	m := s.p2p
	m.mu.Lock()
	var found *p2pTransport
	for sess, p := range m.sessions {
		if sess.RemoteIdentity() == remote.wire() && sess.LocalVirtualPort() == localPort && sess.RemoteVirtualPort() == remotePort &&
			(sess.State() == rendezvous.StateConnecting || sess.State() == rendezvous.StateFindingRoute || sess.State() == rendezvous.StateConnected) {
			found = p
			break
		}
	}
	m.mu.Unlock()
	if found == nil {
		return InvalidConn, false, nil
	}
	c := found.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiClosed {
		return InvalidConn, false, nil
	}
	if c.inbound && c.state == StateConnecting {
		if r := found.accept(s.now()); r != ResultOK {
			return InvalidConn, false, fmt.Errorf("mist: accepting the peer's crossing connection: %v", r)
		}
		return c.handle, true, nil
	}
	return InvalidConn, false, ErrDuplicateConnection
}

// allocP2PID reserves a connection id that is also safe on an ICE path.
func (s *Sockets) allocP2PID() (Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return InvalidConn, errors.New("mist: instance closed")
	}
	for {
		h, ok := s.allocConnID()
		if !ok {
			return InvalidConn, errors.New("mist: too many connections")
		}
		if ice.ConnectionIDSafe(uint32(h)) {
			return h, nil
		}
		s.unreserveConnID(h)
	}
}

func (s *Sockets) releaseP2PID(h Conn) {
	s.mu.Lock()
	s.unreserveConnID(h)
	s.mu.Unlock()
}

// ReceivedP2PCustomSignal handles a signal from a peer, as GNS's function
// of the same name: a signal for an existing connection goes to it; a
// connect request for none is offered to the listen socket on its virtual
// port and to ctx.OnConnectRequest. The result says what happened to the
// signal: nil when it was taken, ErrSignalUnknownConnection and
// ErrSignalIgnored for the silent drops, other errors for signals that are
// malformed or not from the connection's peer. No error changes any
// connection.
func (s *Sockets) ReceivedP2PCustomSignal(blob []byte, ctx SignalingRecvContext) error {
	return s.receiveSignal(blob, ctx, false)
}

// receiveSignal is ReceivedP2PCustomSignal; builtIn marks signals from the
// built-in signaling client.
func (s *Sockets) receiveSignal(blob []byte, ctx SignalingRecvContext, builtIn bool) error {
	m := s.p2p
	m.recvMu.Lock()
	defer m.recvMu.Unlock()
	now := s.now()
	m.mu.Lock()
	sess, in, req, err := m.router.Route(now, blob)
	p := m.sessions[sess]
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if req != nil {
		return s.p2pInbound(now, req, ctx, builtIn)
	}
	if p == nil {
		return ErrSignalUnknownConnection
	}
	c := p.c
	c.mu.Lock()
	p.onSignal(now, in)
	p.kick(now)
	c.mu.Unlock()
	return nil
}

// p2pAllowWithoutAuth is the certificate policy of P2P peers: without a
// trusted CA every peer's certificate is self-signed (as in open-source
// GNS, which accepts unsigned certificates on P2P connections).
func (s *Sockets) p2pAllowWithoutAuth(cfg *configStore) int {
	e := int(cfg.int(OptIPAllowWithoutAuth))
	if s.trusted == nil {
		e = max(e, 1)
	}
	return e
}

// p2pInbound creates the connection a new connect request asks for.
func (s *Sockets) p2pInbound(now time.Time, req *rendezvous.Request, ctx SignalingRecvContext, builtIn bool) error {
	m := s.p2p
	if ctx == nil {
		return ErrSignalIgnored
	}
	m.mu.Lock()
	ls := m.listens[req.LocalVirtualPort]
	m.mu.Unlock()
	if ls == nil && builtIn {
		// With default signaling a request for a port nobody listens on is
		// ignored silently; custom signaling offers it to the context.
		return ErrSignalIgnored
	}
	if p := m.crossing(req, ls); p != nil {
		return p.crossed(now, req, ctx)
	}
	parent := s.cfg
	if ls != nil {
		parent = ls.cfg
	}
	policy := cert.Policy{AllowWithoutAuth: s.p2pAllowWithoutAuth(parent), AppID: s.appID, Trusted: s.trusted, Now: now}
	peer, err := rendezvous.ValidateRequest(req, policy)
	if err != nil {
		var ce *cert.Error
		if errors.As(err, &ce) {
			s.p2pReject(req, ce.Reason, ce.Msg, ctx)
		}
		return err
	}
	h, err := s.allocP2PID()
	if err != nil {
		return err
	}
	c := newConnection(s, h, parent)
	c.inbound = true
	c.remote = Identity{req.Identity}
	c.userData = c.cfg.int(OptConnectionUserData)
	if ls != nil {
		c.listen = ls.handle
	}
	sig := ctx.OnConnectRequest(uint32(h), req.Identity.String(), req.LocalVirtualPort)
	if sig == nil {
		s.releaseP2PID(h)
		return ErrSignalIgnored
	}
	p := &p2pTransport{c: c, m: m, sig: sig, peer: peer, ls: ls}
	rcfg := p.rendezvousConfig(req.LocalVirtualPort, req.RemoteVirtualPort)
	m.mu.Lock()
	sess, in, err := rendezvous.NewAcceptor(rcfg, req, now)
	if err == nil {
		if err = m.router.Add(sess); err == nil {
			m.sessions[sess] = p
		}
	}
	m.mu.Unlock()
	if err != nil {
		sig.Release()
		s.releaseP2PID(h)
		if errors.Is(err, rendezvous.ErrTooManyPending) || errors.Is(err, rendezvous.ErrTooManySessions) {
			s.p2pReject(req, int(EndMiscGeneric), err.Error(), ctx)
		}
		return err
	}
	p.setSession(sess)
	c.tr = p
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		m.mu.Lock()
		m.router.Remove(sess)
		delete(m.sessions, sess)
		m.mu.Unlock()
		sig.Release()
		s.releaseP2PID(h)
		return errors.New("mist: instance closed")
	}
	s.conns[h] = c
	s.mu.Unlock()
	if ls != nil {
		ls.mu.Lock()
		ls.conns[c] = struct{}{}
		ls.mu.Unlock()
	}
	c.mu.Lock()
	c.setState(StateConnecting)
	p.onSignal(now, in)
	p.kick(now)
	c.mu.Unlock()
	return nil
}

// crossing finds our own symmetric connect request that req crossed: an
// outbound connection to the same peer on the same ports, still waiting
// for its answer.
func (m *p2pState) crossing(req *rendezvous.Request, ls *listenSocket) *p2pTransport {
	lsSymmetric := ls != nil && ls.cfg.int(OptSymmetricConnect) != 0
	m.mu.Lock()
	defer m.mu.Unlock()
	for sess, p := range m.sessions {
		if sess.Role() == rendezvous.Initiator && sess.State() == rendezvous.StateConnecting &&
			(p.symmetric || lsSymmetric) && sess.RemoteIdentity() == req.Identity &&
			sess.LocalVirtualPort() == req.LocalVirtualPort && sess.RemoteVirtualPort() == req.RemoteVirtualPort {
			return p
		}
	}
	return nil
}

// p2pReject answers a refused request with a rejection signal.
func (s *Sockets) p2pReject(req *rendezvous.Request, reason int, debug string, ctx SignalingRecvContext) {
	var b [4]byte
	rand.Read(b[:])
	from := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 | 1
	blob, err := rendezvous.Append(nil, rendezvous.Rejection(s.identity.wire(), from, req, reason, debug))
	if err == nil {
		ctx.SendRejectionSignal(req.Identity.String(), blob)
	}
}

// p2pICEConfig gathers a connection's ICE settings from its configuration.
func (m *p2pState) iceConfig(cfg *configStore, controlling bool, localID uint32) (ice.Config, error) {
	str := func(o ConfigOption) string { v, _ := cfg.get(o); return v.Str() }
	enable, err := ice.EnableFromConfig(int32(cfg.int(OptP2PTransportICEEnable)))
	if err != nil {
		return ice.Config{}, err
	}
	stun, err := ice.ParseSTUNServers(str(OptP2PSTUNServerList))
	if err != nil {
		return ice.Config{}, err
	}
	turn, err := ice.ParseTURNServers(str(OptP2PTURNServerList), str(OptP2PTURNUserList), str(OptP2PTURNPassList))
	if err != nil {
		return ice.Config{}, err
	}
	ic := ice.Config{
		Controlling:       controlling,
		LocalConnectionID: localID,
		Enable:            enable,
		STUNServers:       stun,
		TURNServers:       turn,
		Penalty:           int(cfg.int(OptP2PTransportICEPenalty)),
		Net:               m.iceNet,
		// The controlling side moves a relayed route to a direct pair that
		// succeeds later, as GNS's controlling agent does.
		Timing: ice.Timing{Upgrade: time.Second},
	}
	if m.iceTiming != nil {
		ic.Timing = *m.iceTiming
	}
	if m.iceLoopback {
		ic.Loopback = true
		ic.AddrFilter = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
	}
	return ic, nil
}
