// Package service runs mist's self-hosted network service in one process:
// the signaling server (package signaling), STUN and TURN (package relay),
// certificate-proven registration with short-lived relay credentials, and,
// with a NATS URL, the links that join several nodes into one network
// (package cluster).
package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/mistnet/mist/ca"
	"github.com/mistnet/mist/service/relay"
	"github.com/mistnet/mist/service/signaling"
)

// Config is what one node runs.
type Config struct {
	// Addr is the local IP to listen on; invalid means all interfaces.
	Addr netip.Addr
	// SignalPort is the signaling TCP port (0: any free port).
	SignalPort int
	// STUNPort is the STUN/TURN UDP port (0: any free port); negative
	// runs no STUN/TURN server.
	STUNPort int
	// NoTURN answers STUN only.
	NoTURN bool
	// TURNUser and TURNPass are a static TURN credential.
	TURNUser, TURNPass string
	// TURNSecret signs short-lived TURN credentials handed to proven
	// peers; nodes that share relays must share it. Empty with Trust set
	// means a random secret for this process.
	TURNSecret []byte
	// TURNCredentialLifetime is how long handed-out credentials last
	// (default 12 h).
	TURNCredentialLifetime time.Duration
	// RelayIP is the address peers reach relayed allocations at (default:
	// Addr if set, otherwise this host's outgoing address).
	RelayIP netip.Addr
	// Trust, if set, requires every registration to be proven with a
	// certificate from one of its CAs.
	Trust *ca.Trust
	// Signaling tunes the signaling server's limits; its Authenticator,
	// Router and Logger are set by the node.
	Signaling signaling.Config
	// Cluster, if set, joins this node to others (see package cluster).
	Cluster func(srv *signaling.Server, log *slog.Logger) (Cluster, error)
	// Logger receives the structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Cluster is a node's link to the other nodes.
type Cluster interface {
	signaling.Router
	Close() error
}

// Node is a running service.
type Node struct {
	Signaling *signaling.Server
	Relay     *relay.Server // nil without STUN/TURN

	log     *slog.Logger
	ln      net.Listener
	cluster Cluster
	router  *lateRouter
	errc    chan error
	once    sync.Once
}

// Stats are a node's counters at one moment.
type Stats struct {
	Signaling signaling.Stats
	Relay     relay.Stats
	// Clustered is whether the node joined others over NATS, and
	// ClusterConnected whether it reaches NATS now.
	Clustered, ClusterConnected bool
}

// Start binds the node's sockets and starts serving.
func Start(cfg Config) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	host := ""
	if cfg.Addr.IsValid() {
		host = cfg.Addr.String()
	}
	n := &Node{log: log, errc: make(chan error, 1), router: &lateRouter{}}
	scfg := cfg.Signaling
	scfg.Logger = log.With("part", "signaling")
	var turnSecret []byte
	if cfg.STUNPort >= 0 && !cfg.NoTURN {
		turnSecret = cfg.TURNSecret
		if turnSecret == nil && cfg.Trust != nil {
			turnSecret = make([]byte, 32)
			rand.Read(turnSecret)
		}
	}
	if cfg.Trust != nil {
		auth := &signaling.Authenticator{Trust: cfg.Trust}
		if turnSecret != nil {
			life := cfg.TURNCredentialLifetime
			if life <= 0 {
				life = 12 * time.Hour
			}
			auth.TURNCredentials = func(id string, now time.Time) (string, string) {
				return relay.RESTCredentials(turnSecret, id, now.Add(life))
			}
		}
		scfg.Authenticator = auth
	}
	if cfg.Cluster != nil {
		scfg.Router = n.router
	}

	if cfg.STUNPort >= 0 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(cfg.STUNPort)))
		if err != nil {
			return nil, fmt.Errorf("STUN/TURN: %w", err)
		}
		rcfg := relay.Config{Conn: pc, NoTURN: cfg.NoTURN, Secret: turnSecret, Logger: log.With("part", "relay")}
		if cfg.TURNUser != "" {
			rcfg.Users = map[string]string{cfg.TURNUser: cfg.TURNPass}
		}
		if !cfg.NoTURN {
			relayIP := cfg.RelayIP
			if !relayIP.IsValid() && cfg.Addr.IsValid() && !cfg.Addr.IsUnspecified() {
				relayIP = cfg.Addr
			}
			if !relayIP.IsValid() {
				relayIP, err = outgoingAddr()
				if err != nil {
					pc.Close()
					return nil, err
				}
			}
			rcfg.RelayIP = net.IP(relayIP.Unmap().AsSlice())
			rcfg.RelayBind = "0.0.0.0"
			if relayIP.Is6() && !relayIP.Is4In6() {
				rcfg.RelayBind = "::"
			}
			if host != "" && !cfg.Addr.IsUnspecified() {
				rcfg.RelayBind = host
			}
		}
		r, err := relay.New(rcfg)
		if err != nil {
			pc.Close()
			return nil, err
		}
		n.Relay = r
	}

	n.Signaling = signaling.New(scfg)
	if cfg.Cluster != nil {
		c, err := cfg.Cluster(n.Signaling, log.With("part", "cluster"))
		if err != nil {
			n.closeRelay()
			return nil, err
		}
		n.cluster = c
		n.router.set(c)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(cfg.SignalPort)))
	if err != nil {
		n.closeCluster()
		n.closeRelay()
		return nil, fmt.Errorf("signaling: %w", err)
	}
	n.ln = ln
	go func() { n.errc <- n.Signaling.Serve(ln) }()
	return n, nil
}

// SignalAddr is the signaling server's TCP address.
func (n *Node) SignalAddr() net.Addr { return n.ln.Addr() }

// STUNAddr is the STUN/TURN UDP address, nil without one.
func (n *Node) STUNAddr() net.Addr {
	if n.Relay == nil {
		return nil
	}
	return n.Relay.Addr()
}

// Stats returns the node's counters now.
func (n *Node) Stats() Stats {
	st := Stats{Signaling: n.Signaling.Stats()}
	if c, ok := n.cluster.(interface{ Connected() bool }); ok {
		st.Clustered, st.ClusterConnected = true, c.Connected()
	}
	if n.Relay != nil {
		st.Relay = n.Relay.Stats()
	}
	return st
}

// Run serves until ctx ends (then shuts down and returns nil) or the
// signaling server fails, logging the counters every interval (0: never).
func (n *Node) Run(ctx context.Context, interval time.Duration) error {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-n.errc:
			n.Close()
			if errors.Is(err, signaling.ErrServerClosed) {
				return nil
			}
			return err
		case <-ctx.Done():
			n.log.Info("shutting down")
			return n.Close()
		case <-tick:
			n.logStats()
		}
	}
}

func (n *Node) logStats() {
	st := n.Stats()
	n.log.Info("counters",
		"registered_peers", st.Signaling.RegisteredPeers,
		"signals_per_sec", st.Signaling.SignalsPerSecond,
		"signals_forwarded", st.Signaling.SignalsForwarded,
		"signals_dropped", st.Signaling.DroppedUnknownDest+st.Signaling.DroppedQueueFull,
		"relay_allocations", st.Relay.Allocations,
		"relayed_bytes", st.Relay.RelayedBytes)
}

// Close stops everything the node runs.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.Signaling.Close()
		n.closeCluster()
		n.closeRelay()
		n.logStats()
		n.log.Info("stopped")
	})
	return nil
}

func (n *Node) closeRelay() {
	if n.Relay != nil {
		n.Relay.Close()
	}
}

func (n *Node) closeCluster() {
	if n.cluster != nil {
		n.cluster.Close()
	}
}

// ErrNoRelayAddr is returned when the relay's address was not given and
// this host has no route to tell it by.
var ErrNoRelayAddr = errors.New("TURN: cannot tell the address peers reach this host at; give RelayIP")

// outgoingAddr is the local address this host uses toward the Internet.
// Connecting a UDP socket sends nothing.
func outgoingAddr() (netip.Addr, error) {
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return netip.Addr{}, ErrNoRelayAddr
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// lateRouter lets the signaling server be built before its cluster link,
// which needs the server.
type lateRouter struct {
	mu sync.RWMutex
	r  signaling.Router
}

func (l *lateRouter) set(r signaling.Router) {
	l.mu.Lock()
	l.r = r
	l.mu.Unlock()
}

func (l *lateRouter) get() signaling.Router {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.r
}

func (l *lateRouter) Registered(id string, at time.Time) {
	if r := l.get(); r != nil {
		r.Registered(id, at)
	}
}

func (l *lateRouter) Unregistered(id string) {
	if r := l.get(); r != nil {
		r.Unregistered(id)
	}
}

func (l *lateRouter) Forward(dest string, line []byte) bool {
	if r := l.get(); r != nil {
		return r.Forward(dest, line)
	}
	return false
}
