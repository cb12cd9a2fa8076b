package ice

import (
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func isLoopback4(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }

// TestLoopbackSockets connects two sessions over real UDP sockets on
// 127.0.0.1, with host candidates only and no server contacted.
func TestLoopbackSockets(t *testing.T) {
	cfg := Config{Loopback: true, AddrFilter: isLoopback4}
	a, b := connectPeers(t, cfg, cfg)
	ra := a.waitRoute(t, 5*time.Second)
	rb := b.waitRoute(t, 5*time.Second)
	for _, r := range []Route{ra, rb} {
		// A check can arrive before the candidate line, making the remote
		// peer-reflexive at first; GNS classifies both kinds the same way.
		if r.Kind != RouteLocal || !r.Remote.Addr().IsLoopback() || (r.RemoteType != TypeHost && r.RemoteType != TypePeerReflexive) {
			t.Fatalf("route %+v, want a local route to a loopback host candidate", r)
		}
	}
	if ra.Remote != rb.Local && ra.Local != rb.Remote {
		t.Fatalf("sides disagree on the pair: %+v vs %+v", ra, rb)
	}
	exchange(t, a, b)
	// A datagram pion would take for STUN (magic cookie in bytes 4-7) is
	// refused with an error, never sent; the path keeps working.
	if err := a.s.Send([]byte{0x80, 1, 2, 3, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Fatal("a STUN-looking datagram was sent")
	}
	exchange(t, a, b)
	// Candidates were signalled in GNS's exact form.
	for _, line := range append(a.box.sent(), b.box.sent()...) {
		c, err := ParseCandidate(line)
		if err != nil || c.Component != 0 || c.Type != TypeHost || !strings.HasSuffix(line, " typ host") {
			t.Fatalf("signalled %q (%v)", line, err)
		}
	}
}

// TestCloseReleasesGoroutines: a connected pair of sessions leaves no
// goroutine behind once both are closed.
func TestCloseReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		cfg := Config{Loopback: true, AddrFilter: isLoopback4}
		a, b := connectPeers(t, cfg, cfg)
		a.waitRoute(t, 5*time.Second)
		b.waitRoute(t, 5*time.Second)
		exchange(t, a, b)
		a.s.Close()
		b.s.Close()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkLoopbackPath measures a datagram's trip through Session.Send and
// OnReceive on loopback, next to the same trip over plain UDP sockets.
func BenchmarkLoopbackPath(b *testing.B) {
	payload := make([]byte, 1200)
	payload[0] = 0x80
	b.Run("ice", func(b *testing.B) {
		cfg := Config{Loopback: true, AddrFilter: isLoopback4}
		got := make(chan struct{}, 1024)
		cfgB := cfg
		cfgB.OnReceive = func([]byte) { got <- struct{}{} }
		x, y := connectPeersB(b, cfg, cfgB)
		b.SetBytes(int64(len(payload)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := x.Send(payload); err != nil {
				b.Fatal(err)
			}
			<-got
		}
		b.StopTimer()
		x.Close()
		y.Close()
	})
	b.Run("udp", func(b *testing.B) {
		c1, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c1.Close()
		c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c2.Close()
		got := make(chan struct{}, 1024)
		go func() {
			buf := make([]byte, 65536)
			for {
				if _, err := c2.Read(buf); err != nil {
					return
				}
				got <- struct{}{}
			}
		}()
		to := c2.LocalAddr()
		b.SetBytes(int64(len(payload)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c1.WriteTo(payload, to); err != nil {
				b.Fatal(err)
			}
			<-got
		}
	})
}

// connectPeersB connects two sessions for a benchmark (no *testing.T).
func connectPeersB(b *testing.B, cfgA, cfgB Config) (*Session, *Session) {
	routes := make(chan Route, 4)
	var mu sync.Mutex
	var sa, sb *Session
	var toA, toB []string
	cfgA.Controlling, cfgA.LocalConnectionID = true, 1
	cfgB.Controlling, cfgB.LocalConnectionID = false, 2
	cfgA.OnRoute = func(r Route) { routes <- r }
	cfgB.OnRoute = func(r Route) { routes <- r }
	cfgA.OnCandidate = func(l string) {
		mu.Lock()
		defer mu.Unlock()
		if sb == nil {
			toB = append(toB, l)
			return
		}
		sb.AddRemoteCandidate(l)
	}
	cfgB.OnCandidate = func(l string) {
		mu.Lock()
		defer mu.Unlock()
		if sa == nil {
			toA = append(toA, l)
			return
		}
		sa.AddRemoteCandidate(l)
	}
	x, err := NewSession(cfgA)
	if err != nil {
		b.Fatal(err)
	}
	y, err := NewSession(cfgB)
	if err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	sa, sb = x, y
	for _, l := range toA {
		x.AddRemoteCandidate(l)
	}
	for _, l := range toB {
		y.AddRemoteCandidate(l)
	}
	mu.Unlock()
	x.SetRemoteCredentials(2, y.LocalPassword())
	y.SetRemoteCredentials(1, x.LocalPassword())
	for i := 0; i < 2; i++ {
		select {
		case <-routes:
		case <-time.After(5 * time.Second):
			b.Fatal("no route")
		}
	}
	return x, y
}
