package ice

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5"

	"github.com/mistnet/mist/internal/endpoint"
)

// The data fast path. pion hands every received datagram from its socket
// reader to a buffer that a second goroutine (Session's reader) drains, and
// writes each datagram with a system call of its own. On a route over one
// of our own sockets (host or server-reflexive local candidate, not a
// relay), data packets skip both: the socket's reader hands them straight
// to Config.OnReceive, and Send/SendBatch write them to the peer with
// batched system calls. STUN, TURN and anything from another address still
// go through pion.

// errSTUNLike is what Send returns for a datagram that would be taken for
// STUN on the wire (pion refuses those as well).
var errSTUNLike = errors.New("ice: datagram looks like STUN")

// isDataLead reports whether a datagram's first byte marks an SNP data or
// session packet (never STUN, TURN ChannelData or DTLS).
func isDataLead(b byte) bool { return b >= 0x80 || b == 36 || b == 37 }

// dataNet opens pion's UDP sockets as dataSockets.
type dataNet struct {
	transport.Net
	s *Session
}

func (n *dataNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	udp, ok := c.(*net.UDPConn)
	if !ok {
		return c, nil
	}
	return n.s.addSocket(udp), nil
}

// dataSocket is one of pion's sockets, read by pion's reader goroutine.
// It implements pion's AddrPortReaderWriter, which pion prefers to ReadFrom
// and WriteTo.
type dataSocket struct {
	*net.UDPConn
	s     *Session
	local netip.AddrPort
	batch *endpoint.UDPConn // nil if batched writes are unavailable

	mu      sync.Mutex // guards packets
	packets []endpoint.Packet

	pollMu   sync.Mutex // one Poll at a time; guards pollBufs
	pollBufs []endpoint.Packet

	pendMu  sync.Mutex
	pending []stolen // read by Poll but pion's; see handBack

	pionDeadline atomic.Bool // pion set a deadline (to stop its reader): timeouts are its
}

// SetDeadline and SetReadDeadline are pion's: its reader then sees the
// timeout, unlike the ones Poll uses to wake it.
func (d *dataSocket) SetDeadline(t time.Time) error {
	d.pionDeadline.Store(true)
	return d.UDPConn.SetDeadline(t)
}

func (d *dataSocket) SetReadDeadline(t time.Time) error {
	d.pionDeadline.Store(true)
	return d.UDPConn.SetReadDeadline(t)
}

// stolen is a datagram Poll read that pion must see.
type stolen struct {
	b   []byte
	src netip.AddrPort
}

// Poll reads without waiting, on the caller's goroutine. Datagrams that
// are not the route's data go back to pion's reader (handBack).
const (
	pollBatch   = 8
	pollBufSize = 2048 // larger datagrams are dropped by the read: Poll is for SNP
	maxPending  = 16   // beyond that, stolen datagrams are dropped (loss)
)

// past is a read deadline that has passed: setting it makes pion's reader,
// if blocked in the kernel, come back for handed-back datagrams.
var past = time.Unix(1, 0)

// fastRoute is the selected route when it runs over a dataSocket.
type fastRoute struct {
	sock   *dataSocket
	remote netip.AddrPort
}

func (s *Session) addSocket(udp *net.UDPConn) *dataSocket {
	local := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	d := &dataSocket{
		UDPConn: udp,
		s:       s,
		local:   netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
	}
	if b, err := endpoint.Wrap(udp, nil); err == nil {
		d.batch = b
	}
	s.mu.Lock()
	s.sockets = append(s.sockets, d)
	s.mu.Unlock()
	return d
}

// socketAt finds our socket bound to a.
func (s *Session) socketAt(a netip.AddrPort) *dataSocket {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.sockets {
		if d.local == a {
			return d
		}
	}
	return nil
}

// ReadFromAddrPort returns the next datagram for pion, after delivering
// data packets of the selected route directly.
func (d *dataSocket) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		if n, src, ok := d.takeBack(b); ok {
			return n, src, nil
		}
		n, src, err := d.UDPConn.ReadFromUDPAddrPort(b)
		if errors.Is(err, os.ErrDeadlineExceeded) && !d.pionDeadline.Load() {
			// Woken by Poll; the datagrams it handed back were queued
			// before the deadline was set.
			if err := d.UDPConn.SetReadDeadline(time.Time{}); err != nil {
				return 0, netip.AddrPort{}, err
			}
			continue
		}
		if err != nil {
			return n, src, err
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if n > 0 && isDataLead(b[0]) && d.s.deliver(d, src, b[:n]) {
			continue
		}
		return n, src, nil
	}
}

// ReadFrom is ReadFromAddrPort for callers that want a net.Addr.
func (d *dataSocket) ReadFrom(b []byte) (int, net.Addr, error) {
	n, src, err := d.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(src), nil
}

func (d *dataSocket) WriteToAddrPort(b []byte, a netip.AddrPort) (int, error) {
	return d.UDPConn.WriteToUDPAddrPort(b, a)
}

// deliver hands a data packet from src to OnReceive if it belongs to the
// selected route; false leaves it to pion.
func (s *Session) deliver(d *dataSocket, src netip.AddrPort, b []byte) bool {
	fr := s.fast.Load()
	if fr == nil || fr.sock != d || fr.remote != src {
		return false
	}
	if s.closedFlag.Load() {
		return true // dropped: no OnReceive after Close
	}
	if s.cfg.OnReceive != nil {
		s.cfg.OnReceive(b)
	}
	return true
}

// send writes datagrams to the route's peer in batches; datagrams that
// look like STUN are skipped. It returns the first error.
func (fr *fastRoute) send(ds [][]byte) error {
	d := fr.sock
	if d.batch == nil {
		var first error
		for _, b := range ds {
			if stun.IsMessage(b) {
				first = cmpErr(first, errSTUNLike)
				continue
			}
			if _, err := d.UDPConn.WriteToUDPAddrPort(b, fr.remote); err != nil {
				first = cmpErr(first, err)
			}
		}
		return first
	}
	var first error
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(ds) > 0 {
		ps := d.packets[:0]
		for len(ds) > 0 && len(ps) < endpoint.MaxBatch {
			b := ds[0]
			ds = ds[1:]
			if stun.IsMessage(b) {
				first = cmpErr(first, errSTUNLike)
				continue
			}
			ps = append(ps, endpoint.Packet{Buf: b, Addr: fr.remote})
		}
		d.packets = ps
		for len(ps) > 0 {
			n, err := d.batch.WriteBatch(ps)
			if err != nil {
				first = cmpErr(first, err)
				n++ // skip the datagram that failed
			}
			if n >= len(ps) {
				break
			}
			ps = ps[n:]
		}
	}
	clear(d.packets[:cap(d.packets)])
	return first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Poll delivers the selected route's data packets already queued on its
// socket to OnReceive, on the caller's goroutine and without waiting, so a
// busy-polling receiver need not wait for pion's reader to be scheduled.
// It reports whether any was delivered. Only host and server-reflexive
// routes over our own sockets are polled.
func (s *Session) Poll() bool {
	fr := s.fast.Load()
	if fr == nil || fr.sock.batch == nil || s.closedFlag.Load() {
		return false
	}
	d := fr.sock
	if !d.pollMu.TryLock() {
		return false // another poller or none needed
	}
	defer d.pollMu.Unlock()
	if d.pollBufs == nil {
		d.pollBufs = make([]endpoint.Packet, pollBatch)
		for i := range d.pollBufs {
			d.pollBufs[i].Buf = make([]byte, pollBufSize)
		}
	}
	got := false
	for {
		ps := d.pollBufs
		for i := range ps {
			ps[i].Buf = ps[i].Buf[:cap(ps[i].Buf)]
		}
		n, err := d.batch.TryReadBatch(ps)
		if err != nil || n == 0 {
			return got
		}
		stole := false
		for _, p := range ps[:n] {
			b := p.Buf[:p.N]
			if len(b) > 0 && isDataLead(b[0]) && s.deliver(d, p.Addr, b) {
				got = true
				continue
			}
			d.handBack(b, p.Addr)
			stole = true
		}
		if stole {
			// pion's reader may be blocked in the kernel: wake it to see them.
			d.UDPConn.SetReadDeadline(past)
		}
		if n < len(ps) {
			return got
		}
	}
}

// handBack queues a datagram Poll read for pion's reader.
func (d *dataSocket) handBack(b []byte, src netip.AddrPort) {
	d.pendMu.Lock()
	defer d.pendMu.Unlock()
	if len(d.pending) >= maxPending {
		return
	}
	d.pending = append(d.pending, stolen{b: append([]byte(nil), b...), src: src})
}

// takeBack gives pion's reader the oldest datagram Poll handed back.
func (d *dataSocket) takeBack(b []byte) (int, netip.AddrPort, bool) {
	d.pendMu.Lock()
	defer d.pendMu.Unlock()
	if len(d.pending) == 0 {
		return 0, netip.AddrPort{}, false
	}
	p := d.pending[0]
	d.pending[0] = stolen{}
	d.pending = d.pending[1:]
	if len(d.pending) == 0 {
		d.pending = nil
	}
	return copy(b, p.b), p.src, true
}
