package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
)

// UDPConn is a [PacketConn] over a kernel UDP socket.
type UDPConn struct {
	conn   *net.UDPConn
	local  netip.AddrPort
	single bool // one datagram per system call
	gro    bool // the kernel may coalesce received datagrams

	readMu sync.Mutex
	reader *mmsgReader // batched reads; nil when single

	writeMu sync.Mutex
	writer  *mmsgWriter // batched writes; nil when single

	// TryReadBatch has a reader of its own, so it never waits for the lock
	// of a ReadBatch blocked in the kernel.
	tryMu     sync.Mutex
	tryReader *mmsgReader
}

var errNoBuffer = errors.New("endpoint: ReadBatch needs buffers with capacity")

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
		conn:   conn,
		local:  netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		single: o.SingleDatagram || runtime.GOOS != "linux",
	}
	if !c.single {
		if err := c.batchIO(o); err != nil {
			conn.Close()
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	return c, nil
}

// batchIO sets up recvmmsg and sendmmsg, with the offloads o allows and
// the kernel offers.
func (c *UDPConn) batchIO(o Options) error {
	var err error
	if o.GRO {
		c.gro = enableGRO(c.conn)
	}
	if c.reader, err = newMmsgReader(c.conn, c.gro); err != nil {
		return err
	}
	c.writer, err = newMmsgWriter(c.conn, !o.DisableGSO)
	return err
}

// LocalAddr implements [PacketConn]; an IPv4 address is returned unmapped.
func (c *UDPConn) LocalAddr() netip.AddrPort { return c.local }

// Batched reports whether the socket moves several datagrams per call.
func (c *UDPConn) Batched() bool { return !c.single }

// GSO reports whether writes currently hand runs of equal-size datagrams to
// the kernel as one segmentation-offload message. It turns false for good
// if the path refuses the offload.
func (c *UDPConn) GSO() bool { return c.writer != nil && c.writer.gso.Load() }

// GRO reports whether the kernel may coalesce received datagrams (see
// Options.GRO).
func (c *UDPConn) GRO() bool { return c.gro }

// Close implements [PacketConn].
func (c *UDPConn) Close() error { return c.conn.Close() }

// ReadBatch implements [PacketConn].
func (c *UDPConn) ReadBatch(ms []Packet) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.single {
		return c.readOne(ms)
	}
	return c.reader.read(ms, true)
}

// TryReadBatch is ReadBatch without waiting: it returns (0, nil) at once
// if no datagram is queued. It may run while another goroutine is blocked
// in ReadBatch on the same socket; concurrent TryReadBatch calls are
// serialised.
//
// With GRO, a coalesced datagram is held by the reader that received it
// until it is handed out in full, so segments received by TryReadBatch
// come out of TryReadBatch only (and likewise for ReadBatch).
func (c *UDPConn) TryReadBatch(ms []Packet) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.tryMu.Lock()
	defer c.tryMu.Unlock()
	return c.tryRead(ms)
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
	if c.single {
		for i := range ms {
			if _, err := c.conn.WriteToUDPAddrPort(ms[i].Buf, ms[i].Addr); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	return c.writer.write(ms)
}

// normalise shows IPv4 peers in their plain form.
func normalise(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// Wrap gives batched I/O (sendmmsg and recvmmsg, GSO where opts allow) on a
// socket opened elsewhere, with opts' socket buffer sizes. The socket stays
// its opener's: it may keep reading and writing it directly, and closing it
// closes the result too.
func Wrap(conn *net.UDPConn, opts *Options) (*UDPConn, error) {
	o := opts.orDefault()
	if o.SocketBuffer >= 0 {
		size := o.SocketBuffer
		if size == 0 {
			size = DefaultSocketBuffer
		}
		setBuffers(conn, size, o.Logger)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	c := &UDPConn{
		conn:   conn,
		local:  netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		single: o.SingleDatagram || runtime.GOOS != "linux",
	}
	if !c.single {
		if err := c.batchIO(o); err != nil {
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	return c, nil
}
