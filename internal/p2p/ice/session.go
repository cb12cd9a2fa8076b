package ice

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pion "github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// maxRemoteCandidates bounds what a peer can make us keep. GNS peers send
// a handful (host per interface, srflx, relay).
const maxRemoteCandidates = 64

// maxPasswordLen bounds the peer's ICE password (GNS sends 5 characters,
// WebRTC peers 24).
const maxPasswordLen = 256

// receiveBufferSize holds any UDP datagram.
const receiveBufferSize = 64 * 1024

// kinds is a set of candidate kinds, for failure diagnosis.
type kinds uint8

const (
	kindHostPrivate kinds = 1 << iota
	kindHostPublic
	kindReflexive
	kindRelay
)

func kindOfCandidate(t CandidateType, a netip.Addr) kinds {
	switch t {
	case TypeHost:
		if isPrivateHost(a) {
			return kindHostPrivate
		}
		return kindHostPublic
	case TypeServerReflexive, TypePeerReflexive:
		return kindReflexive
	case TypeRelay:
		return kindRelay
	}
	return 0
}

// Session runs ICE for one P2P connection on top of pion/ice and exposes
// the selected pair as a datagram path.
//
// Lifecycle: NewSession starts gathering at once (local candidates come out
// through Config.OnCandidate); remote candidates may be added at any time;
// connectivity checks start when SetRemoteCredentials supplies the peer's
// connection ID and password (GNS sends the password as reliable message
// #1, possibly after candidates). Send works once Route().Kind is not
// RouteNone.
type Session struct {
	cfg        Config
	agent      *pion.Agent
	allowed    kinds
	localPwd   string
	lanSubnets []netip.Prefix

	mu          sync.Mutex
	conn        *pion.Conn
	remoteUfrag string
	remotePwd   string
	remoteSeen  map[netip.AddrPort]string // address -> first foundation
	localKinds  kinds
	remoteKinds kinds
	timer       *time.Timer
	closed      bool

	route    atomic.Pointer[Route]
	failOnce sync.Once

	sockets    []*dataSocket             // guarded by mu
	fast       atomic.Pointer[fastRoute] // nil unless the route runs over a dataSocket
	closedFlag atomic.Bool               // closed, for the per-packet paths
}

// NewSession creates the ICE agent for one connection and starts gathering.
func NewSession(cfg Config) (*Session, error) {
	enable := cfg.Enable
	if enable <= 0 {
		enable = EnableAll // zero value and GNS's "default"
	}
	s := &Session{cfg: cfg, remoteSeen: make(map[netip.AddrPort]string)}
	if enable&EnablePrivate != 0 {
		s.allowed |= kindHostPrivate
	}
	if enable&EnablePublic != 0 {
		s.allowed |= kindHostPublic
		if len(cfg.STUNServers) > 0 {
			s.allowed |= kindReflexive
		}
	}
	turnServers := usableTURN(cfg.TURNServers)
	if enable&EnableRelay != 0 && len(turnServers) > 0 {
		s.allowed |= kindRelay
	}
	if s.allowed == 0 {
		return nil, ErrNotEnabled
	}

	network := cfg.Net
	if network == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("ice: %w", err)
		}
		network = &dataNet{Net: n, s: s}
	}
	s.lanSubnets = lanSubnets(network, cfg.Loopback)

	pwd, err := newPassword()
	if err != nil {
		return nil, fmt.Errorf("ice: password: %w", err)
	}
	s.localPwd = pwd

	// Candidate kinds pion gathers. Host sockets are gathered whenever any
	// host kind is allowed; like GNS, those of a kind that may not be
	// shared are still used for checks, just not advertised. In relay-only
	// mode no host candidate is gathered at all, so nothing is ever sent
	// from our own address to the peer: GNS keeps its host sockets in that
	// mode, but only a relay-to-relay path keeps both addresses hidden.
	var types []pion.CandidateType
	if s.allowed&(kindHostPrivate|kindHostPublic) != 0 {
		types = append(types, pion.CandidateTypeHost)
	}
	var urls []*stun.URI
	if s.allowed&kindReflexive != 0 {
		types = append(types, pion.CandidateTypeServerReflexive)
		for _, a := range cfg.STUNServers {
			u, err := serverURI(stun.SchemeTypeSTUN, a)
			if err != nil {
				return nil, err
			}
			urls = append(urls, u)
		}
	}
	if s.allowed&kindRelay != 0 {
		types = append(types, pion.CandidateTypeRelay)
		for _, t := range turnServers {
			u, err := serverURI(stun.SchemeTypeTURN, t.Addr)
			if err != nil {
				return nil, err
			}
			u.Username, u.Password = t.Username, t.Password
			urls = append(urls, u)
		}
	}

	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	opts := []pion.AgentOption{
		pion.WithNet(network),
		pion.WithLoggerFactory(lf),
		pion.WithLocalCredentials(UfragForConnectionID(cfg.LocalConnectionID), pwd),
		pion.WithCandidateTypes(types),
		pion.WithUrls(urls),
		// GNS speaks UDP only and needs IP literals: no TCP, no mDNS.
		pion.WithNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}),
		pion.WithMulticastDNSMode(pion.MulticastDNSModeDisabled),
		// GNS watches no consent: liveness is the connection's business
		// (SNP keepalives, TimeoutConnected), so pion never gives up a
		// selected pair on its own.
		pion.WithDisconnectedTimeout(0),
		pion.WithFailedTimeout(0),
	}
	if cfg.Loopback {
		opts = append(opts, pion.WithIncludeLoopback())
	}
	if cfg.AddrFilter != nil {
		filter := cfg.AddrFilter
		opts = append(opts, pion.WithIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && filter(a.Unmap())
		}))
	}
	{
		t := cfg.Timing
		if t.CheckInterval > 0 {
			opts = append(opts, pion.WithCheckInterval(t.CheckInterval))
		}
		if t.KeepaliveInterval > 0 {
			opts = append(opts, pion.WithKeepaliveInterval(t.KeepaliveInterval))
		}
		switch {
		case t.RelayWait > 0:
			opts = append(opts, pion.WithRelayAcceptanceMinWait(t.RelayWait))
		case len(types) == 1 && types[0] == pion.CandidateTypeRelay:
			// Relay only: there is nothing better to wait for. (pion derives
			// this default from AgentConfig, not from WithCandidateTypes.)
			opts = append(opts, pion.WithRelayAcceptanceMinWait(0))
		}
		// GNS's controlling agent nominates again when a better pair
		// succeeds after selection, with a plain second USE-CANDIDATE. pion
		// does that only through renomination, which adds a NOMINATION
		// attribute: a GNS peer ignores the attribute (comprehension-
		// optional) and acts on the USE-CANDIDATE as GNS's own upgrade.
		if t.Upgrade >= 0 && cfg.Controlling {
			opts = append(opts,
				pion.WithRenomination(pion.DefaultNominationValueGenerator()),
				pion.WithAutomaticRenomination(t.Upgrade))
		}
	}
	agent, err := pion.NewAgentWithOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("ice: %w", err)
	}
	s.agent = agent
	if err := agent.OnCandidate(s.localCandidate); err != nil {
		agent.Close()
		return nil, fmt.Errorf("ice: %w", err)
	}
	if err := agent.OnSelectedCandidatePairChange(s.selected); err != nil {
		agent.Close()
		return nil, fmt.Errorf("ice: %w", err)
	}
	if err := agent.GatherCandidates(); err != nil {
		agent.Close()
		return nil, fmt.Errorf("ice: gather: %w", err)
	}
	return s, nil
}

// usableTURN drops servers without credentials: pion cannot allocate
// without them (and stops gathering every relay at the first such URL),
// while GNS tries one unauthenticated Allocate that a real server refuses.
func usableTURN(servers []TURNServer) []TURNServer {
	var out []TURNServer
	for _, t := range servers {
		if t.Username != "" && t.Password != "" {
			out = append(out, t)
		}
	}
	return out
}

func serverURI(scheme stun.SchemeType, addr string) (*stun.URI, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ice: server %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("ice: server %q: bad port", addr)
	}
	return &stun.URI{Scheme: scheme, Host: host, Port: p, Proto: stun.ProtoTypeUDP}, nil
}

// lanSubnets lists the prefixes of our LAN and loopback interfaces, for
// the "probably local" route kind.
func lanSubnets(n transport.Net, loopback bool) []netip.Prefix {
	ifaces, err := n.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !isLANAddr(ip) || (ip.IsLoopback() && !loopback) {
				continue
			}
			ones, _ := ipn.Mask.Size()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			if ones <= 0 {
				continue
			}
			out = append(out, netip.PrefixFrom(ip, ones).Masked())
		}
	}
	return out
}

// LocalUfrag is the ufrag the peer derives from our connection ID.
func (s *Session) LocalUfrag() string { return UfragForConnectionID(s.cfg.LocalConnectionID) }

// LocalPassword is the password to send as the ICE auth pwd_frag
// (reliable message #1 of the session).
func (s *Session) LocalPassword() string { return s.localPwd }

// Controlling reports the session's fixed role.
func (s *Session) Controlling() bool { return s.cfg.Controlling }

// localCandidate turns a gathered pion candidate into a signalled line,
// keeping back kinds the settings do not let us share.
func (s *Session) localCandidate(c pion.Candidate) {
	if c == nil {
		return // end of gathering: GNS signals nothing for it
	}
	cand, ok := fromPion(c)
	if !ok {
		return
	}
	k := kindOfCandidate(cand.Type, cand.Addr.Addr())
	s.mu.Lock()
	s.localKinds |= k
	closed := s.closed
	s.mu.Unlock()
	if closed || s.allowed&k == 0 || s.cfg.OnCandidate == nil {
		return
	}
	s.cfg.OnCandidate(cand.String())
}

// fromPion converts a pion candidate into GNS's line form: component 0,
// lowercase udp, no related address.
func fromPion(c pion.Candidate) (Candidate, bool) {
	if c.NetworkType() != pion.NetworkTypeUDP4 && c.NetworkType() != pion.NetworkTypeUDP6 {
		return Candidate{}, false
	}
	ip, err := netip.ParseAddr(c.Address())
	if err != nil || c.Port() <= 0 || c.Port() > 65535 {
		return Candidate{}, false
	}
	t, ok := typeFromPion(c.Type())
	if !ok {
		return Candidate{}, false
	}
	f := c.Foundation()
	if f == "" || f == " " {
		f = "0"
	}
	return Candidate{
		Foundation: f,
		Component:  0,
		Transport:  "udp",
		Priority:   c.Priority(),
		Addr:       netip.AddrPortFrom(ip.Unmap(), uint16(c.Port())),
		Type:       t,
	}, true
}

func typeFromPion(t pion.CandidateType) (CandidateType, bool) {
	switch t {
	case pion.CandidateTypeHost:
		return TypeHost, true
	case pion.CandidateTypeServerReflexive:
		return TypeServerReflexive, true
	case pion.CandidateTypePeerReflexive:
		return TypePeerReflexive, true
	case pion.CandidateTypeRelay:
		return TypeRelay, true
	}
	return 0, false
}

// toPion builds the pion candidate for a parsed remote line. Component 1 is
// used whatever the line says: GNS writes 0 and pairs ignore it.
func toPion(c Candidate) (pion.Candidate, error) {
	network := "udp"
	addr, port := c.Addr.Addr().String(), int(c.Addr.Port())
	switch c.Type {
	case TypeHost:
		return pion.NewCandidateHost(&pion.CandidateHostConfig{
			Network: network, Address: addr, Port: port, Component: 1,
			Priority: c.Priority, Foundation: c.Foundation,
		})
	case TypeServerReflexive:
		return pion.NewCandidateServerReflexive(&pion.CandidateServerReflexiveConfig{
			Network: network, Address: addr, Port: port, Component: 1,
			Priority: c.Priority, Foundation: c.Foundation,
		})
	case TypePeerReflexive:
		return pion.NewCandidatePeerReflexive(&pion.CandidatePeerReflexiveConfig{
			Network: network, Address: addr, Port: port, Component: 1,
			Priority: c.Priority, Foundation: c.Foundation,
		})
	case TypeRelay:
		return pion.NewCandidateRelay(&pion.CandidateRelayConfig{
			Network: network, Address: addr, Port: port, Component: 1,
			Priority: c.Priority, Foundation: c.Foundation,
		})
	}
	return nil, ErrUnknownType
}

// AddRemoteCandidate takes one candidate line from the peer's
// add_candidate message. Lines GNS would drop return an error (the caller
// logs it and carries on); re-announcing a known address is a no-op. At
// most 64 addresses are kept (ErrTooManyCandidates after that).
func (s *Session) AddRemoteCandidate(line string) error {
	c, err := ParseCandidate(line)
	if err != nil {
		return err
	}
	a := c.Addr.Addr()
	if a.IsLoopback() && !s.cfg.Loopback {
		return ErrLoopback
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return fmt.Errorf("%w: address %s", ErrCandidateSyntax, a)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, ok := s.remoteSeen[c.Addr]; ok {
		// GNS updates the foundation of a re-announced address; pion pairs
		// by address, so the first announcement is kept and repeats (even
		// with another foundation) cost nothing.
		s.mu.Unlock()
		return nil
	}
	if len(s.remoteSeen) >= maxRemoteCandidates {
		s.mu.Unlock()
		return ErrTooManyCandidates
	}
	s.remoteSeen[c.Addr] = c.Foundation
	s.remoteKinds |= kindOfCandidate(c.Type, a)
	s.mu.Unlock()
	pc, err := toPion(c)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCandidateSyntax, err)
	}
	return s.agent.AddRemoteCandidate(pc)
}

// SetRemoteCredentials supplies the peer's connection ID (its ufrag is
// derived from it) and the password from its ICE auth message, and starts
// connectivity checks in the configured role. A repeat with the same values
// is a no-op; the first values win otherwise, as the ICE session cannot
// change them.
func (s *Session) SetRemoteCredentials(remoteConnectionID uint32, password string) error {
	if password == "" || len(password) > maxPasswordLen {
		return ErrBadCredentials
	}
	ufrag := UfragForConnectionID(remoteConnectionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.conn != nil {
		if ufrag == s.remoteUfrag && password == s.remotePwd {
			return nil
		}
		return fmt.Errorf("ice: remote credentials already set")
	}
	var conn *pion.Conn
	var err error
	if s.cfg.Controlling {
		conn, err = s.agent.StartDial(ufrag, password)
	} else {
		conn, err = s.agent.StartAccept(ufrag, password)
	}
	if err != nil {
		return fmt.Errorf("ice: start checks: %w", err)
	}
	s.conn, s.remoteUfrag, s.remotePwd = conn, ufrag, password
	go s.readLoop(conn)
	if s.cfg.RouteTimeout > 0 {
		s.timer = time.AfterFunc(s.cfg.RouteTimeout, s.routeTimedOut)
	}
	return nil
}

func (s *Session) readLoop(conn *pion.Conn) {
	buf := make([]byte, receiveBufferSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			// io.ErrShortBuffer cannot happen with a 64 KiB buffer; any other
			// error means the agent is gone.
			return
		}
		if s.cfg.OnReceive != nil && !s.isClosed() {
			s.cfg.OnReceive(buf[:n])
		}
	}
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// selected records a new selected pair and reports it.
func (s *Session) selected(local, remote pion.Candidate) {
	lc, ok1 := fromPion(local)
	rc, ok2 := fromPion(remote)
	if !ok1 || !ok2 {
		return
	}
	r := Route{
		Kind:       kindOf(lc.Type, rc.Type, rc.Addr.Addr(), s.lanSubnets),
		Remote:     rc.Addr,
		Local:      lc.Addr,
		LocalType:  lc.Type,
		RemoteType: rc.Type,
	}
	if st, ok := s.agent.GetSelectedCandidatePairStats(); ok && st.CurrentRoundTripTime > 0 {
		r.RTT = time.Duration(st.CurrentRoundTripTime * float64(time.Second))
	}
	s.route.Store(&r)
	s.fast.Store(s.fastRouteFor(local, lc, rc))
	if s.isClosed() {
		s.fast.Store(nil)
		return
	}
	if s.cfg.OnRoute != nil {
		s.cfg.OnRoute(r)
	}
}

// fastRouteFor finds our socket under a selected pair: the host
// candidate's own, or the base of a server-reflexive one. Relay and other
// pairs have none.
func (s *Session) fastRouteFor(local pion.Candidate, lc, rc Candidate) *fastRoute {
	var base netip.AddrPort
	switch lc.Type {
	case TypeHost:
		base = lc.Addr
	case TypeServerReflexive:
		rel := local.RelatedAddress()
		if rel == nil {
			return nil
		}
		ip, err := netip.ParseAddr(rel.Address)
		if err != nil || rel.Port <= 0 || rel.Port > 65535 {
			return nil
		}
		base = netip.AddrPortFrom(ip.Unmap(), uint16(rel.Port))
	default:
		return nil
	}
	d := s.socketAt(base)
	if d == nil {
		return nil
	}
	return &fastRoute{sock: d, remote: rc.Addr}
}

// Route returns the selected route; Kind is RouteNone before selection.
func (s *Session) Route() Route {
	if r := s.route.Load(); r != nil {
		return *r
	}
	return Route{}
}

// Send writes one datagram to the peer on the selected pair (through the
// TURN relay for a relay route). It fails with ErrNoRoute before a pair is
// selected. pion refuses to send a datagram that looks like STUN (bytes
// 4-7 equal to the magic cookie); that error is returned and the caller
// treats it as loss.
func (s *Session) Send(datagram []byte) error {
	if s.route.Load() == nil {
		return ErrNoRoute
	}
	if fr := s.fast.Load(); fr != nil {
		if s.closedFlag.Load() {
			return ErrClosed
		}
		return fr.send([][]byte{datagram})
	}
	s.mu.Lock()
	conn, closed := s.conn, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if conn == nil {
		return ErrNoRoute
	}
	_, err := conn.Write(datagram)
	return err
}

// SendBatch is Send for several datagrams, written with as few system
// calls as the platform allows on a route over our own socket. It returns
// the first error; the other datagrams are still sent.
func (s *Session) SendBatch(datagrams [][]byte) error {
	fr := s.fast.Load()
	if fr == nil || s.closedFlag.Load() {
		var first error
		for _, d := range datagrams {
			first = cmpErr(first, s.Send(d))
		}
		return first
	}
	return fr.send(datagrams)
}

// routeTimedOut fails the session when no route was selected in time.
func (s *Session) routeTimedOut() {
	if s.route.Load() != nil {
		return
	}
	s.mu.Lock()
	local, remote, closed := s.localKinds, s.remoteKinds, s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.fail(guessFailure(s.allowed, local, remote))
}

func (s *Session) fail(err error) {
	s.failOnce.Do(func() {
		s.Close()
		if s.cfg.OnFailed != nil {
			s.cfg.OnFailed(err)
		}
	})
}

// guessFailure explains a failed rendezvous the way GNS classifies ICE
// failures for its session summary.
func guessFailure(allowed, local, remote kinds) *NoRouteError {
	relayHint := ""
	if local&kindRelay == 0 && remote&kindRelay == 0 {
		relayHint = "; no relay candidate on either side (no TURN server configured or reachable), which a symmetric NAT needs"
	}
	switch {
	case local&(kindHostPrivate|kindHostPublic|kindRelay) == 0 && allowed&(kindHostPrivate|kindHostPublic) != 0:
		return &NoRouteError{Cause: 5002, Msg: "never gathered any local candidate"}
	case remote == 0:
		return &NoRouteError{Cause: EndGeneric, Msg: "never received any remote candidate"}
	case allowed&kindReflexive != 0 && local&(kindReflexive|kindHostPublic) == 0:
		return &NoRouteError{Cause: EndLocalNoPublic, Msg: "failed to learn our public address from the STUN servers" + relayHint}
	case remote&(kindHostPublic|kindReflexive|kindRelay) == 0:
		return &NoRouteError{Cause: EndRemoteNoPublic, Msg: "no public or relay candidate from the peer" + relayHint}
	}
	return &NoRouteError{Cause: EndNATFirewall, Msg: "NAT traversal failed: every candidate pair failed its checks" + relayHint}
}

// Close stops the agent, its sockets and relay allocations. It may be
// called from any callback; an OnReceive call already running can finish
// after Close returns, and none starts after that.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.closedFlag.Store(true)
	s.fast.Store(nil)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	return s.agent.Close()
}

// Score rates the current route with the given ping figures and the
// configured P2P_Transport_ICE_Penalty (see Route.Score).
func (s *Session) Score(ping, minPing time.Duration) int {
	return s.Route().Score(ping, minPing, s.cfg.Penalty)
}
