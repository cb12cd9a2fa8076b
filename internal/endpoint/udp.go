package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is the sending half of golang.org/x/net's ipv4.PacketConn and
// ipv6.PacketConn (sendmmsg); ipv4.Message and ipv6.Message are the same
// type.
type batchConn interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// UDPConn is a [PacketConn] over a kernel UDP socket.
type UDPConn struct {
	conn  *net.UDPConn
	local netip.AddrPort
	batch batchConn // nil: one datagram per call

	readMu sync.Mutex
	reader *mmsgReader // batched reads; nil when batch is nil

	writeMu  sync.Mutex
	writeMsg []ipv4.Message
	// dests caches the *net.UDPAddr form of destinations, which the batched
	// write path needs, so steady-state writes do not allocate.
	dests map[netip.AddrPort]*net.UDPAddr
}

var errNoBuffer = errors.New("endpoint: ReadBatch needs buffers with capacity")

// maxCachedDests bounds the destination cache; it is emptied when full.
const maxCachedDests = 4096

// msgTrunc is the MSG_TRUNC flag of recvmsg on Linux.
const msgTrunc = 0x20

// Listen opens a UDP socket bound to addr. An unspecified IPv6 address gives
// a dual-stack socket; an IPv4 or IPv4-mapped address an IPv4 socket; any
// other IPv6 address an IPv6-only socket.
func Listen(addr netip.AddrPort, opts *Options) (*UDPConn, error) {
	ip := addr.Addr()
	network := "udp6"
	switch {
	case !ip.IsValid():
		return nil, fmt.Errorf("endpoint: listen: invalid address %v", addr)
	case ip.Unmap().Is4():
		network = "udp4"
		addr = netip.AddrPortFrom(ip.Unmap(), addr.Port())
	case ip.IsUnspecified():
		network = "udp" // dual stack
	}
	return listen(network, addr, opts)
}

// Dial opens a UDP socket for talking to remote: bound to an ephemeral port
// on the wildcard address of remote's family. The socket is not connected.
func Dial(remote netip.AddrPort, opts *Options) (*UDPConn, error) {
	ip := remote.Addr()
	switch {
	case !ip.IsValid():
		return nil, fmt.Errorf("endpoint: dial: invalid address %v", remote)
	case ip.Unmap().Is4():
		return listen("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 0), opts)
	default:
		return listen("udp6", netip.AddrPortFrom(netip.IPv6Unspecified(), 0), opts)
	}
}

func listen(network string, addr netip.AddrPort, opts *Options) (*UDPConn, error) {
	o := opts.orDefault()
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	if o.SocketBuffer >= 0 {
		size := o.SocketBuffer
		if size == 0 {
			size = DefaultSocketBuffer
		}
		setBuffers(conn, size, o.Logger)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	c := &UDPConn{
		conn:  conn,
		local: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		dests: make(map[netip.AddrPort]*net.UDPAddr),
	}
	if runtime.GOOS == "linux" && !o.SingleDatagram {
		if network == "udp4" {
			c.batch = ipv4.NewPacketConn(conn)
		} else {
			c.batch = ipv6.NewPacketConn(conn)
		}
		if c.reader, err = newMmsgReader(conn); err != nil {
			conn.Close()
			return nil, fmt.Errorf("endpoint: %w", err)
		}
		c.writeMsg = make([]ipv4.Message, MaxBatch)
		for i := range MaxBatch {
			c.writeMsg[i].Buffers = make([][]byte, 1)
		}
	}
	return c, nil
}

// LocalAddr implements [PacketConn]; an IPv4 address is returned unmapped.
func (c *UDPConn) LocalAddr() netip.AddrPort { return c.local }

// Batched reports whether the socket moves several datagrams per call.
func (c *UDPConn) Batched() bool { return c.batch != nil }

// Close implements [PacketConn].
func (c *UDPConn) Close() error { return c.conn.Close() }

// ReadBatch implements [PacketConn].
func (c *UDPConn) ReadBatch(ms []Packet) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.batch == nil {
		return c.readOne(ms)
	}
	return c.reader.read(ms)
}

func (c *UDPConn) readOne(ms []Packet) (int, error) {
	p := &ms[0]
	if cap(p.Buf) == 0 {
		return 0, errNoBuffer
	}
	for {
		buf := p.Buf[:cap(p.Buf)]
		n, _, flags, addr, err := c.conn.ReadMsgUDPAddrPort(buf, nil)
		if err != nil {
			return 0, err
		}
		if flags&msgTrunc != 0 && runtime.GOOS == "linux" {
			continue
		}
		p.N, p.Buf, p.Addr = n, buf[:n], normalise(addr)
		return 1, nil
	}
}

// WriteBatch implements [PacketConn].
func (c *UDPConn) WriteBatch(ms []Packet) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.batch == nil {
		for i := range ms {
			if _, err := c.conn.WriteToUDPAddrPort(ms[i].Buf, ms[i].Addr); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	sent := 0
	for sent < len(ms) {
		chunk := ms[sent:min(len(ms), sent+MaxBatch)]
		msgs := c.writeMsg[:len(chunk)]
		for i := range chunk {
			msgs[i].Buffers[0] = chunk[i].Buf
			msgs[i].Addr = c.dest(chunk[i].Addr)
		}
		n, err := c.batch.WriteBatch(msgs, 0)
		for i := range msgs {
			msgs[i].Buffers[0] = nil
			msgs[i].Addr = nil
		}
		if n > 0 {
			sent += n
		}
		if err != nil {
			return sent, err
		}
		if n <= 0 {
			return sent, errors.New("endpoint: sendmmsg sent nothing")
		}
	}
	return sent, nil
}

func (c *UDPConn) dest(ap netip.AddrPort) *net.UDPAddr {
	if ua, ok := c.dests[ap]; ok {
		return ua
	}
	if len(c.dests) >= maxCachedDests {
		clear(c.dests)
	}
	ua := net.UDPAddrFromAddrPort(ap)
	c.dests[ap] = ua
	return ua
}

// normalise shows IPv4 peers in their plain form.
func normalise(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}
