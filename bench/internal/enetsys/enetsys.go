//go:build cgo

// Package enetsys measures ENet (the C library, loaded at run time): reliable
// messages use ENET_PACKET_FLAG_RELIABLE, unreliable ones ENet's default
// sequenced unreliable packets, on one channel, bandwidth limits off. ENet
// does not encrypt.
package enetsys

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

const (
	// MaxPeers is ENet's protocol limit on peers per host.
	MaxPeers = 4095
	// maxBacklog bounds the commands queued on a peer before Send waits,
	// about 1.4 MB of bulk data.
	maxBacklog = 1024
	// pumpEvery is how many messages Send queues before running the host,
	// so small messages share packets as they would in a game loop.
	pumpEvery = 16
)

// System is ENet 1.3.
type System struct{}

func (System) Name() string    { return "ENet" }
func (System) Encrypted() bool { return false }

// Listen starts a server host with room for MaxPeers clients, serviced by
// one goroutine on its own OS thread.
func (System) Listen(addr string) (system.Server, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	h, err := newHost(ap, MaxPeers)
	if err != nil {
		return nil, err
	}
	s := &server{h: h, addr: netip.AddrPortFrom(ap.Addr(), h.port()), done: make(chan struct{})}
	go s.run()
	return s, nil
}

type server struct {
	h     host
	addr  netip.AddrPort
	conns atomic.Int64
	stop  atomic.Bool
	done  chan struct{}
}

func (s *server) Addr() string { return s.addr.String() }
func (s *server) Conns() int   { return int(s.conns.Load()) }

func (s *server) Close() error {
	s.stop.Store(true)
	<-s.done
	return nil
}

func (s *server) run() {
	runtime.LockOSThread()
	defer close(s.done)
	defer s.h.destroy()
	sessions := make(map[peer]*benchproto.Session)
	for !s.stop.Load() {
		ev, err := s.h.service(1)
		if err != nil {
			return
		}
		switch ev.kind {
		case evConnect:
			sessions[ev.peer] = new(benchproto.Session)
			s.conns.Add(1)
		case evDisconnect:
			if _, ok := sessions[ev.peer]; ok {
				delete(sessions, ev.peer)
				s.conns.Add(-1)
			}
		case evReceive:
			if sess := sessions[ev.peer]; sess != nil {
				replied := false
				sess.Handle(ev.data, ev.reliable, func(reply []byte, reliable bool) {
					replied = send(ev.peer, reply, reliable) == nil
				})
				if replied {
					s.h.flush()
				}
			}
			ev.release()
		}
	}
}

// Dial creates a client host with one peer and waits for the connection.
func (System) Dial(ctx context.Context, addr string) (system.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	h, err := newHost(netip.AddrPort{}, 1)
	if err != nil {
		return nil, err
	}
	p, err := h.connect(ap)
	if err != nil {
		h.destroy()
		return nil, err
	}
	c := &conn{h: h, p: p}
	for !connected(p) {
		if ctx.Err() != nil {
			h.destroy()
			return nil, fmt.Errorf("enetsys: connect to %v: %w", ap, ctx.Err())
		}
		if err := c.pump(5); err != nil {
			h.destroy()
			return nil, err
		}
	}
	return c, nil
}

// conn is one client host with one peer. Received messages are copied out
// of ENet into inbox while the host is pumped.
type conn struct {
	h       host
	p       peer
	inbox   [][]byte
	unsent  int
	closed  bool
	lostErr error
}

var errDisconnected = errors.New("enetsys: peer disconnected")

// pump services the host once, waiting up to timeoutMS for the first
// event, then drains every event already queued.
func (c *conn) pump(timeoutMS uint32) error {
	for {
		ev, err := c.h.service(timeoutMS)
		if err != nil {
			return err
		}
		switch ev.kind {
		case evNone:
			return c.lostErr
		case evDisconnect:
			c.lostErr = errDisconnected
		case evReceive:
			c.inbox = append(c.inbox, append([]byte(nil), ev.data...))
			ev.release()
		}
		timeoutMS = 0
	}
}

func (c *conn) Send(msg []byte, flags system.SendFlags) error {
	if c.lostErr != nil {
		return c.lostErr
	}
	for backlog(c.p, maxBacklog) >= maxBacklog {
		if err := c.pump(1); err != nil {
			return err
		}
	}
	if err := send(c.p, msg, flags&system.Reliable != 0); err != nil {
		return err
	}
	c.unsent++
	if flags&system.NoDelay != 0 || c.unsent >= pumpEvery {
		c.unsent = 0
		return c.pump(0)
	}
	return nil
}

func (c *conn) Flush() error {
	c.unsent = 0
	c.h.flush()
	return c.pump(0)
}

func (c *conn) take(buf []byte) int {
	n := copy(buf, c.inbox[0])
	c.inbox[0] = nil
	c.inbox = c.inbox[1:]
	return n
}

// Recv waits inside enet_host_service, ENet's own blocking wait.
func (c *conn) Recv(ctx context.Context, buf []byte) (int, error) {
	for len(c.inbox) == 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		wait := uint32(10)
		if d, ok := ctx.Deadline(); ok {
			wait = uint32(min(max(time.Until(d).Milliseconds(), 0), 10))
		}
		if err := c.pump(wait); err != nil {
			return 0, err
		}
	}
	return c.take(buf), nil
}

func (c *conn) Poll(buf []byte) (int, bool, error) {
	if len(c.inbox) == 0 {
		if err := c.pump(0); err != nil {
			return 0, false, err
		}
		if len(c.inbox) == 0 {
			return 0, false, nil
		}
	}
	return c.take(buf), true, nil
}

func (c *conn) Close() error {
	if !c.closed {
		c.closed = true
		disconnect(c.p)
		c.h.flush()
		c.h.destroy()
	}
	return nil
}

// DialMany connects n peers from one client host. ENet hosts hold at most
// MaxPeers, and so does the server, so larger counts are not supported.
func (System) DialMany(ctx context.Context, addr string, n int, progress func(int)) (system.Swarm, error) {
	if n > MaxPeers {
		return nil, fmt.Errorf("enetsys: %d connections exceed ENet's %d peers per host: %w", n, MaxPeers, system.ErrNotSupported)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	h, err := newHost(netip.AddrPort{}, n)
	if err != nil {
		return nil, err
	}
	sw := &swarm{h: h, peers: make([]peer, 0, n), stop: make(chan struct{}), done: make(chan struct{})}
	for range n {
		p, err := h.connect(ap)
		if err != nil {
			h.destroy()
			return nil, err
		}
		sw.peers = append(sw.peers, p)
	}
	// ENet peers answer pings only while their host is serviced, so the
	// swarm keeps a goroutine on it until closed.
	ready := make(chan error, 1)
	go sw.run(ctx, n, progress, ready)
	if err := <-ready; err != nil {
		sw.Close()
		return nil, err
	}
	return sw, nil
}

type swarm struct {
	h     host
	peers []peer
	mu    sync.Mutex
	up    int
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func (s *swarm) run(ctx context.Context, n int, progress func(int), ready chan<- error) {
	runtime.LockOSThread()
	defer close(s.done)
	defer s.h.destroy()
	for {
		select {
		case <-s.stop:
			for _, p := range s.peers {
				disconnect(p)
			}
			s.h.flush()
			if ready != nil {
				ready <- errors.New("enetsys: swarm closed while connecting")
			}
			return
		default:
		}
		if ready != nil && ctx.Err() != nil {
			ready <- fmt.Errorf("enetsys: %d of %d connected: %w", s.Connected(), n, ctx.Err())
			ready = nil
		}
		ev, err := s.h.service(1)
		if err != nil {
			if ready != nil {
				ready <- err
			}
			return
		}
		switch ev.kind {
		case evConnect, evDisconnect:
			s.mu.Lock()
			if ev.kind == evConnect {
				s.up++
			} else {
				s.up--
			}
			up := s.up
			s.mu.Unlock()
			if ready != nil && ev.kind == evConnect {
				if progress != nil {
					progress(up)
				}
				if up == n {
					ready <- nil
					ready = nil
				}
			}
		case evReceive:
			ev.release()
		}
	}
}

func (s *swarm) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

func (s *swarm) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Unsupported explains the scenarios ENet cannot run.
func (System) Unsupported(scenario, variant string) string {
	return fmt.Sprintf("n/a: ENet hosts hold at most %d peers", MaxPeers)
}
