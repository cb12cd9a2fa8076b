package endpoint

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// tryModes are the socket kinds TryReadBatch works on everywhere it exists.
var tryModes = modes[:3] // batch, single, nogso: GRO has its own test

// tryWithin runs TryReadBatch and fails the test if it does not return
// promptly, which would mean it waited for data or for a blocked reader.
func tryWithin(t *testing.T, c *UDPConn, ms []Packet) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.TryReadBatch(ms)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, errors.ErrUnsupported) {
			t.Skip("TryReadBatch not available here")
		}
		return r.n, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("TryReadBatch blocked")
		return 0, nil
	}
}

func TestTryReadBatchEmpty(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := listenT(t, "127.0.0.1:0", m.opts)
			if n, err := tryWithin(t, c, newPackets(4, 1500)); n != 0 || err != nil {
				t.Fatalf("TryReadBatch on an empty socket = %d, %v; want 0, nil", n, err)
			}
			if n, err := c.TryReadBatch(nil); n != 0 || err != nil {
				t.Fatalf("TryReadBatch(nil) = %d, %v", n, err)
			}
			if _, err := c.TryReadBatch(make([]Packet, 2)); !errors.Is(err, errNoBuffer) {
				t.Fatalf("TryReadBatch without buffers = %v", err)
			}
			c.Close()
			if _, err := tryWithin(t, c, newPackets(1, 100)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("TryReadBatch after Close = %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestTryReadBatchBesideBlockedReader: TryReadBatch neither waits for nor
// disturbs a ReadBatch blocked on the same socket, and between them every
// datagram is received once.
func TestTryReadBatchBesideBlockedReader(t *testing.T) {
	for _, m := range tryModes {
		t.Run(m.name, func(t *testing.T) {
			server := listenT(t, "127.0.0.1:0", m.opts)
			client := listenT(t, "127.0.0.1:0", m.opts)

			// The blocked reader takes one datagram and stops.
			blocked := make(chan []byte, 1)
			go func() {
				ms := newPackets(1, 2048)
				n, err := server.ReadBatch(ms)
				if err != nil || n != 1 {
					blocked <- nil
					return
				}
				blocked <- append([]byte(nil), ms[0].Buf...)
			}()
			// Give the reader a chance to block; correctness does not depend on it.
			time.Sleep(10 * time.Millisecond)
			if n, err := tryWithin(t, server, newPackets(8, 2048)); n != 0 || err != nil {
				t.Fatalf("TryReadBatch beside a blocked reader = %d, %v; want 0, nil", n, err)
			}

			const count = 200
			out := make([]Packet, count)
			for i := range out {
				out[i] = Packet{Buf: fmt.Appendf(nil, "datagram %03d", i), Addr: server.LocalAddr()}
			}
			if n, err := client.WriteBatch(out); n != count || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}

			seen := make(map[string]int)
			ms := newPackets(8, 2048)
			deadline := time.Now().Add(10 * time.Second)
			readerDone := false
			collect := func(b []byte) {
				if b == nil {
					t.Fatal("blocked ReadBatch failed")
				}
				readerDone = true
				seen[string(b)]++
			}
			for tried := 0; len(seen) < count; {
				if !readerDone {
					select {
					case b := <-blocked:
						collect(b)
					default:
					}
				}
				n, err := server.TryReadBatch(ms)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ms[:n] {
					seen[string(ms[i].Buf)]++
					ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
				}
				tried += n
				if time.Now().After(deadline) {
					t.Fatalf("TryReadBatch got %d datagrams, the blocked reader %v; want %d in all", tried, readerDone, count)
				}
			}
			if !readerDone {
				// The reader is still blocked: it must still work.
				last := []Packet{{Buf: []byte("last"), Addr: server.LocalAddr()}}
				if _, err := client.WriteBatch(last); err != nil {
					t.Fatal(err)
				}
				select {
				case b := <-blocked:
					if string(b) != "last" {
						t.Fatalf("blocked reader got %q, want \"last\"", b)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("blocked ReadBatch did not wake for a new datagram")
				}
			}
			if len(seen) != count {
				t.Fatalf("%d distinct datagrams, want %d", len(seen), count)
			}
			for d, k := range seen {
				if k != 1 {
					t.Fatalf("%q received %d times", d, k)
				}
			}
		})
	}
}

// TestTryReadBatchGRO: TryReadBatch splits coalesced datagrams too.
func TestTryReadBatchGRO(t *testing.T) {
	server := listenT(t, "127.0.0.1:0", &Options{GRO: true})
	if !server.GRO() {
		t.Skip("no UDP GRO here")
	}
	client := listenT(t, "127.0.0.1:0", nil)
	const count = 100
	out := make([]Packet, count)
	for i := range out {
		out[i] = Packet{Buf: fmt.Appendf(nil, "datagram %03d", i), Addr: server.LocalAddr()}
	}
	if n, err := client.WriteBatch(out); n != count || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	ms := newPackets(3, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for got := 0; got < count; {
		n, err := server.TryReadBatch(ms)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ms[:n] {
			if want := string(out[got+i].Buf); string(ms[i].Buf) != want {
				t.Fatalf("datagram %d = %q, want %q", got+i, ms[i].Buf, want)
			}
			ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
		}
		got += n
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d datagrams", got, count)
		}
	}
	if n, err := tryWithin(t, server, ms); n != 0 || err != nil {
		t.Fatalf("TryReadBatch after draining = %d, %v; want 0, nil", n, err)
	}
}
