// Package relay is a STUN and TURN server on UDP (pion's TURN server) for
// P2P peers behind NATs: STUN tells a peer its public address, TURN relays
// when no direct path works.
//
// The relay is not an open proxy: every allocation needs long-term
// credentials (RFC 5766), either static users or short-lived TURN REST
// credentials: the username is "EXPIRY:IDENTITY" (EXPIRY in Unix seconds)
// and the password base64(HMAC-SHA1(secret, username)), the scheme of
// coturn's use-auth-secret and pion's GenerateLongTermTURNRESTCredentials.
// A signaling server that has authenticated a peer hands it such
// credentials ([RESTCredentials]). STUN Binding requests need none.
//
// GNS's TURN client never refreshes permissions; pion's server keeps a
// permission for 5 minutes, so a GNS pair relayed for longer loses its
// relay unless new remote addresses arrive by signaling.
package relay

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// DefaultPort is the standard STUN/TURN port.
const DefaultPort = 3478

// Config configures a relay. Zero fields take the defaults shown.
type Config struct {
	// Conn is the UDP socket the server answers on.
	Conn net.PacketConn
	// RelayIP is the address peers reach relayed allocations at; it must
	// be reachable by them (the host's public or LAN address).
	RelayIP net.IP
	// RelayBind is the local address relay sockets bind to (default: RelayIP).
	RelayBind string
	// Realm is the long-term credential realm (default "mist").
	Realm string
	// Users are static username → password pairs.
	Users map[string]string
	// Secret, if set, accepts TURN REST credentials made with it.
	Secret []byte
	// NoTURN answers STUN only: every allocation is refused.
	NoTURN bool
	// MaxAllocationsPerUser caps concurrent allocations of one username
	// (default 16; negative: no cap).
	MaxAllocationsPerUser int
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Stats are the relay's counters at one moment.
type Stats struct {
	Allocations      int    // open allocations
	AllocationsTotal uint64 // allocations ever made
	AuthFailures     uint64 // requests refused for bad or missing credentials
	// RelayedBytes counts payload bytes through relay sockets, both
	// directions, at each allocation: a pair relayed through two
	// allocations of this server counts twice.
	RelayedBytes   uint64
	RelayedPackets uint64
}

// Server is a running STUN/TURN server.
type Server struct {
	turn *turn.Server
	conn net.PacketConn
	log  *slog.Logger
	cfg  Config

	mu      sync.Mutex
	perUser map[string]int

	allocs                       atomic.Int64
	allocsTotal, authFailures    atomic.Uint64
	relayedBytes, relayedPackets atomic.Uint64
}

// ErrNoCredentials is returned when TURN is on but no credentials are
// configured, which would make every allocation fail.
var ErrNoCredentials = errors.New("relay: TURN needs static users or a REST secret (or NoTURN for STUN only)")

// New starts a relay on cfg.Conn.
func New(cfg Config) (*Server, error) {
	if cfg.Conn == nil {
		return nil, errors.New("relay: no UDP socket")
	}
	if !cfg.NoTURN {
		if len(cfg.Users) == 0 && len(cfg.Secret) == 0 {
			return nil, ErrNoCredentials
		}
		if cfg.RelayIP == nil || cfg.RelayIP.IsUnspecified() {
			return nil, errors.New("relay: RelayIP must be an address peers can reach, not unspecified")
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = "mist"
	}
	if cfg.RelayBind == "" && cfg.RelayIP != nil {
		cfg.RelayBind = cfg.RelayIP.String()
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	setBuffers(cfg.Conn)
	s := &Server{conn: cfg.Conn, log: cfg.Logger, cfg: cfg, perUser: make(map[string]int)}
	pcc := turn.PacketConnConfig{PacketConn: cfg.Conn}
	if !cfg.NoTURN {
		pcc.RelayAddressGenerator = &countingGenerator{s: s, inner: &turn.RelayAddressGeneratorStatic{
			RelayAddress: cfg.RelayIP, Address: cfg.RelayBind}}
	} else {
		pcc.RelayAddressGenerator = &countingGenerator{s: s, inner: &turn.RelayAddressGeneratorNone{Address: "127.0.0.1"}}
	}
	ts, err := turn.NewServer(turn.ServerConfig{
		PacketConnConfigs: []turn.PacketConnConfig{pcc},
		Realm:             cfg.Realm,
		AuthHandler:       s.authHandler,
		QuotaHandler:      s.quota,
		LoggerFactory:     quietLoggers{},
		EventHandler: turn.EventHandler{
			OnAuth: func(src, _ net.Addr, _, username, _ string, method string, ok bool) {
				if !ok {
					s.authFailures.Add(1)
					s.log.Warn("TURN request refused: bad credentials", "remote", src.String(), "username", username, "method", method)
				}
			},
			OnAllocationCreated: func(src, _ net.Addr, _, username, _ string, relayAddr net.Addr, _ int) {
				s.allocs.Add(1)
				s.allocsTotal.Add(1)
				s.mu.Lock()
				s.perUser[username]++
				s.mu.Unlock()
				s.log.Info("TURN allocation", "remote", src.String(), "username", username, "relay", relayAddr.String())
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, username, _ string) {
				s.allocs.Add(-1)
				s.mu.Lock()
				if s.perUser[username]--; s.perUser[username] <= 0 {
					delete(s.perUser, username)
				}
				s.mu.Unlock()
				s.log.Info("TURN allocation ended", "remote", src.String(), "username", username)
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	s.turn = ts
	s.log.Info("STUN/TURN server listening", "addr", cfg.Conn.LocalAddr().String(), "turn", !cfg.NoTURN,
		"static_users", len(cfg.Users), "rest_credentials", len(cfg.Secret) > 0)
	return s, nil
}

// Addr is the server's UDP address.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Close stops the server and its allocations.
func (s *Server) Close() error { return s.turn.Close() }

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	return Stats{
		Allocations:      int(s.allocs.Load()),
		AllocationsTotal: s.allocsTotal.Load(),
		AuthFailures:     s.authFailures.Load(),
		RelayedBytes:     s.relayedBytes.Load(),
		RelayedPackets:   s.relayedPackets.Load(),
	}
}

func (s *Server) authHandler(ra *turn.RequestAttributes) (string, []byte, bool) {
	if s.cfg.NoTURN {
		return "", nil, false
	}
	pass, ok := s.password(ra.Username, time.Now())
	if !ok {
		return "", nil, false
	}
	return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, pass), true
}

// password is the password username must prove at now: a static user's,
// or a REST username's derived one while it has not expired.
func (s *Server) password(username string, now time.Time) (string, bool) {
	if pass, ok := s.cfg.Users[username]; ok {
		return pass, true
	}
	if len(s.cfg.Secret) == 0 {
		return "", false
	}
	return CheckREST(s.cfg.Secret, username, now)
}

func (s *Server) quota(username, _ string, _ net.Addr) bool {
	if s.cfg.MaxAllocationsPerUser < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perUser[username] < s.cfg.MaxAllocationsPerUser
}

// RESTCredentials makes TURN REST credentials for identity that expire
// at expires.
func RESTCredentials(secret []byte, identity string, expires time.Time) (user, pass string) {
	user = strconv.FormatInt(expires.Unix(), 10) + ":" + identity
	return user, restPassword(secret, user)
}

func restPassword(secret []byte, user string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// CheckREST returns the password of a REST username if it is well formed
// and not expired at now.
func CheckREST(secret []byte, user string, now time.Time) (string, bool) {
	exp, _, ok := strings.Cut(user, ":")
	if !ok {
		exp = user // a bare expiry, as pion's GenerateLongTermCredentials makes
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return "", false
	}
	return restPassword(secret, user), true
}

// VerifyREST reports whether pass is the password of a valid REST username.
func VerifyREST(secret []byte, user, pass string, now time.Time) bool {
	want, ok := CheckREST(secret, user, now)
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

// countingGenerator wraps relay sockets to count relayed traffic.
type countingGenerator struct {
	s     *Server
	inner turn.RelayAddressGenerator
}

func (g *countingGenerator) Validate() error { return g.inner.Validate() }

func (g *countingGenerator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := g.inner.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	setBuffers(pc)
	return &countingConn{PacketConn: pc, s: g.s}, addr, nil
}

func (g *countingGenerator) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return g.inner.AllocateListener(c)
}

func (g *countingGenerator) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	return g.inner.AllocateConn(c)
}

type countingConn struct {
	net.PacketConn
	s *Server
}

func (c *countingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if n > 0 {
		c.s.relayedBytes.Add(uint64(n))
		c.s.relayedPackets.Add(1)
	}
	return n, a, err
}

func (c *countingConn) WriteTo(b []byte, a net.Addr) (int, error) {
	// Counted before the write, so the count never trails a packet the
	// peer already has.
	c.s.relayedBytes.Add(uint64(len(b)))
	c.s.relayedPackets.Add(1)
	n, err := c.PacketConn.WriteTo(b, a)
	if err != nil {
		c.s.relayedBytes.Add(^uint64(len(b) - 1))
		c.s.relayedPackets.Add(^uint64(0))
	}
	return n, err
}

// socketBuffer is the receive and send buffer asked for relay sockets:
// bursts of relayed traffic would otherwise overflow the default. The
// kernel may grant less (net.core.rmem_max).
const socketBuffer = 4 << 20

func setBuffers(pc net.PacketConn) {
	if b, ok := pc.(interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}); ok {
		_ = b.SetReadBuffer(socketBuffer)
		_ = b.SetWriteBuffer(socketBuffer)
	}
}

// quietLoggers silences pion's own logging; the server logs through slog.
type quietLoggers struct{}

func (quietLoggers) NewLogger(string) logging.LeveledLogger { return quietLogger{} }

type quietLogger struct{}

func (quietLogger) Trace(string)          {}
func (quietLogger) Tracef(string, ...any) {}
func (quietLogger) Debug(string)          {}
func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Info(string)           {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warn(string)           {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Error(string)          {}
func (quietLogger) Errorf(string, ...any) {}
