package netsim

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/linkemu"
)

// Network is an in-memory datagram network. Its conns exchange datagrams
// through channels and timers only, so a Network created inside a
// testing/synctest bubble runs entirely on the bubble's fake clock (create
// it, and use it, inside the bubble: its timers belong to the bubble). Every
// directed link (source address → destination address) has its own
// [Faults] and its own random generator.
type Network struct {
	mu       sync.Mutex
	conns    map[netip.AddrPort]*MemConn
	links    map[linkKey]*link
	defaults Faults
	seed     uint64
	nextPort uint16
	maxInbox int
	maxHeld  int

	unroutable counter

	// bottlenecks are shared links in front of destinations.
	bottlenecks map[netip.AddrPort]*linkemu.Link
}

type linkKey struct{ from, to netip.AddrPort }

type link struct {
	from, to netip.AddrPort

	mu    sync.Mutex
	fl    *faulter
	q     *delayQueue
	stats counters
}

// NetworkOption configures [NewNetwork].
type NetworkOption func(*Network)

// WithSeed seeds the links' random generators (default 1).
func WithSeed(seed uint64) NetworkOption { return func(n *Network) { n.seed = seed } }

// WithFaults sets the faults of links not configured with [Network.SetLink].
func WithFaults(f Faults) NetworkOption { return func(n *Network) { n.defaults = f } }

// WithQueueLimits bounds each conn's unread datagrams and each link's
// delayed ones (default 4096 each; values below 1 keep the default).
func WithQueueLimits(inbox, held int) NetworkOption {
	return func(n *Network) {
		n.maxInbox, n.maxHeld = positiveOr(inbox, defaultQueue), positiveOr(held, defaultQueue)
	}
}

// NewNetwork returns an empty network.
func NewNetwork(opts ...NetworkOption) *Network {
	n := &Network{
		conns:    make(map[netip.AddrPort]*MemConn),
		links:    make(map[linkKey]*link),
		seed:     1,
		nextPort: 49152,
		maxInbox: defaultQueue,
		maxHeld:  defaultQueue,
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func normalise(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Listen attaches a conn at addr (any address: nothing reaches a real
// wire). Port 0 picks a free port.
func (n *Network) Listen(addr netip.AddrPort) (*MemConn, error) {
	if !addr.Addr().IsValid() {
		return nil, fmt.Errorf("netsim: listen: invalid address %v", addr)
	}
	addr = normalise(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		for tries := 0; ; tries++ {
			if tries > 65535 {
				return nil, fmt.Errorf("netsim: listen: no free port on %v", addr.Addr())
			}
			p := n.nextPort
			n.nextPort++
			if n.nextPort == 0 {
				n.nextPort = 1024
			}
			cand := netip.AddrPortFrom(addr.Addr(), p)
			if _, used := n.conns[cand]; !used {
				addr = cand
				break
			}
		}
	} else if _, used := n.conns[addr]; used {
		return nil, fmt.Errorf("netsim: listen %v: address in use", addr)
	}
	c := &MemConn{net: n, addr: addr, in: newInbox(n.maxInbox)}
	n.conns[addr] = c
	return c, nil
}

// SetLink sets the faults of datagrams from one address to another.
func (n *Network) SetLink(from, to netip.AddrPort, f Faults) {
	l := n.link(normalise(from), normalise(to))
	l.mu.Lock()
	l.fl.f = f
	l.mu.Unlock()
}

// SetBottleneck makes every datagram sent to the address, from any source,
// cross l first (rate, queue, loss and delay), then the faults of its own
// link. Flows toward one address thus share one bottleneck. A nil l removes
// it.
func (n *Network) SetBottleneck(to netip.AddrPort, l *linkemu.Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	to = normalise(to)
	if l == nil {
		delete(n.bottlenecks, to)
		return
	}
	if n.bottlenecks == nil {
		n.bottlenecks = make(map[netip.AddrPort]*linkemu.Link)
	}
	n.bottlenecks[to] = l
}

func (n *Network) bottleneck(to netip.AddrPort) *linkemu.Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bottlenecks[to]
}

// LinkStats reports what the link from one address to another did.
func (n *Network) LinkStats(from, to netip.AddrPort) Stats {
	return n.link(normalise(from), normalise(to)).stats.snapshot()
}

// Unroutable counts datagrams sent to addresses nobody ever listened on
// (and had no link configured).
func (n *Network) Unroutable() uint64 { return n.unroutable.Load() }

func (n *Network) link(from, to netip.AddrPort) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.linkLocked(from, to, true)
}

// route returns the link for a datagram, or nil when nobody listens at to
// and no link exists yet: such datagrams are counted and dropped without
// creating state, so writes to random addresses cannot grow the network.
func (n *Network) route(from, to netip.AddrPort) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, listening := n.conns[to]
	return n.linkLocked(from, to, listening)
}

func (n *Network) linkLocked(from, to netip.AddrPort, create bool) *link {
	k := linkKey{from, to}
	if l, ok := n.links[k]; ok || !create {
		return l
	}
	// Links are seeded in creation order, which is deterministic in a test
	// that creates its traffic from one goroutine.
	l := &link{from: from, to: to, fl: newFaulter(n.defaults, n.seed+uint64(len(n.links))*0x9e3779b97f4a7c15)}
	l.q = newDelayQueue(n.maxHeld, func(batch []held) {
		for _, h := range batch {
			n.deliver(l, h)
		}
	})
	n.links[k] = l
	return l
}

// deliver hands h to the conn at the link's destination, as coming from the
// link's source.
func (n *Network) deliver(l *link, h held) {
	n.mu.Lock()
	dst := n.conns[l.to]
	n.mu.Unlock()
	h.addr = l.from
	switch {
	case dst == nil:
		l.stats.undeliverable.add(1)
		h.free()
	case !dst.in.push(h):
		l.stats.queueFull.add(1)
		h.free()
	}
}

func (n *Network) remove(c *MemConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[c.addr] == c {
		delete(n.conns, c.addr)
	}
}

// MemConn is one endpoint of a [Network].
type MemConn struct {
	net    *Network
	addr   netip.AddrPort
	in     *inbox
	closed atomic.Bool

	truncated counter
}

// LocalAddr implements [endpoint.PacketConn].
func (c *MemConn) LocalAddr() netip.AddrPort { return c.addr }

// WriteBatch implements [endpoint.PacketConn]. Datagrams to addresses where
// nobody listens vanish, as on a real network.
func (c *MemConn) WriteBatch(ms []endpoint.Packet) (int, error) {
	if c.closed.Load() {
		return 0, errClosed
	}
	now := time.Now()
	for i := range ms {
		p := &ms[i]
		to := normalise(p.Addr)
		l := c.net.route(c.addr, to)
		if l == nil {
			c.net.unroutable.add(1)
			continue
		}
		var bnAt time.Time
		if bn := c.net.bottleneck(to); bn != nil {
			at, fate := bn.Send(now, len(p.Buf))
			if fate != linkemu.Delivered {
				continue
			}
			bnAt = at
		}
		l.mu.Lock()
		ft := l.fl.decide(now, len(p.Buf))
		l.mu.Unlock()
		if !bnAt.IsZero() {
			ft.shift(bnAt.Sub(now))
		}
		if !l.stats.count(&ft) {
			continue
		}
		if ft.dup {
			h := hold(p.Buf, netip.AddrPort{})
			h.at = ft.dupAt
			if !l.q.push(h) {
				l.stats.queueFull.add(1)
				h.free()
			}
		}
		h := hold(p.Buf, netip.AddrPort{})
		if ft.delayed {
			h.at = ft.at
			if !l.q.push(h) {
				l.stats.queueFull.add(1)
				h.free()
			}
			continue
		}
		c.net.deliver(l, h)
	}
	return len(ms), nil
}

// ReadBatch implements [endpoint.PacketConn].
func (c *MemConn) ReadBatch(ms []endpoint.Packet) (int, error) {
	return c.in.read(ms, &c.truncated)
}

// Close implements [endpoint.PacketConn]: the address becomes free and
// datagrams still in flight to it are dropped on arrival.
func (c *MemConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.net.remove(c)
	c.in.close()
	return nil
}

var _ endpoint.PacketConn = (*MemConn)(nil)
