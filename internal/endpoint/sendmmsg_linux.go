package endpoint

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgWriter sends with sendmmsg(2) directly and, where the kernel allows
// it, hands runs of equal-size datagrams to one destination over as a
// single UDP GSO message: the kernel then walks the UDP/IP stack once per
// run instead of once per datagram and cuts the run into datagrams as late
// as it can. Each datagram stays in the caller's buffer (one iovec each),
// so nothing is copied.
type mmsgWriter struct {
	raw    syscall.RawConn
	family uint16      // AF_INET or AF_INET6: how destinations are encoded
	gso    atomic.Bool // runs are coalesced; cleared for good if the path refuses

	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 too
	ctrl  []gsoCmsg               // the segment-size control message of each header
	runs  []int                   // datagrams carried by each header
	used  int                     // iovecs filled by the last pack

	zones map[string]uint32 // IPv6 zone name → interface index

	// send is the system call; tests replace it to simulate a kernel that
	// refuses segmentation offload.
	send func(fd uintptr, hdrs []mmsghdr) (int, syscall.Errno)

	// Set up before and read after raw.Write, which calls writeFD.
	count   int
	sent    int
	errno   syscall.Errno
	writeFD func(fd uintptr) bool
}

// gsoCmsg is a UDP_SEGMENT control message; Go's padding gives it the size
// of CMSG_SPACE(sizeof(uint16)).
type gsoCmsg struct {
	hdr  unix.Cmsghdr
	size uint16
}

const (
	// maxGSOSegments is UDP_MAX_SEGMENTS of the kernels that first offered
	// UDP GSO (4.18); later kernels allow more, none fewer.
	maxGSOSegments = 64
	// maxGSOBytes is the most one UDP datagram can carry over IPv4
	// (65535 less the IPv4 and UDP headers); an offloaded run must fit one.
	maxGSOBytes = 65535 - 20 - 8
	// maxSendIovecs bounds the iovecs (datagrams) one sendmmsg carries.
	maxSendIovecs = 1024
)

var errAddrFamily = errors.New("destination address family does not match the socket")

func newMmsgWriter(conn *net.UDPConn, allowGSO bool) (*mmsgWriter, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWriter{raw: raw, send: sendmmsg}
	var domain int
	var domainErr, gsoErr error
	err = raw.Control(func(fd uintptr) {
		domain, domainErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		// Kernels without UDP GSO do not know the option.
		_, gsoErr = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	})
	if err == nil {
		err = domainErr
	}
	if err != nil {
		return nil, err
	}
	w.family = uint16(domain)
	w.gso.Store(allowGSO && gsoErr == nil)
	w.writeFD = w.sendFD
	return w, nil
}

func sendmmsg(fd uintptr, hdrs []mmsghdr) (int, syscall.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	return int(n), e
}

func (w *mmsgWriter) sendFD(fd uintptr) bool {
	for {
		n, e := w.send(fd, w.hdrs[:w.count])
		switch e {
		case 0:
			w.sent, w.errno = n, 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until writable
		default:
			w.sent, w.errno = 0, e
			return true
		}
	}
}

// write sends ms in order and returns how many datagrams went out.
//
// sendmmsg stops at the first message it cannot send and reports the
// messages before it; the rest are packed again and retried, so a failure
// surfaces on the message that caused it. If that message is an offloaded
// run and the kernel refuses the offload (EIO: the device cannot checksum
// it; EINVAL: the run does not fit the path), segmentation offload is
// switched off for the socket and the same datagrams go out one by one.
func (w *mmsgWriter) write(ms []Packet) (int, error) {
	done := 0
	for done < len(ms) {
		msgs, err := w.pack(ms[done:])
		if msgs == 0 {
			return done, err
		}
		w.count, w.sent, w.errno = msgs, 0, 0
		err = w.raw.Write(w.writeFD)
		w.unpin()
		if err != nil {
			return done, err
		}
		for _, n := range w.runs[:w.sent] {
			done += n
		}
		switch {
		case w.errno == 0 && w.sent > 0:
		case (w.errno == unix.EIO || w.errno == unix.EINVAL) && w.runs[0] > 1:
			w.gso.Store(false)
		case w.errno == 0:
			return done, &net.OpError{Op: "sendmmsg", Net: "udp", Err: errors.New("sent nothing")}
		default:
			return done, &net.OpError{Op: "sendmmsg", Net: "udp", Err: w.errno}
		}
	}
	return done, nil
}

// pack fills headers for the start of ms and returns how many it filled.
// It stops before a destination the socket cannot reach and returns an
// error if that is the first one.
func (w *mmsgWriter) pack(ms []Packet) (int, error) {
	gso := w.gso.Load()
	w.grow(len(ms), gso)
	msgs, iovs := 0, 0
	for i := 0; i < len(ms) && msgs < len(w.hdrs) && iovs < len(w.iovs); {
		namelen, ok := w.encodeAddr(&w.names[msgs], ms[i].Addr)
		if !ok {
			if msgs == 0 {
				return 0, &net.OpError{Op: "sendmmsg", Net: "udp", Addr: net.UDPAddrFromAddrPort(ms[i].Addr), Err: errAddrFamily}
			}
			break
		}
		run := 1
		if gso {
			run = gsoRun(ms[i:], min(maxGSOSegments, len(w.iovs)-iovs))
		}
		vec := w.iovs[iovs : iovs+run]
		for k := range vec {
			if b := ms[i+k].Buf; len(b) > 0 {
				vec[k].Base = &b[0]
				vec[k].SetLen(len(b))
			}
		}
		h := &w.hdrs[msgs].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&w.names[msgs])), Namelen: namelen, Iov: &vec[0]}
		h.SetIovlen(run)
		if run > 1 {
			c := &w.ctrl[msgs]
			c.hdr = unix.Cmsghdr{Level: unix.SOL_UDP, Type: unix.UDP_SEGMENT}
			c.hdr.SetLen(unix.CmsgLen(2))
			c.size = uint16(len(ms[i].Buf))
			h.Control = (*byte)(unsafe.Pointer(c))
			h.SetControllen(unix.CmsgSpace(2))
		}
		w.runs[msgs] = run
		msgs++
		iovs += run
		i += run
	}
	w.used = iovs
	return msgs, nil
}

// gsoRun returns how many datagrams from the start of ms one offloaded
// message can carry: same destination, all as long as the first except a
// shorter (non-empty) last one, at most limit of them and maxGSOBytes in
// all. 1 means no run.
func gsoRun(ms []Packet, limit int) int {
	size := len(ms[0].Buf)
	if size == 0 {
		return 1
	}
	dst, total, n := ms[0].Addr, size, 1
	for n < len(ms) && n < limit {
		l := len(ms[n].Buf)
		if ms[n].Addr != dst || l == 0 || l > size || total+l > maxGSOBytes {
			break
		}
		total += l
		n++
		if l < size {
			break
		}
	}
	return n
}

// grow sizes the arrays for a write of n datagrams. They grow to the
// largest write seen, so a socket that sends a datagram at a time keeps
// them small.
func (w *mmsgWriter) grow(n int, gso bool) {
	msgs, iovs := min(n, MaxBatch), min(n, MaxBatch)
	if gso {
		iovs = min(n, maxSendIovecs)
	}
	if len(w.hdrs) < msgs {
		w.hdrs = make([]mmsghdr, msgs)
		w.names = make([]unix.RawSockaddrInet6, msgs)
		w.ctrl = make([]gsoCmsg, msgs)
		w.runs = make([]int, msgs)
	}
	if len(w.iovs) < iovs {
		w.iovs = make([]unix.Iovec, iovs)
	}
}

// unpin clears the iovecs so the writer does not keep caller buffers alive.
func (w *mmsgWriter) unpin() {
	clear(w.iovs[:w.used])
}

// encodeAddr writes ap as the socket's address family expects: plain IPv4
// on an IPv4 socket, IPv4-mapped IPv6 for an IPv4 peer of a dual-stack
// socket. It returns the address length.
func (w *mmsgWriter) encodeAddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) (uint32, bool) {
	ip := ap.Addr()
	if !ip.IsValid() {
		return 0, false
	}
	if w.family == unix.AF_INET {
		ip = ip.Unmap()
		if !ip.Is4() {
			return 0, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		putPort(&sa4.Port, ap.Port())
		return unix.SizeofSockaddrInet4, true
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16(), Scope_id: w.zoneIndex(ip.Zone())}
	putPort(&sa.Port, ap.Port())
	return unix.SizeofSockaddrInet6, true
}

// putPort stores a port in network byte order.
func putPort(field *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(field))
	b[0], b[1] = byte(port>>8), byte(port)
}

// zoneIndex resolves an IPv6 zone to an interface index, caching names.
func (w *mmsgWriter) zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if idx, ok := w.zones[zone]; ok {
		return idx
	}
	var idx uint32
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		idx = uint32(n)
	} else if ifi, err := net.InterfaceByName(zone); err == nil {
		idx = uint32(ifi.Index)
	}
	if w.zones == nil || len(w.zones) >= maxCachedZones {
		w.zones = make(map[string]uint32)
	}
	w.zones[zone] = idx
	return idx
}

// maxCachedZones bounds the zone cache; it is emptied when full.
const maxCachedZones = 64
