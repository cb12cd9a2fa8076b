package ice

import (
	"net/netip"
	"strings"
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
		if r.Kind != RouteLocal || !r.Remote.Addr().IsLoopback() || r.RemoteType != TypeHost {
			t.Fatalf("route %+v, want a local route to a loopback host candidate", r)
		}
	}
	if ra.Remote != rb.Local && ra.Local != rb.Remote {
		t.Fatalf("sides disagree on the pair: %+v vs %+v", ra, rb)
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
