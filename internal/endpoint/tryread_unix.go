//go:build unix && !linux

package endpoint

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// tryRead is TryReadBatch where recvmmsg is missing: one recvfrom under
// raw.Control, which does not wait for a blocked ReadBatch. Go sockets are
// non-blocking, so an empty queue reports EAGAIN.
func (c *UDPConn) tryRead(ms []Packet) (int, error) {
	p := &ms[0]
	if cap(p.Buf) == 0 {
		return 0, errNoBuffer
	}
	raw, err := c.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	buf := p.Buf[:cap(p.Buf)]
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		if err := raw.Control(func(fd uintptr) {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
		}); err != nil {
			return 0, err
		}
		switch {
		case rerr == unix.EAGAIN || rerr == unix.EWOULDBLOCK:
			return 0, nil
		case rerr == unix.EINTR:
			continue
		case rerr != nil:
			return 0, &net.OpError{Op: "recvfrom", Net: "udp", Err: rerr}
		}
		var addr netip.AddrPort
		switch sa := from.(type) {
		case *unix.SockaddrInet4:
			addr = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			addr = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
		default:
			continue
		}
		p.N, p.Buf, p.Addr = n, buf[:n], normalise(addr)
		return 1, nil
	}
}
