package netsim

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
)

// Options configures [Wrap].
type Options struct {
	Send, Recv Faults
	// Seed makes the fates reproducible; the two directions derive their
	// own generators from it.
	Seed uint64
	// MaxHeld bounds the datagrams held for delay in each direction, and
	// MaxInbox those received but not yet read. 0 means 4096.
	MaxHeld  int
	MaxInbox int
	// ReadBufferSize is the largest datagram the receive side accepts from
	// the wrapped conn. 0 means 2048.
	ReadBufferSize int
}

const (
	defaultQueue      = 4096
	defaultReadBuffer = 2048
)

// Conn is an [endpoint.PacketConn] that applies faults to the datagrams
// written to and read from the conn it wraps.
//
// A goroutine reads the wrapped conn continuously, applies the receive
// faults and queues what survives for ReadBatch, so receiving costs one copy
// per datagram even with no faults configured. Writes without send faults
// go straight through.
type Conn struct {
	inner endpoint.PacketConn

	sendMu   sync.Mutex
	send     *faulter
	sendNow  []endpoint.Packet // immediate writes of one WriteBatch
	sendIdx  []int             // their index in the caller's batch
	sendQ    *delayQueue
	releaseP []endpoint.Packet // delayed writes being released

	recvMu sync.Mutex
	recv   *faulter
	recvQ  *delayQueue
	in     *inbox

	sendStats, recvStats counters

	closed    atomic.Bool
	pumpDone  chan struct{}
	closeOnce sync.Once
	readSize  int
}

// Wrap returns a fault-injecting conn around inner. Closing it closes inner.
func Wrap(inner endpoint.PacketConn, opts Options) *Conn {
	maxHeld := positiveOr(opts.MaxHeld, defaultQueue)
	c := &Conn{
		inner:    inner,
		send:     newFaulter(opts.Send, opts.Seed),
		recv:     newFaulter(opts.Recv, opts.Seed+1),
		in:       newInbox(positiveOr(opts.MaxInbox, defaultQueue)),
		pumpDone: make(chan struct{}),
		readSize: positiveOr(opts.ReadBufferSize, defaultReadBuffer),
	}
	c.sendQ = newDelayQueue(maxHeld, c.releaseSend)
	c.recvQ = newDelayQueue(maxHeld, c.releaseRecv)
	go c.pump()
	return c
}

// positiveOr returns v, or def when v is not positive.
func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// SetFaults changes the faults from now on; datagrams already held keep
// their release times.
func (c *Conn) SetFaults(send, recv Faults) {
	c.sendMu.Lock()
	c.send.f = send
	c.sendMu.Unlock()
	c.recvMu.Lock()
	c.recv.f = recv
	c.recvMu.Unlock()
}

// SendStats reports what was done to written datagrams.
func (c *Conn) SendStats() Stats { return c.sendStats.snapshot() }

// RecvStats reports what was done to received datagrams.
func (c *Conn) RecvStats() Stats { return c.recvStats.snapshot() }

// Held returns the number of datagrams currently delayed in each direction.
func (c *Conn) Held() (send, recv int) { return c.sendQ.len(), c.recvQ.len() }

// LocalAddr implements [endpoint.PacketConn].
func (c *Conn) LocalAddr() netip.AddrPort { return c.inner.LocalAddr() }

// WriteBatch implements [endpoint.PacketConn]. Dropped datagrams count as
// written, as on a real network.
func (c *Conn) WriteBatch(ms []endpoint.Packet) (int, error) {
	if c.closed.Load() {
		return 0, errClosed
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if !c.send.f.active() && c.send.minNextJittered.IsZero() {
		c.sendStats.packets.add(uint64(len(ms)))
		return c.inner.WriteBatch(ms)
	}
	now := time.Now()
	c.sendNow, c.sendIdx = c.sendNow[:0], c.sendIdx[:0]
	for i := range ms {
		p := &ms[i]
		ft := c.send.decide(now, len(p.Buf))
		if !c.sendStats.count(&ft) {
			continue
		}
		if ft.dup {
			c.holdFor(c.sendQ, &c.sendStats, p.Buf, p.Addr, ft.dupAt)
		}
		if ft.delayed {
			c.holdFor(c.sendQ, &c.sendStats, p.Buf, p.Addr, ft.at)
			continue
		}
		c.sendNow = append(c.sendNow, *p)
		c.sendIdx = append(c.sendIdx, i)
	}
	if len(c.sendNow) > 0 {
		n, err := c.inner.WriteBatch(c.sendNow)
		clear(c.sendNow)
		if err != nil {
			return c.sendIdx[n], err
		}
	}
	return len(ms), nil
}

func (c *Conn) holdFor(q *delayQueue, st *counters, b []byte, addr netip.AddrPort, at time.Time) {
	h := hold(b, addr)
	h.at = at
	if !q.push(h) {
		st.queueFull.add(1)
		h.free()
	}
}

func (c *Conn) releaseSend(batch []held) {
	c.releaseP = c.releaseP[:0]
	for _, h := range batch {
		c.releaseP = append(c.releaseP, endpoint.Packet{Buf: h.buf, Addr: h.addr})
	}
	_, _ = c.inner.WriteBatch(c.releaseP) // lost like any datagram if it fails
	clear(c.releaseP)
	for _, h := range batch {
		h.free()
	}
}

func (c *Conn) releaseRecv(batch []held) {
	for _, h := range batch {
		if !c.in.push(h) {
			c.recvStats.queueFull.add(1)
			h.free()
		}
	}
}

// pump moves datagrams from the wrapped conn through the receive faults.
func (c *Conn) pump() {
	defer close(c.pumpDone)
	defer c.in.close()
	ms := make([]endpoint.Packet, 32)
	for i := range ms {
		ms[i].Buf = make([]byte, c.readSize)
	}
	failures := 0
	for {
		for i := range ms {
			ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
		}
		n, err := c.inner.ReadBatch(ms)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || c.closed.Load() {
				return
			}
			if failures++; failures > 100 {
				return
			}
			continue
		}
		failures = 0
		now := time.Now()
		c.recvMu.Lock()
		for _, p := range ms[:n] {
			ft := c.recv.decide(now, p.N)
			if !c.recvStats.count(&ft) {
				continue
			}
			if ft.dup {
				c.holdFor(c.recvQ, &c.recvStats, p.Buf[:p.N], p.Addr, ft.dupAt)
			}
			if ft.delayed {
				c.holdFor(c.recvQ, &c.recvStats, p.Buf[:p.N], p.Addr, ft.at)
				continue
			}
			if h := hold(p.Buf[:p.N], p.Addr); !c.in.push(h) {
				c.recvStats.queueFull.add(1)
				h.free()
			}
		}
		c.recvMu.Unlock()
	}
}

// ReadBatch implements [endpoint.PacketConn].
func (c *Conn) ReadBatch(ms []endpoint.Packet) (int, error) {
	return c.in.read(ms, &c.recvStats.truncated)
}

// Close implements [endpoint.PacketConn]: it closes the wrapped conn and
// drops every held datagram.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		err = c.inner.Close()
		c.sendQ.close()
		c.recvQ.close()
		c.in.close()
		<-c.pumpDone
	})
	return err
}

var _ endpoint.PacketConn = (*Conn)(nil)
