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
//
// Without GRO the kernel writes straight into the caller's buffers. With
// GRO one datagram may be a train of up to 64 segments, so the reader
// receives into slots of its own and copies segments out; segments that do
// not fit the caller's batch wait in the slots for the next call.
type mmsgReader struct {
	raw   syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 too

	gro      bool
	slots    [][]byte
	ctrl     []groCmsg
	received []groSlot // what the last recvmmsg put in slots
	next     int       // first entry of received not yet handed out
	offset   int       // bytes of received[next] already handed out

	// Set up before and read after raw.Read or raw.Control, which call
	// readFD.
	count     int
	got       int
	errno     syscall.Errno
	readFD    func(fd uintptr) bool // bound once to avoid a closure per call
	controlFD func(fd uintptr)
}

// groSlot describes one received datagram held in a reader slot.
type groSlot struct {
	len     int
	segment int // segment size; the last segment may be shorter
	addr    netip.AddrPort
}

// groCmsg is room for the one control message a GRO read carries: the
// segment size as a C int.
type groCmsg struct {
	hdr  unix.Cmsghdr
	size int32
}

const (
	// groSlotSize holds the largest datagram the kernel can build by
	// coalescing.
	groSlotSize = 1 << 16
	// maxGROSlots bounds the slots of one reader: 4 × 64 KiB.
	maxGROSlots = 4
	// datagramsPerGROSlot sizes the slots from the caller's batch: a batch of
	// up to 16 buffers needs one slot, up to 64 four.
	datagramsPerGROSlot = 16
)

func newMmsgReader(conn *net.UDPConn, gro bool) (*mmsgReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{raw: raw, gro: gro}
	r.readFD = r.recv
	r.controlFD = func(fd uintptr) { r.recv(fd) }
	return r, nil
}

// grow sizes the header arrays for n messages. Arrays grow to the largest
// batch seen, so an idle client socket reading one datagram at a time keeps
// them small.
func (r *mmsgReader) grow(n int) {
	if len(r.hdrs) >= n {
		return
	}
	r.hdrs = make([]mmsghdr, n)
	r.iovs = make([]unix.Iovec, n)
	r.names = make([]unix.RawSockaddrInet6, n)
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
			r.got, r.errno = 0, e
			return false // wait until readable
		default:
			r.got, r.errno = 0, e
			return true
		}
	}
}

// call runs recvmmsg on the first count headers. Waiting, it blocks in the
// poller until a datagram arrives; otherwise it runs under raw.Control,
// which does not take the descriptor's read lock, and reports would-block
// as (false, nil).
func (r *mmsgReader) call(count int, wait bool) (bool, error) {
	r.count, r.got, r.errno = count, 0, 0
	if wait {
		if err := r.raw.Read(r.readFD); err != nil {
			return false, err
		}
	} else {
		if err := r.raw.Control(r.controlFD); err != nil {
			return false, err
		}
		if r.errno == unix.EAGAIN {
			return false, nil
		}
	}
	if r.errno != 0 {
		return false, &net.OpError{Op: "recvmmsg", Net: "udp", Err: r.errno}
	}
	return true, nil
}

// usable returns the prefix of ms whose buffers have capacity.
func usable(ms []Packet) []Packet {
	ms = ms[:min(len(ms), MaxBatch)]
	for i := range ms {
		if cap(ms[i].Buf) == 0 {
			return ms[:i]
		}
	}
	return ms
}

// read fills ms, blocking until at least one datagram arrives if wait is
// set; entries whose buffer has no capacity are not used.
func (r *mmsgReader) read(ms []Packet, wait bool) (int, error) {
	ms = usable(ms)
	if len(ms) == 0 {
		return 0, errNoBuffer
	}
	if r.gro {
		return r.readGRO(ms, wait)
	}
	r.grow(len(ms))
	for {
		for i := range ms {
			buf := ms[i].Buf[:cap(ms[i].Buf)]
			r.iovs[i].Base = &buf[0]
			r.iovs[i].SetLen(len(buf))
			r.setHeader(i)
		}
		ok, err := r.call(len(ms), wait)
		if !ok {
			r.unpin(len(ms))
			return 0, err
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
		r.unpin(len(ms))
		if kept > 0 {
			return kept, nil
		}
	}
}

// unpin clears the first n iovecs so the reader does not keep caller
// buffers alive.
func (r *mmsgReader) unpin(n int) {
	for i := range r.iovs[:n] {
		r.iovs[i].Base = nil
	}
}

func (r *mmsgReader) setHeader(i int) {
	h := &r.hdrs[i].hdr
	*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.names[i])), Namelen: uint32(unsafe.Sizeof(r.names[i])), Iov: &r.iovs[i]}
	h.SetIovlen(1)
}

// readGRO hands out segments held from the last receive, or receives into
// the reader's slots and hands out from them.
func (r *mmsgReader) readGRO(ms []Packet, wait bool) (int, error) {
	for {
		if n := r.handOut(ms); n > 0 {
			return n, nil
		}
		slots := min(maxGROSlots, (len(ms)+datagramsPerGROSlot-1)/datagramsPerGROSlot)
		r.growSlots(slots)
		for i := range slots {
			r.iovs[i].Base = &r.slots[i][0]
			r.iovs[i].SetLen(len(r.slots[i]))
			r.setHeader(i)
			h := &r.hdrs[i].hdr
			h.Control = (*byte)(unsafe.Pointer(&r.ctrl[i]))
			h.SetControllen(int(unsafe.Sizeof(r.ctrl[i])))
		}
		ok, err := r.call(slots, wait)
		if !ok {
			return 0, err
		}
		r.received, r.next, r.offset = r.received[:0], 0, 0
		for i := range r.got {
			h := &r.hdrs[i]
			addr, ok := decodeSockaddr(&r.names[i])
			if !ok || h.hdr.Flags&unix.MSG_TRUNC != 0 || h.len == 0 {
				continue
			}
			n := int(h.len)
			r.received = append(r.received, groSlot{len: n, segment: r.segmentSize(i, n), addr: addr})
			if i != len(r.received)-1 {
				// Keep received datagrams in the leading slots.
				r.slots[i], r.slots[len(r.received)-1] = r.slots[len(r.received)-1], r.slots[i]
			}
		}
	}
}

func (r *mmsgReader) growSlots(n int) {
	if len(r.slots) >= n {
		return
	}
	r.grow(n)
	for len(r.slots) < n {
		r.slots = append(r.slots, make([]byte, groSlotSize))
	}
	r.ctrl = make([]groCmsg, n)
	r.received = make([]groSlot, 0, n)
}

// segmentSize reads the UDP_GRO control message of header i; without one
// the datagram is a single segment.
func (r *mmsgReader) segmentSize(i, n int) int {
	h := &r.hdrs[i].hdr
	c := &r.ctrl[i]
	if int(h.Controllen) < unix.CmsgLen(4) || c.hdr.Level != unix.SOL_UDP || c.hdr.Type != unix.UDP_GRO || c.size <= 0 {
		return n
	}
	return int(c.size)
}

// handOut copies held segments into ms in order and returns how many it
// filled. A segment larger than its buffer is dropped, as an oversized
// datagram is.
func (r *mmsgReader) handOut(ms []Packet) int {
	filled := 0
	for filled < len(ms) && r.next < len(r.received) {
		s := &r.received[r.next]
		end := min(r.offset+s.segment, s.len)
		seg := r.slots[r.next][r.offset:end]
		if p := &ms[filled]; len(seg) <= cap(p.Buf) {
			p.Buf = p.Buf[:len(seg)]
			copy(p.Buf, seg)
			p.N, p.Addr = len(seg), s.addr
			filled++
		}
		r.offset = end
		if r.offset == s.len {
			r.next, r.offset = r.next+1, 0
		}
	}
	return filled
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

// tryRead is TryReadBatch on Linux: recvmmsg under raw.Control, through a
// reader of its own.
func (c *UDPConn) tryRead(ms []Packet) (int, error) {
	if c.tryReader == nil {
		r, err := newMmsgReader(c.conn, c.gro)
		if err != nil {
			return 0, err
		}
		c.tryReader = r
	}
	if c.single {
		ms = ms[:1]
	}
	return c.tryReader.read(ms, false)
}

// enableGRO asks the kernel to coalesce received datagrams and reports
// whether it agreed.
func enableGRO(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var setErr error
	if err := raw.Control(func(fd uintptr) {
		setErr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return false
	}
	return setErr == nil
}
