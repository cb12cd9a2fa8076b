package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultPort is the port GNS's trivial signaling server and client use.
const DefaultPort = 10000

// Config bounds what one client may cost the server. Zero fields take the
// defaults shown.
type Config struct {
	// MaxLineBytes is the longest line accepted, terminator excluded
	// (default 64 KiB; GNS's largest signals are a few KB of hex). A longer
	// line closes the connection.
	MaxLineBytes int
	// LinesPerSecond and LineBurst are each connection's token bucket
	// (defaults 200 and 400). A GNS connection signals at most every
	// 100 ms, so this leaves room for dozens of connections per peer.
	// Negative LinesPerSecond disables the limit.
	LinesPerSecond float64
	LineBurst      int
	// QueueBytes is how many bytes may wait to be written to one
	// connection (default 256 KiB); forwards beyond it are dropped.
	QueueBytes int
	// GreetingTimeout is how long a new connection has to register
	// (default 10 s); LineTimeout how long a line may take from its first
	// byte to its end (default 30 s); WriteTimeout how long a write to a
	// client may block (default 10 s).
	GreetingTimeout time.Duration
	LineTimeout     time.Duration
	WriteTimeout    time.Duration
	// MaxConns and MaxConnsPerIP cap open connections (defaults 100,000
	// and 1,000; negative means no cap).
	MaxConns      int
	MaxConnsPerIP int
	// Authenticator, if set, requires each registration to prove its
	// identity; nil leaves the server open, as GNS's example server is.
	Authenticator *Authenticator
	// Router, if set, carries signals for identities registered on other
	// nodes; nil keeps the server standalone.
	Router Router
	// Logger receives the server's structured logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	d := *c
	setDefault(&d.MaxLineBytes, 64<<10)
	if d.LinesPerSecond == 0 {
		d.LinesPerSecond = 200
	}
	setDefault(&d.LineBurst, 400)
	setDefault(&d.QueueBytes, 256<<10)
	setDefault(&d.GreetingTimeout, 10*time.Second)
	setDefault(&d.LineTimeout, 30*time.Second)
	setDefault(&d.WriteTimeout, 10*time.Second)
	setDefault(&d.MaxConns, 100_000)
	setDefault(&d.MaxConnsPerIP, 1000)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return d
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Router carries signals between nodes that share one registry. The
// server calls it without holding its locks.
type Router interface {
	// Registered and Unregistered tell the other nodes that an identity
	// now lives on this node (registered at the time given), or no longer
	// does.
	Registered(identity string, at time.Time)
	Unregistered(identity string)
	// Forward sends a complete forwarded line ("SENDER PAYLOAD\n") toward
	// dest on whichever node holds it; false if no node is known to.
	Forward(dest string, line []byte) bool
}

// Server is a signaling server. Create it with New, run it with Serve and
// stop it with Close.
type Server struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[netip.Addr]int
	closed    bool

	regMu sync.RWMutex
	peers map[string]*conn

	wg    sync.WaitGroup
	count counters
	meter rateMeter
}

// New returns a server with cfg's limits.
func New(cfg Config) *Server {
	c := cfg.withDefaults()
	return &Server{
		cfg:       c,
		log:       c.Logger,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[netip.Addr]int),
		peers:     make(map[string]*conn),
	}
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("signaling: server closed")

// Serve accepts connections on ln until Close, and returns
// ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.log.Info("signaling server listening", "addr", ln.Addr().String(), "authenticated", s.cfg.Authenticator != nil)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("signaling: accept: %w", err)
			}
			// Running out of file descriptors and the like pass.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accept(nc)
	}
}

// Close stops all listeners and connections and waits for their
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return nil
}

// Shutdown is Close bounded by ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counters now.
func (s *Server) Stats() Stats { return s.StatsAt(time.Now()) }

// StatsAt returns the counters, measuring the signal rate at now.
func (s *Server) StatsAt(now time.Time) Stats {
	s.mu.Lock()
	nconns := len(s.conns)
	s.mu.Unlock()
	s.regMu.RLock()
	npeers := len(s.peers)
	s.regMu.RUnlock()
	fwd := s.count.forwarded.Load()
	return Stats{
		Connections:        nconns,
		RegisteredPeers:    npeers,
		SignalsForwarded:   fwd,
		SignalsPerSecond:   s.meter.observe(fwd, now),
		DroppedUnknownDest: s.count.unknownDest.Load(),
		DroppedQueueFull:   s.count.queueFull.Load(),
		IgnoredLines:       s.count.ignored.Load(),
		RateLimited:        s.count.rateLimited.Load(),
		LinesTooLong:       s.count.tooLong.Load(),
		Timeouts:           s.count.timeouts.Load(),
		RefusedConns:       s.count.refusedConns.Load(),
		Replaced:           s.count.replaced.Load(),
		AuthRefused:        s.count.authRefused.Load(),
	}
}

// accept admits a connection within the caps and starts its goroutines.
func (s *Server) accept(nc net.Conn) {
	ip := remoteIP(nc)
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		nc.Close()
		return
	case s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns,
		s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP:
		s.mu.Unlock()
		s.count.refusedConns.Add(1)
		s.log.Warn("connection refused: too many connections", "remote", nc.RemoteAddr().String())
		nc.Close()
		return
	}
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(2)
	s.mu.Unlock()
	setKeepAlive(nc)
	go c.writeLoop()
	go c.readLoop()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	s.mu.Unlock()
}

// register makes c the holder of identity, closing an earlier holder.
func (s *Server) register(c *conn, identity string) {
	at := time.Now()
	s.regMu.Lock()
	old := s.peers[identity]
	s.peers[identity] = c
	c.identity = identity
	c.registeredAt = at
	s.regMu.Unlock()
	if old != nil && old != c {
		s.count.replaced.Add(1)
		s.log.Info("identity registered again; closing the previous connection",
			"identity", identity, "remote", c.remote, "previous", old.remote)
		old.close()
	} else {
		s.log.Info("registered", "identity", identity, "remote", c.remote)
	}
	if s.cfg.Router != nil {
		s.cfg.Router.Registered(identity, at)
	}
}

// unregister removes c's identity if c still holds it.
func (s *Server) unregister(c *conn) {
	if c.identity == "" {
		return
	}
	s.regMu.Lock()
	current := s.peers[c.identity] == c
	if current {
		delete(s.peers, c.identity)
	}
	s.regMu.Unlock()
	if current && s.cfg.Router != nil {
		s.cfg.Router.Unregistered(c.identity)
	}
}

// forward delivers one signal from sender to dest.
func (s *Server) forward(sender string, dest, payload []byte) {
	s.regMu.RLock()
	to := s.peers[string(dest)]
	s.regMu.RUnlock()
	line := AppendForward(make([]byte, 0, len(sender)+1+len(payload)), sender, payload)
	if to == nil {
		if s.cfg.Router != nil && s.cfg.Router.Forward(string(dest), line) {
			s.count.forwarded.Add(1)
			return
		}
		s.count.unknownDest.Add(1)
		s.log.Debug("signal dropped: destination not registered", "from", sender, "to", string(dest))
		return
	}
	if !to.enqueue(line) {
		s.count.queueFull.Add(1)
		s.log.Debug("signal dropped: destination's queue is full", "from", sender, "to", string(dest))
		return
	}
	s.count.forwarded.Add(1)
}

// DeliverLocal writes a forwarded line ("SENDER PAYLOAD\n") that another
// node routed here to dest, if dest is registered on this server.
func (s *Server) DeliverLocal(dest string, line []byte) bool {
	s.regMu.RLock()
	to := s.peers[dest]
	s.regMu.RUnlock()
	if to == nil {
		s.count.unknownDest.Add(1)
		return false
	}
	if !to.enqueue(line) {
		s.count.queueFull.Add(1)
		return false
	}
	return true
}

// Evict closes the local registration of identity if it was made before
// at, when a holder on another node has registered since ("last login
// wins" across nodes). It reports whether it did.
func (s *Server) Evict(identity string, at time.Time) bool {
	s.regMu.Lock()
	c := s.peers[identity]
	if c != nil && c.registeredAt.Before(at) {
		delete(s.peers, identity)
	} else {
		c = nil
	}
	s.regMu.Unlock()
	if c != nil {
		s.count.replaced.Add(1)
		s.log.Info("identity registered on another node; closing the local connection", "identity", identity, "remote", c.remote)
		c.close()
	}
	return c != nil
}

func remoteIP(nc net.Conn) netip.Addr {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// setKeepAlive probes idle clients as GNS's example server does: after
// 30 s, every 10 s, 3 times.
func setKeepAlive(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3})
	}
}
