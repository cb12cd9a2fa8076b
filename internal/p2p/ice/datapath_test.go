package ice

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestFastDataPath: on a host route over real sockets, both sides use
// their own socket for data (batched writes, direct delivery), datagrams
// arrive in order, and a STUN-looking datagram in a batch is skipped with
// an error while the rest are sent.
func TestFastDataPath(t *testing.T) {
	cfg := Config{Loopback: true, AddrFilter: isLoopback4}
	a, b := connectPeers(t, cfg, cfg)
	a.waitRoute(t, 5*time.Second)
	b.waitRoute(t, 5*time.Second)
	for _, p := range []*peer{a, b} {
		fr := p.s.fast.Load()
		if fr == nil {
			t.Fatalf("%s: no fast route on a host pair", p.name)
		}
		if r := p.s.Route(); fr.remote != r.Remote {
			t.Fatalf("%s: fast route to %v, route to %v", p.name, fr.remote, r.Remote)
		}
	}
	stunLike := []byte{0x80, 1, 2, 3, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	var batch, want [][]byte
	for i := range 100 {
		d := []byte(fmt.Sprintf("\x80batch %d", i))
		batch = append(batch, d)
		want = append(want, d)
		if i == 50 {
			batch = append(batch, stunLike)
		}
	}
	if err := a.s.SendBatch(batch); !errors.Is(err, errSTUNLike) {
		t.Fatalf("SendBatch with a STUN-looking datagram: %v", err)
	}
	for _, d := range want {
		expect(t, b, d)
	}
	exchange(t, a, b)
	a.s.Close()
	if a.s.fast.Load() != nil {
		t.Fatal("fast route kept after Close")
	}
	if err := a.s.SendBatch(want[:1]); err == nil {
		t.Fatal("SendBatch after Close succeeded")
	}
	b.s.Close()
}

// TestPollHandsBackToPion: datagrams Poll reads that are not the route's
// data reach pion's reader all the same (here a non-data datagram, which
// pion passes on to OnReceive), and data read by Poll arrives once, in
// order.
func TestPollHandsBackToPion(t *testing.T) {
	cfg := Config{Loopback: true, AddrFilter: isLoopback4}
	a, b := connectPeers(t, cfg, cfg)
	a.waitRoute(t, 5*time.Second)
	b.waitRoute(t, 5*time.Second)
	defer a.s.Close()
	defer b.s.Close()
	fr := b.s.fast.Load()
	if fr == nil || a.s.fast.Load() == nil {
		t.Fatal("no fast route on a host pair")
	}
	stop := make(chan struct{})
	polled := make(chan bool, 1)
	go func() {
		got := false
		for {
			select {
			case <-stop:
				polled <- got
				return
			default:
				got = a.s.Poll() || got
			}
		}
	}()
	for i := range 20 {
		other := []byte(fmt.Sprintf("\x41other %d", i)) // neither SNP data nor STUN
		data := []byte(fmt.Sprintf("\x80data %d", i))
		if _, err := fr.sock.WriteToAddrPort(other, fr.remote); err != nil {
			t.Fatal(err)
		}
		if err := b.s.Send(data); err != nil {
			t.Fatal(err)
		}
		// Handed-back datagrams may come after later data.
		expectAll(t, a, other, data)
	}
	close(stop)
	<-polled
	exchange(t, a, b)
}

func TestHandBackOrderAndBound(t *testing.T) {
	d := &dataSocket{}
	src := netip.MustParseAddrPort("192.0.2.1:5000")
	for i := range maxPending + 5 {
		d.handBack([]byte{byte(i)}, src)
	}
	buf := make([]byte, 16)
	for i := range maxPending {
		n, from, ok := d.takeBack(buf)
		if !ok || n != 1 || buf[0] != byte(i) || from != src {
			t.Fatalf("take %d: %v %d %x %v", i, ok, n, buf[:n], from)
		}
	}
	if _, _, ok := d.takeBack(buf); ok {
		t.Fatal("more handed back than the bound")
	}
}

// expectAll waits for all of want, in any order.
func expectAll(t *testing.T, p *peer, want ...[]byte) {
	t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[string(w)] = true
	}
	deadline := time.After(3 * time.Second)
	for len(left) > 0 {
		select {
		case got := <-p.recv:
			delete(left, string(got))
		case <-deadline:
			t.Fatalf("%s never received %v", p.name, left)
		}
	}
}
