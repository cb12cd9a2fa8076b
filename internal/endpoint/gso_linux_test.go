package endpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// datagram returns a size-byte datagram whose first bytes number it, so a
// receiver can check order and integrity.
func datagram(seq, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(seq*7 + i)
	}
	if size >= 4 {
		binary.BigEndian.PutUint32(b, uint32(seq))
	}
	return b
}

// sendLog records, for every message the kernel accepted, how many
// datagrams it carried and whether it had a segment-size control message.
type sendLog struct {
	mu   sync.Mutex
	runs []int
	bad  []string
}

// record wraps c's send call with the log.
func (l *sendLog) record(t *testing.T, c *UDPConn) {
	t.Helper()
	if c.writer == nil {
		t.Fatal("socket has no batched writer")
	}
	inner := c.writer.send
	c.writer.send = func(fd uintptr, hdrs []mmsghdr) (int, syscall.Errno) {
		n, e := inner(fd, hdrs)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, h := range hdrs[:max(n, 0)] {
			run := int(h.hdr.Iovlen)
			if (run > 1) != (h.hdr.Controllen != 0) {
				l.bad = append(l.bad, fmt.Sprintf("%d datagrams with control length %d", run, h.hdr.Controllen))
			}
			l.runs = append(l.runs, run)
		}
		return n, e
	}
}

func (l *sendLog) take(t *testing.T) []int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		t.Fatalf("malformed messages: %v", l.bad)
	}
	runs := l.runs
	l.runs = nil
	return runs
}

func sizes(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// TestGSORuns sends batches shaped to start, extend and cut offloaded runs,
// checks how they were packed and that every receiver gets each datagram
// once, intact and in order.
func TestGSORuns(t *testing.T) {
	type step struct {
		sizes []int
		dest  int // index of the receiver
	}
	cases := []struct {
		name  string
		steps []step // consecutive stretches of the batch
		runs  []int  // datagrams per message with GSO
	}{
		{"all equal", []step{{sizes(10, 1300), 0}}, []int{10}},
		{"short tail", []step{{append(sizes(5, 1300), 700), 0}}, []int{6}},
		{"longer after run", []step{{append(sizes(3, 1000), 1300, 1300), 0}}, []int{3, 2}},
		{"shorter ends run", []step{{[]int{1300, 1300, 500, 1300, 1300}, 0}}, []int{3, 2}},
		{"empty datagram", []step{{[]int{1300, 1300, 0, 1300}, 0}}, []int{2, 1, 1}},
		{"segment limit", []step{{sizes(100, 500), 0}}, []int{64, 36}},
		{"byte limit", []step{{sizes(60, 1300), 0}}, []int{50, 10}},
		{"single", []step{{[]int{1300}, 0}}, []int{1}},
		{"alternating", []step{{[]int{800}, 0}, {[]int{800}, 1}, {[]int{800}, 0}, {[]int{800}, 1}}, []int{1, 1, 1, 1}},
		{"blocks", []step{{sizes(3, 900), 0}, {sizes(3, 900), 1}, {sizes(2, 900), 0}}, []int{3, 3, 2}},
	}
	families := []struct {
		name, server, client, target string
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "[::1]:0", "::1"},
		{"dual-stack to ipv4", "127.0.0.1:0", "[::]:0", "127.0.0.1"},
	}
	for _, fam := range families {
		for _, gso := range []bool{true, false} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/gso=%v/%s", fam.name, gso, tc.name), func(t *testing.T) {
					servers := []*UDPConn{listenT(t, fam.server, nil), listenT(t, fam.server, nil)}
					client := listenT(t, fam.client, &Options{DisableGSO: !gso})
					if gso && !client.GSO() {
						t.Skip("kernel without UDP GSO")
					}
					var log sendLog
					log.record(t, client)

					var out []Packet
					want := make([][][]byte, len(servers))
					for _, st := range tc.steps {
						dst := netip.AddrPortFrom(netip.MustParseAddr(fam.target), servers[st.dest].LocalAddr().Port())
						for _, size := range st.sizes {
							d := datagram(len(out), size)
							out = append(out, Packet{Buf: d, Addr: dst})
							want[st.dest] = append(want[st.dest], d)
						}
					}
					if n, err := client.WriteBatch(out); n != len(out) || err != nil {
						t.Fatalf("WriteBatch = %d, %v; want %d", n, err, len(out))
					}
					wantRuns := tc.runs
					if !gso {
						wantRuns = sizes(len(out), 1)
					}
					if runs := log.take(t); !slices.Equal(runs, wantRuns) {
						t.Errorf("datagrams per message %v, want %v", runs, wantRuns)
					}
					for i, s := range servers {
						got := readAll(t, s, len(want[i]))
						for j, p := range got {
							if !slices.Equal(p.Buf, want[i][j]) {
								t.Fatalf("receiver %d datagram %d: %d bytes, want %d (%x… want %x…)",
									i, j, len(p.Buf), len(want[i][j]), p.Buf[:min(8, len(p.Buf))], want[i][j][:min(8, len(want[i][j]))])
							}
							if p.Addr.Port() != client.LocalAddr().Port() {
								t.Fatalf("source %v, client bound %v", p.Addr, client.LocalAddr())
							}
						}
					}
				})
			}
		}
	}
}

// refuseGSO makes c's sends fail with errno at the first offloaded message,
// after sending the plain messages before it, as the kernel does.
func refuseGSO(c *UDPConn, errno syscall.Errno) *int {
	refused := new(int)
	inner := c.writer.send
	c.writer.send = func(fd uintptr, hdrs []mmsghdr) (int, syscall.Errno) {
		first := slices.IndexFunc(hdrs, func(h mmsghdr) bool { return h.hdr.Controllen != 0 })
		switch first {
		case -1:
			return inner(fd, hdrs)
		case 0:
			*refused++
			return -1, errno
		}
		return inner(fd, hdrs[:first])
	}
	return refused
}

// TestGSOFallback: when the path refuses the offload, the socket turns it
// off and every datagram still arrives exactly once, in order.
func TestGSOFallback(t *testing.T) {
	for _, errno := range []syscall.Errno{unix.EIO, unix.EINVAL} {
		t.Run(errno.Error(), func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", nil)
			client := listenT(t, "127.0.0.1:0", nil)
			if !client.GSO() {
				t.Skip("kernel without UDP GSO")
			}
			refused := refuseGSO(client, errno)
			var log sendLog
			log.record(t, client)
			dst := server.LocalAddr()
			// Two plain datagrams, then a run the kernel refuses.
			var out []Packet
			for i, size := range append([]int{300, 1300, 100}, sizes(20, 1200)...) {
				out = append(out, Packet{Buf: datagram(i, size), Addr: dst})
			}
			if n, err := client.WriteBatch(out); n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v; want %d", n, err, len(out))
			}
			if client.GSO() {
				t.Fatal("GSO still on after the kernel refused it")
			}
			if *refused != 1 {
				t.Fatalf("%d refused sends, want 1", *refused)
			}
			if runs := log.take(t); !slices.Equal(runs, sizes(len(out), 1)) {
				t.Errorf("datagrams per message %v, want all single", runs)
			}
			got := readAll(t, server, len(out))
			for i, p := range got {
				if !slices.Equal(p.Buf, out[i].Buf) {
					t.Fatalf("datagram %d: got %d bytes, want %d", i, len(p.Buf), len(out[i].Buf))
				}
			}
		})
	}
}

// TestSendErrorReportsProgress: an error the offload did not cause ends
// the write and reports the datagrams sent before it.
func TestSendErrorReportsProgress(t *testing.T) {
	server := listenT(t, "127.0.0.1:0", nil)
	client := listenT(t, "127.0.0.1:0", nil)
	inner := client.writer.send
	calls := 0
	client.writer.send = func(fd uintptr, hdrs []mmsghdr) (int, syscall.Errno) {
		calls++
		if calls == 1 {
			return inner(fd, hdrs[:1]) // the kernel sends one message, then stops
		}
		return -1, unix.EPERM
	}
	dst := server.LocalAddr()
	out := []Packet{{Buf: datagram(0, 100), Addr: dst}, {Buf: datagram(1, 200), Addr: dst}, {Buf: datagram(2, 300), Addr: dst}}
	n, err := client.WriteBatch(out)
	if n != 1 || !errors.Is(err, unix.EPERM) {
		t.Fatalf("WriteBatch = %d, %v; want 1, EPERM", n, err)
	}
	if got := readAll(t, server, 1); !slices.Equal(got[0].Buf, out[0].Buf) {
		t.Fatalf("received %x", got[0].Buf)
	}
}

// TestGROSplitsTrains: datagrams the kernel coalesced come back one Packet
// each, in order and with their source, whatever the caller's batch size.
func TestGROSplitsTrains(t *testing.T) {
	for _, batch := range []int{1, 7, 64} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", &Options{GRO: true})
			if !server.GRO() {
				t.Skip("kernel without UDP GRO")
			}
			clients := []*UDPConn{listenT(t, "127.0.0.1:0", nil), listenT(t, "127.0.0.1:0", nil)}
			dst := server.LocalAddr()
			want := map[netip.AddrPort][][]byte{}
			seq := 0
			for round := range 3 {
				for _, c := range clients {
					var out []Packet
					for _, size := range append(sizes(40, 1300), 200+round) {
						d := datagram(seq, size)
						seq++
						out = append(out, Packet{Buf: d, Addr: dst})
						want[c.LocalAddr()] = append(want[c.LocalAddr()], d)
					}
					if n, err := c.WriteBatch(out); n != len(out) || err != nil {
						t.Fatalf("WriteBatch = %d, %v", n, err)
					}
				}
			}
			ms := newPackets(batch, 2048)
			got := map[netip.AddrPort][][]byte{}
			coalesced := false
			for total := 0; total < seq; {
				n, err := server.ReadBatch(ms)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range server.reader.received {
					coalesced = coalesced || s.segment < s.len
				}
				for i := range ms[:n] {
					p := &ms[i]
					if p.N != len(p.Buf) {
						t.Fatalf("N = %d, len(Buf) = %d", p.N, len(p.Buf))
					}
					got[p.Addr] = append(got[p.Addr], slices.Clone(p.Buf))
					p.Buf = p.Buf[:cap(p.Buf)]
				}
				total += n
			}
			for addr, w := range want {
				g := got[addr]
				if len(g) != len(w) {
					t.Fatalf("%v: %d datagrams, want %d", addr, len(g), len(w))
				}
				for i := range w {
					if !slices.Equal(g[i], w[i]) {
						t.Fatalf("%v datagram %d: %d bytes, want %d", addr, i, len(g[i]), len(w[i]))
					}
				}
			}
			if !coalesced && clients[0].GSO() {
				t.Error("no read saw a coalesced train from a GSO sender over loopback")
			}
		})
	}
}

func TestEncodeAddr(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	loIndex := uint32(0)
	if err == nil {
		loIndex = uint32(lo.Index)
	}
	cases := []struct {
		family uint16
		addr   string
		ok     bool
		want   [16]byte // address bytes as the socket sees them
		scope  uint32
	}{
		{unix.AF_INET, "1.2.3.4:5", true, [16]byte{1, 2, 3, 4}, 0},
		{unix.AF_INET, "[::ffff:1.2.3.4]:5", true, [16]byte{1, 2, 3, 4}, 0},
		{unix.AF_INET, "[::1]:5", false, [16]byte{}, 0},
		{unix.AF_INET6, "1.2.3.4:5", true, netip.MustParseAddr("::ffff:1.2.3.4").As16(), 0},
		{unix.AF_INET6, "[2001:db8::1]:5", true, netip.MustParseAddr("2001:db8::1").As16(), 0},
		{unix.AF_INET6, "[fe80::1%7]:5", true, netip.MustParseAddr("fe80::1").As16(), 7},
		{unix.AF_INET6, "[fe80::1%lo]:5", err == nil, netip.MustParseAddr("fe80::1").As16(), loIndex},
	}
	for _, tc := range cases {
		w := &mmsgWriter{family: tc.family}
		var sa unix.RawSockaddrInet6
		ap := netip.MustParseAddrPort(tc.addr)
		n, ok := w.encodeAddr(&sa, ap)
		if ok != tc.ok {
			t.Errorf("family %d, %v: ok = %v", tc.family, ap, ok)
			continue
		}
		if !ok {
			continue
		}
		got, ok := decodeSockaddr(&sa)
		if !ok || got.Port() != 5 {
			t.Errorf("family %d, %v: decodes to %v", tc.family, ap, got)
		}
		switch tc.family {
		case unix.AF_INET:
			sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
			if n != unix.SizeofSockaddrInet4 || sa4.Family != unix.AF_INET || sa4.Addr != [4]byte(tc.want[:4]) {
				t.Errorf("family %d, %v: encoded %+v (%d bytes)", tc.family, ap, sa4, n)
			}
		default:
			if n != unix.SizeofSockaddrInet6 || sa.Family != unix.AF_INET6 || sa.Addr != tc.want || sa.Scope_id != tc.scope {
				t.Errorf("family %d, %v: encoded %+v (%d bytes)", tc.family, ap, sa, n)
			}
		}
	}
	w := &mmsgWriter{family: unix.AF_INET6}
	if _, ok := w.encodeAddr(new(unix.RawSockaddrInet6), netip.AddrPort{}); ok {
		t.Error("invalid address encoded")
	}
}

// TestWriteUnreachableFamily: a destination the socket's family cannot
// reach ends the write with an error after the datagrams before it.
func TestWriteUnreachableFamily(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", nil)
			client := listenT(t, "127.0.0.1:0", m.opts)
			out := []Packet{
				{Buf: []byte("a"), Addr: server.LocalAddr()},
				{Buf: []byte("b"), Addr: server.LocalAddr()},
				{Buf: []byte("c"), Addr: netip.MustParseAddrPort("[2001:db8::1]:5")},
			}
			if n, err := client.WriteBatch(out); n != 2 || err == nil {
				t.Fatalf("WriteBatch = %d, %v; want 2 and an error", n, err)
			}
			if got := readAll(t, server, 2); string(got[0].Buf)+string(got[1].Buf) != "ab" {
				t.Fatalf("received %q, %q", got[0].Buf, got[1].Buf)
			}
		})
	}
}
