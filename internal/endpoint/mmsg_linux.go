package endpoint

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr; Go's alignment rules give it C's padding.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// mmsgReader receives with recvmmsg(2) directly. golang.org/x/net's
// ReadBatch would do the same call but allocate a *net.UDPAddr per
// datagram; this decodes source addresses straight into netip values, so a
// batch costs no allocation.
type mmsgReader struct {
	raw   syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 too

	// Set up before and read after raw.Read, which calls readFD.
	count  int
	got    int
	errno  syscall.Errno
	readFD func(fd uintptr) bool // bound once to avoid a closure per call
}

func newMmsgReader(conn *net.UDPConn) (*mmsgReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{
		raw:   raw,
		hdrs:  make([]mmsghdr, MaxBatch),
		iovs:  make([]unix.Iovec, MaxBatch),
		names: make([]unix.RawSockaddrInet6, MaxBatch),
	}
	r.readFD = r.recv
	return r, nil
}

func (r *mmsgReader) recv(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.count), 0, 0, 0)
		switch e {
		case 0:
			r.got, r.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until readable
		default:
			r.got, r.errno = 0, e
			return true
		}
	}
}

// read fills ms; entries whose buffer has no capacity are not used.
func (r *mmsgReader) read(ms []Packet) (int, error) {
	ms = ms[:min(len(ms), MaxBatch)]
	for {
		for i := range ms {
			buf := ms[i].Buf[:cap(ms[i].Buf)]
			if len(buf) == 0 {
				ms = ms[:i]
				break
			}
			r.iovs[i].Base = &buf[0]
			r.iovs[i].SetLen(len(buf))
			h := &r.hdrs[i].hdr
			*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.names[i])), Namelen: uint32(unsafe.Sizeof(r.names[i])), Iov: &r.iovs[i]}
			h.SetIovlen(1)
		}
		if len(ms) == 0 {
			return 0, errNoBuffer
		}
		r.count = len(ms)
		if err := r.raw.Read(r.readFD); err != nil {
			return 0, err
		}
		if r.errno != 0 {
			return 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: r.errno}
		}
		kept := 0
		for i := range r.got {
			h := &r.hdrs[i]
			addr, ok := decodeSockaddr(&r.names[i])
			if !ok || h.hdr.Flags&unix.MSG_TRUNC != 0 {
				continue
			}
			ms[kept], ms[i] = ms[i], ms[kept]
			p := &ms[kept]
			p.N = int(h.len)
			p.Buf = p.Buf[:p.N]
			p.Addr = addr
			kept++
		}
		for i := range r.iovs[:len(ms)] {
			r.iovs[i].Base = nil // do not keep caller buffers alive
		}
		if kept > 0 {
			return kept, nil
		}
	}
}

// decodeSockaddr reads an AF_INET or AF_INET6 address; IPv4-mapped
// addresses come back as plain IPv4. The IPv6 scope (zone) is not kept.
func decodeSockaddr(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p := uint16(port[0])<<8 | uint16(port[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), p), true
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), p), true
	}
	return netip.AddrPort{}, false
}
