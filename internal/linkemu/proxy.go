package linkemu

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Proxy relays UDP between clients and one server through emulated links:
// datagrams from clients to the server cross up, replies cross down. Every
// client gets its own socket toward the server, so the server sees one
// address per client, while all clients share the two links (one
// bottleneck, as on a real access link).
//
// Datagrams wait in a queue ordered by the time the link releases them; one
// goroutine per direction sleeps until the earliest is due and then sends
// everything due, so a late wake-up delays datagrams by the lateness but
// never lowers the delivered rate.
type Proxy struct {
	ln     *net.UDPConn
	server netip.AddrPort
	up     *Link
	down   *Link

	upQ, downQ *releaseQueue

	mu      sync.Mutex
	clients map[netip.AddrPort]*net.UDPConn
	closed  bool
	wg      sync.WaitGroup
}

// maxClients bounds the per-client sockets a proxy opens.
const maxClients = 256

// maxHeldDatagrams and maxHeldBytes bound each direction's queue when its
// link has no rate (then only the delay holds datagrams).
const (
	maxHeldDatagrams = 1 << 16
	maxHeldBytes     = 64 << 20
)

// socketBuffer is the receive and send buffer asked for on each socket.
const socketBuffer = 8 << 20

// NewProxy listens on a loopback port and relays to server through up (client
// to server) and down (server to client).
func NewProxy(server netip.AddrPort, up, down *Link) (*Proxy, error) {
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(server.Addr(), 0)))
	if err != nil {
		return nil, err
	}
	_ = ln.SetReadBuffer(socketBuffer)
	_ = ln.SetWriteBuffer(socketBuffer)
	p := &Proxy{ln: ln, server: server, up: up, down: down, clients: make(map[netip.AddrPort]*net.UDPConn)}
	p.upQ = newReleaseQueue(func(d datagram) { _, _ = d.conn.Write(d.buf) })
	p.downQ = newReleaseQueue(func(d datagram) { _, _ = p.ln.WriteToUDPAddrPort(d.buf, d.to) })
	p.wg.Add(3)
	go func() { defer p.wg.Done(); p.upQ.run() }()
	go func() { defer p.wg.Done(); p.downQ.run() }()
	go func() { defer p.wg.Done(); p.readClients() }()
	return p, nil
}

// Addr is where clients send to reach the server.
func (p *Proxy) Addr() netip.AddrPort { return p.ln.LocalAddr().(*net.UDPAddr).AddrPort() }

// Up and Down are the two links.
func (p *Proxy) Up() *Link   { return p.up }
func (p *Proxy) Down() *Link { return p.down }

// Close stops relaying and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, c := range p.clients {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.upQ.close()
	p.downQ.close()
	p.wg.Wait()
	return err
}

func (p *Proxy) readClients() {
	buf := make([]byte, 65536)
	for {
		n, from, err := p.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		c := p.clientConn(from)
		if c == nil {
			continue
		}
		p.upQ.push(p.up, now, datagram{buf: append([]byte(nil), buf[:n]...), conn: c})
	}
}

// clientConn returns the socket relaying from, opening it (and its reader)
// on first use.
func (p *Proxy) clientConn(from netip.AddrPort) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[from]; ok || p.closed {
		return c
	}
	if len(p.clients) >= maxClients {
		return nil
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(p.server))
	if err != nil {
		return nil
	}
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	p.clients[from] = c
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			p.downQ.push(p.down, time.Now(), datagram{buf: append([]byte(nil), buf[:n]...), to: from})
		}
	}()
	return c
}

type datagram struct {
	at   time.Time
	buf  []byte
	conn *net.UDPConn   // up: the client's socket toward the server
	to   netip.AddrPort // down: the client
}

// releaseQueue holds datagrams in release order. A link's release times
// never decrease (departures are serial, the delay is constant), so a FIFO
// is enough.
type releaseQueue struct {
	mu     sync.Mutex
	q      []datagram
	head   int
	wake   chan struct{}
	done   chan struct{}
	send   func(datagram)
	closed bool
	bytes  int // held
}

func newReleaseQueue(send func(datagram)) *releaseQueue {
	return &releaseQueue{wake: make(chan struct{}, 1), done: make(chan struct{}), send: send}
}

// push passes d through l at now and queues it if l delivers it. The lock
// spans both so that queue order is release order.
func (r *releaseQueue) push(l *Link, now time.Time, d datagram) {
	r.mu.Lock()
	if r.closed || len(r.q)-r.head >= maxHeldDatagrams || r.bytes+len(d.buf) > maxHeldBytes {
		r.mu.Unlock()
		return
	}
	at, fate := l.Send(now, len(d.buf))
	if fate != Delivered {
		r.mu.Unlock()
		return
	}
	d.at = at
	r.bytes += len(d.buf)
	r.q = append(r.q, d)
	first := len(r.q)-r.head == 1
	r.mu.Unlock()
	if first {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

func (r *releaseQueue) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
}

func (r *releaseQueue) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []datagram
	for {
		r.mu.Lock()
		now := time.Now()
		due = due[:0]
		for r.head < len(r.q) && !r.q[r.head].at.After(now) {
			due = append(due, r.q[r.head])
			r.bytes -= len(r.q[r.head].buf)
			r.q[r.head] = datagram{}
			r.head++
		}
		var next time.Duration = -1
		if r.head < len(r.q) {
			next = r.q[r.head].at.Sub(now)
		}
		if r.head == len(r.q) {
			r.q, r.head = r.q[:0], 0
		} else if r.head > 4096 && r.head*2 > len(r.q) {
			n := copy(r.q, r.q[r.head:])
			clear(r.q[n:])
			r.q, r.head = r.q[:n], 0
		}
		r.mu.Unlock()
		for _, d := range due {
			r.send(d)
		}
		clear(due)
		if len(due) > 0 {
			continue // sending took time: look again before sleeping
		}
		if next >= 0 {
			timer.Reset(next)
			select {
			case <-timer.C:
			case <-r.wake:
			case <-r.done:
				return
			}
			continue
		}
		select {
		case <-r.wake:
		case <-r.done:
			return
		}
	}
}
