package endpoint

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// modes runs a test with batched and single-datagram I/O.
var modes = []struct {
	name string
	opts *Options
}{
	{"batch", nil},
	{"single", &Options{SingleDatagram: true}},
	{"nogso", &Options{DisableGSO: true}},
	{"gro", &Options{GRO: true}},
}

func listenT(t *testing.T, addr string, opts *Options) *UDPConn {
	t.Helper()
	c, err := Listen(netip.MustParseAddrPort(addr), opts)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newPackets(n, size int) []Packet {
	ms := make([]Packet, n)
	for i := range ms {
		ms[i].Buf = make([]byte, size)
	}
	return ms
}

// readAll reads until want datagrams arrived or a generous deadline passes.
func readAll(t *testing.T, c *UDPConn, want int) []Packet {
	t.Helper()
	var got []Packet
	done := make(chan error, 1)
	go func() {
		ms := newPackets(8, 2048)
		for len(got) < want {
			n, err := c.ReadBatch(ms)
			if err != nil {
				done <- err
				return
			}
			for _, p := range ms[:n] {
				got = append(got, Packet{Buf: bytes.Clone(p.Buf), N: p.N, Addr: p.Addr})
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ReadBatch: %v", err)
		}
	case <-time.After(10 * time.Second):
		c.Close()
		<-done
		t.Fatalf("received %d of %d datagrams", len(got), want)
	}
	return got
}

func TestExchange(t *testing.T) {
	cases := []struct {
		name         string
		server       string
		target       string // where the client sends
		wantFromIPv4 bool
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.1", true},
		{"ipv6", "[::1]:0", "::1", false},
		{"dual-stack v4 peer", "[::]:0", "127.0.0.1", true},
		{"dual-stack v6 peer", "[::]:0", "::1", false},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				server := listenT(t, tc.server, m.opts)
				if single := m.opts != nil && m.opts.SingleDatagram; server.Batched() == single && isLinux {
					t.Fatalf("Batched() = %v in mode %s", server.Batched(), m.name)
				}
				dst := netip.AddrPortFrom(netip.MustParseAddr(tc.target), server.LocalAddr().Port())
				client, err := Dial(dst, m.opts)
				if err != nil {
					t.Skipf("dial %v: %v", dst, err)
				}
				defer client.Close()

				const count = 100
				out := make([]Packet, count)
				for i := range out {
					out[i] = Packet{Buf: fmt.Appendf(nil, "datagram %03d", i), Addr: dst}
				}
				if n, err := client.WriteBatch(out); n != count || err != nil {
					t.Fatalf("WriteBatch = %d, %v", n, err)
				}
				got := readAll(t, server, count)
				seen := make(map[string]bool)
				for _, p := range got {
					if p.N != len(p.Buf) {
						t.Errorf("N = %d, len(Buf) = %d", p.N, len(p.Buf))
					}
					if p.Addr.Addr().Is4() != tc.wantFromIPv4 || p.Addr.Addr().Is4In6() {
						t.Errorf("source %v: want IPv4 %v, never mapped", p.Addr, tc.wantFromIPv4)
					}
					if p.Addr.Port() != client.LocalAddr().Port() {
						t.Errorf("source port %d, client bound %d", p.Addr.Port(), client.LocalAddr().Port())
					}
					seen[string(p.Buf)] = true
				}
				if len(seen) != count {
					t.Fatalf("got %d distinct datagrams, want %d", len(seen), count)
				}

				// Reply to the address as reported: it must reach the client.
				reply := []Packet{{Buf: []byte("reply"), Addr: got[0].Addr}}
				if n, err := server.WriteBatch(reply); n != 1 || err != nil {
					t.Fatalf("reply WriteBatch = %d, %v", n, err)
				}
				back := readAll(t, client, 1)
				if string(back[0].Buf) != "reply" {
					t.Fatalf("reply = %q", back[0].Buf)
				}
			})
		}
	}
}

func TestOversizedDatagramDropped(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", m.opts)
			client := listenT(t, "127.0.0.1:0", m.opts)
			dst := server.LocalAddr()
			big := make([]byte, 600)
			if _, err := client.WriteBatch([]Packet{{Buf: big, Addr: dst}, {Buf: []byte("small"), Addr: dst}}); err != nil {
				t.Fatal(err)
			}
			ms := newPackets(4, 100)
			n, err := server.ReadBatch(ms)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ms[:n] {
				if string(p.Buf) != "small" {
					t.Fatalf("got %d-byte datagram %q, oversized one should be dropped", p.N, p.Buf)
				}
			}
		})
	}
}

func TestCloseUnblocksReader(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := listenT(t, "127.0.0.1:0", m.opts)
			errc := make(chan error, 1)
			go func() {
				_, err := c.ReadBatch(newPackets(4, 1500))
				errc <- err
			}()
			// Give the reader a chance to block; correctness does not depend on it.
			time.Sleep(10 * time.Millisecond)
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadBatch still blocked after Close")
			}
			_, err := c.WriteBatch([]Packet{{Buf: []byte("x"), Addr: c.LocalAddr()}})
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("WriteBatch after Close: %v, want net.ErrClosed", err)
			}
			if _, err := c.ReadBatch(newPackets(1, 10)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}

func TestListenRejectsInvalid(t *testing.T) {
	if _, err := Listen(netip.AddrPort{}, nil); err == nil {
		t.Fatal("Listen(invalid) succeeded")
	}
	if _, err := Dial(netip.AddrPort{}, nil); err == nil {
		t.Fatal("Dial(invalid) succeeded")
	}
}

func TestLocalAddrUnmapped(t *testing.T) {
	c := listenT(t, "[::ffff:127.0.0.1]:0", nil)
	if a := c.LocalAddr().Addr(); !a.Is4() {
		t.Fatalf("LocalAddr = %v, want plain IPv4", c.LocalAddr())
	}
}

func BenchmarkLoopback(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			server, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), m.opts)
			if err != nil {
				b.Skip(err)
			}
			defer server.Close()
			client, err := Dial(server.LocalAddr(), m.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			const batch = 32
			out := make([]Packet, batch)
			for i := range out {
				out[i] = Packet{Buf: make([]byte, 1200), Addr: server.LocalAddr()}
			}
			in := newPackets(batch, 1500)
			b.SetBytes(batch * 1200)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.WriteBatch(out); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < batch; {
					n, err := server.ReadBatch(in)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}

func TestSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			server := listenT(t, "[::]:0", m.opts)
			client, err := Dial(netip.MustParseAddrPort("127.0.0.1:1"), m.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), server.LocalAddr().Port())
			const batch = 16
			out := make([]Packet, batch)
			for i := range out {
				out[i] = Packet{Buf: make([]byte, 100), Addr: dst}
			}
			in := newPackets(batch, 1500)
			for _, read := range []struct {
				name string
				call func([]Packet) (int, error)
			}{{"ReadBatch", server.ReadBatch}, {"TryReadBatch", server.TryReadBatch}} {
				roundTrip := func() {
					if _, err := client.WriteBatch(out); err != nil {
						t.Fatal(err)
					}
					for got := 0; got < batch; {
						n, err := read.call(in)
						if errors.Is(err, errors.ErrUnsupported) {
							t.Skipf("%s not available here", read.name)
						}
						if err != nil {
							t.Fatal(err)
						}
						for i := range in {
							in[i].Buf = in[i].Buf[:cap(in[i].Buf)]
						}
						got += n
					}
				}
				roundTrip() // warm caches
				allocs := testing.AllocsPerRun(50, roundTrip)
				if perPacket := allocs / batch; perPacket > 0.05 {
					t.Fatalf("%s: %.2f allocations per packet, want none", read.name, perPacket)
				}
			}
		})
	}
}

// TestMappedDestination: an IPv4-mapped destination works on an IPv4 socket
// as well as the plain form does.
func TestMappedDestination(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", m.opts)
			client := listenT(t, "0.0.0.0:0", m.opts)
			mapped := netip.AddrPortFrom(netip.AddrFrom16(server.LocalAddr().Addr().As16()), server.LocalAddr().Port())
			if !mapped.Addr().Is4In6() {
				t.Fatalf("test address %v not mapped", mapped)
			}
			if n, err := client.WriteBatch([]Packet{{Buf: []byte("m"), Addr: mapped}}); n != 1 || err != nil {
				t.Fatalf("WriteBatch to %v = %d, %v", mapped, n, err)
			}
			if got := readAll(t, server, 1); string(got[0].Buf) != "m" {
				t.Fatalf("got %q", got[0].Buf)
			}
		})
	}
}

func TestReadNeedsBuffer(t *testing.T) {
	for _, m := range modes {
		c := listenT(t, "127.0.0.1:0", m.opts)
		if _, err := c.ReadBatch(make([]Packet, 2)); !errors.Is(err, errNoBuffer) {
			t.Errorf("%s: ReadBatch without buffers = %v", m.name, err)
		}
	}
}

// Wrap batches writes on a socket its opener keeps reading and writing.
func TestWrapSharesSocket(t *testing.T) {
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	w, err := Wrap(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if w.LocalAddr() != raw.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("LocalAddr %v, socket %v", w.LocalAddr(), raw.LocalAddr())
	}
	var ms []Packet
	for i := range 10 {
		ms = append(ms, Packet{Buf: []byte(fmt.Sprintf("wrapped %d", i)), Addr: peer.LocalAddr()})
	}
	if n, err := w.WriteBatch(ms); n != len(ms) || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	got := make([]Packet, 16)
	for i := range got {
		got[i].Buf = make([]byte, 64)
	}
	seen := 0
	for seen < len(ms) {
		peer.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := peer.ReadBatch(got)
		if err != nil {
			t.Fatalf("after %d: %v", seen, err)
		}
		for _, p := range got[:n] {
			if want := fmt.Sprintf("wrapped %d", seen); string(p.Buf) != want || p.Addr != w.LocalAddr() {
				t.Fatalf("got %q from %v, want %q from %v", p.Buf, p.Addr, want, w.LocalAddr())
			}
			seen++
		}
		for i := range got {
			got[i].Buf = got[i].Buf[:cap(got[i].Buf)]
		}
	}
	// The opener's own reads still see datagrams.
	if _, err := peer.WriteBatch([]Packet{{Buf: []byte("back"), Addr: w.LocalAddr()}}); err != nil {
		t.Fatal(err)
	}
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _, err := raw.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "back" {
		t.Fatalf("opener read %q, %v", buf[:n], err)
	}
}
