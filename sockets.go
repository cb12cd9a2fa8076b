package mist

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/config"
	"github.com/mistnet/mist/internal/endpoint"
)

// Config configures a [Sockets] instance.
type Config struct {
	// Identity is the local identity. The zero value picks a random
	// SteamID-style identity (steamid:<n>).
	Identity Identity
	// Options are applied at interface scope (ScopeSocketsInterface) and
	// inherited by every listen socket and connection of the instance.
	Options []ConfigValue
	// OnConnectionStatusChanged and OnAuthenticationStatus, if set, are
	// registered as by the methods of the same names.
	OnConnectionStatusChanged func(*ConnStatusChanged)
	OnAuthenticationStatus    func(*AuthStatus)

	// AppID is the local AppID written into certificates and required in
	// peers' certificates; 0 (the default) is what standalone GNS uses.
	AppID uint32
	// TrustedCAs are certificate authority keys. A peer whose certificate
	// one of them signed is authenticated; with IP_AllowWithoutAuth 0 only
	// such peers are accepted.
	TrustedCAs []ed25519.PublicKey
	// CertificateAuthority, if set, signs this instance's certificate
	// instead of the self-signed certificate made per connection.
	CertificateAuthority ed25519.PrivateKey
	// Certificate and CertificateKey, if set, are a certificate a
	// certificate authority issued (a serialized
	// CMsgSteamDatagramCertificateSigned) and its private key, installed as
	// by SetCertificateWithKey. A zero Identity becomes the certificate's.
	Certificate    []byte
	CertificateKey ed25519.PrivateKey
	// RequireAuthentication accepts only peers whose certificate a trusted
	// CA signed, on every address including loopback: it sets
	// IP_AllowWithoutAuth and IPLocalHost_AllowWithoutAuth to 0 at
	// interface scope (Options still apply after it).
	RequireAuthentication bool

	// SignalingServer, if set, is the host:port of a signaling server
	// speaking GNS's trivial signaling protocol. The instance registers
	// its identity there, ConnectP2P sends its signals through it, and
	// P2P listen sockets receive connect requests from it. A
	// comma-separated list names several servers (nodes of one cluster):
	// the instance uses the first reachable one and, when it goes away,
	// registers at the next, going round the list with backoff.
	// Connections already established do not need the server and stay up.
	SignalingServer string
}

// certLifetime is how long a certificate issued with
// Config.CertificateAuthority stays valid.
const certLifetime = 365 * 24 * time.Hour

// Sockets is one ISteamNetworkingSockets interface instance. Its methods are
// safe to call from any goroutine.
//
// Locks, outer first: mu (registry) → connection.mu → qmu (message queues
// and poll group queues) → cbMu (callback queue). User code is never called
// with any of them held.
type Sockets struct {
	identity Identity
	cfg      *configStore // interface scope

	mu       sync.RWMutex
	closed   bool
	conns    map[Conn]*connection
	usedIDs  map[Conn]struct{} // live and recently freed connection ids
	freedIDs []Conn            // FIFO of recently freed ids
	listens  map[ListenSocket]*listenSocket
	// pairListens are the hidden listen sockets of loopback socket pairs.
	pairListens []*listenSocket
	groups      map[PollGroup]*pollGroup
	nextListen  uint32
	nextGroup   uint32

	qmu sync.Mutex

	liveMu sync.Mutex
	live   map[*udpConn]struct{} // UDP connections not yet torn down

	cbMu        sync.Mutex
	callbacks   []func()
	subscribers []*subscriber
	authAvail   Availability
	authDebug   string
	authHandler func(*AuthStatus)

	appID   uint32
	trusted *cert.TrustStore
	// local is the CA-signed certificate (from Config.CertificateAuthority
	// or SetCertificate); nil: self-signed per connection.
	local atomic.Pointer[cert.Local]
	// certKey is the private key of the last certificate request, guarded
	// by mu.
	certKey ed25519.PrivateKey

	now func() time.Time
	// created is the monotonic reference for pollInline's timestamps.
	created time.Time
	// ready is signalled when a message is queued; see MessagesReady.
	ready chan struct{}
	// waitCh is closed, waking every sleeping receiveWait, when a message
	// is queued or a handle goes away while waiters > 0.
	waitMu  sync.Mutex
	waitCh  chan struct{}
	waiters atomic.Int32
	// loopsHandling counts receive loops handling a batch; a waiting
	// receive stops spinning while any is, since traffic is flowing and
	// the processor is better left to them.
	loopsHandling atomic.Int32
	// backlog is set when a receive queue passes half its limit, so that
	// receive loops let the application run before it overflows.
	backlog atomic.Bool
	// pressed is a connection whose queue passed three quarters of its
	// limit. See yieldToReaders.
	pressed atomic.Pointer[connection]
	// seams replace the UDP sockets in tests.
	seams netSeams

	p2p *p2pState
}

// netSeams replace the sockets an instance opens, for tests (an in-memory
// network, fault injection, stalled reads). Zero fields open real sockets.
type netSeams struct {
	// listen opens a listen socket (and a loopback pair's hidden one).
	listen func(netip.AddrPort) (endpoint.PacketConn, error)
	// dial opens the socket of an outbound connection to the address.
	dial func(netip.AddrPort) (endpoint.PacketConn, error)
}

// New creates an interface instance.
func New(cfg Config) (*Sockets, error) { return newSockets(cfg, netSeams{}) }

// newSockets is New with the sockets replaced as seams says.
func newSockets(cfg Config, seams netSeams) (*Sockets, error) {
	s := &Sockets{
		seams:       seams,
		identity:    cfg.Identity,
		conns:       make(map[Conn]*connection),
		usedIDs:     make(map[Conn]struct{}),
		listens:     make(map[ListenSocket]*listenSocket),
		groups:      make(map[PollGroup]*pollGroup),
		live:        make(map[*udpConn]struct{}),
		authAvail:   AvailabilityNeverTried,
		authDebug:   "Not Attempted",
		authHandler: cfg.OnAuthenticationStatus,
		now:         time.Now,
		created:     time.Now(),
		ready:       make(chan struct{}, 1),
	}
	s.cfg = globalConfig.child(config.InterfaceScope)
	if cfg.Certificate != nil && !s.identity.IsValid() {
		id, err := certificateIdentity(cfg.Certificate)
		if err != nil {
			return nil, err
		}
		s.identity = id
	}
	s.p2p = newP2PState(s)
	if !s.identity.IsValid() {
		s.identity = randomSteamID()
	}
	s.appID = cfg.AppID
	if len(cfg.TrustedCAs) > 0 {
		s.trusted = &cert.TrustStore{}
		for _, k := range cfg.TrustedCAs {
			s.trusted.Add(k)
		}
	}
	if cfg.CertificateAuthority != nil {
		local, err := cert.NewCASigned(cfg.CertificateAuthority, s.identity.wire(), []uint32{cfg.AppID}, time.Now(), certLifetime)
		if err != nil {
			return nil, fmt.Errorf("mist: issuing the certificate: %w", err)
		}
		s.local.Store(local)
	}
	if cfg.Certificate != nil || cfg.CertificateKey != nil {
		if err := s.SetCertificateWithKey(cfg.Certificate, cfg.CertificateKey); err != nil {
			return nil, err
		}
	}
	if cfg.RequireAuthentication {
		s.SetConfigValue(ScopeSocketsInterface, 0, Int32Value(OptIPAllowWithoutAuth, 0))
		s.SetConfigValue(ScopeSocketsInterface, 0, Int32Value(OptIPLocalHostAllowWithoutAuth, 0))
	}
	for _, v := range cfg.Options {
		if !s.SetConfigValue(ScopeSocketsInterface, 0, v) {
			return nil, errors.New("mist: cannot apply option " + v.String())
		}
	}
	if cfg.OnConnectionStatusChanged != nil {
		s.OnConnectionStatusChanged(cfg.OnConnectionStatusChanged)
	}
	if cfg.SignalingServer != "" {
		if err := s.p2p.startSignaling(cfg.SignalingServer); err != nil {
			return nil, fmt.Errorf("mist: signaling server: %w", err)
		}
	}
	return s, nil
}

// randomSteamID returns an individual account in the public universe with a
// random account number.
func randomSteamID() Identity {
	var b [4]byte
	rand.Read(b[:])
	account := binary.LittleEndian.Uint32(b[:]) | 1
	return SteamIDIdentity(0x0110000100000000 | uint64(account))
}

// Close closes every connection (reason AppException_Max, "SteamNetworkingSockets
// shutdown", no linger), every listen socket and poll group, and releases
// the sockets. Callbacks queued before are still delivered by RunCallbacks.
func (s *Sockets) Close() error {
	defer s.wakeWaiters()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]Conn, 0, len(s.conns))
	for h := range s.conns {
		conns = append(conns, h)
	}
	listens := make([]ListenSocket, 0, len(s.listens))
	for h := range s.listens {
		listens = append(listens, h)
	}
	s.mu.Unlock()
	for _, h := range conns {
		s.closeConnection(h, EndAppExceptionMax, "SteamNetworkingSockets shutdown", false, true)
	}
	for _, h := range listens {
		s.CloseListenSocket(h)
	}
	s.p2p.close()
	s.mu.Lock()
	pairListens := s.pairListens
	s.pairListens = nil
	s.mu.Unlock()
	for _, ls := range pairListens {
		ls.udp.Close()
	}
	// Connections in FinWait or Linger go at once: nothing is left to
	// answer their peers.
	s.liveMu.Lock()
	live := make([]*udpConn, 0, len(s.live))
	for t := range s.live {
		live = append(live, t)
	}
	s.liveMu.Unlock()
	for _, t := range live {
		t.c.mu.Lock()
		t.ec.FlushAndDestroy()
		t.c.mu.Unlock()
	}
	s.mu.Lock()
	for h, g := range s.groups {
		s.qmu.Lock()
		g.destroyed = true
		g.detachAll()
		s.qmu.Unlock()
		delete(s.groups, h)
	}
	s.mu.Unlock()
	return nil
}

// Identity returns the local identity (GetIdentity).
func (s *Sockets) Identity() (Identity, bool) { return s.identity, s.identity.IsValid() }

// AuthenticationStatus returns the authentication status and its debug text.
func (s *Sockets) AuthenticationStatus() (Availability, string) {
	s.cbMu.Lock()
	defer s.cbMu.Unlock()
	return s.authAvail, s.authDebug
}

// allocConnID returns a fresh random connection id whose 16-bit halves are
// both non-zero (as GNS requires on the wire) and which is neither live nor
// recently freed. Connections are looked up by the whole 32-bit id, so
// unlike GNS the low halves need not be distinct. Called with s.mu held.
func (s *Sockets) allocConnID() (Conn, bool) {
	if len(s.conns) >= maxConnections {
		return 0, false
	}
	var b [4]byte
	for {
		rand.Read(b[:])
		id := Conn(binary.LittleEndian.Uint32(b[:]))
		if uint16(id) == 0 || id>>16 == 0 {
			continue
		}
		if _, used := s.usedIDs[id]; used {
			continue
		}
		s.usedIDs[id] = struct{}{}
		return id, true
	}
}

// freeConnID keeps the id reserved for a while so late packets for the old
// connection are not taken for a new one. Called with s.mu held.
func (s *Sockets) freeConnID(h Conn) {
	const recentlyFreed = 1024
	s.freedIDs = append(s.freedIDs, h)
	if len(s.freedIDs) > recentlyFreed {
		delete(s.usedIDs, s.freedIDs[0])
		s.freedIDs = s.freedIDs[1:]
	}
}

// unreserveConnID returns an id that never reached the wire. Called with
// s.mu held.
func (s *Sockets) unreserveConnID(h Conn) { delete(s.usedIDs, h) }
