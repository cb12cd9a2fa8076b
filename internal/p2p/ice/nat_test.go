package ice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/natsim"
)

// The routes GNS's test_p2p.py expects per NAT setup, reproduced on an
// in-process network. Every side is given the STUN server and, unless the
// case says otherwise, the TURN server, as GNS's test does.

type natCase struct {
	name             string
	acceptor, client natsim.NAT
	sameLAN          bool
	noTURN           bool
	want             RouteKind
}

// world builds the network for c and returns the acceptor's and the
// initiator's configs.
func world(t *testing.T, c natCase) (*natsim.World, Config, Config) {
	t.Helper()
	w, err := natsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	siteA, err := w.AddSite(c.acceptor)
	if err != nil {
		t.Fatal(err)
	}
	siteB := siteA
	if !c.sameLAN {
		if siteB, err = w.AddSite(c.client); err != nil {
			t.Fatal(err)
		}
	}
	netA, _, err := siteA.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	netB, _, err := siteB.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	base := Config{STUNServers: []string{natsim.ServerAddr}}
	if !c.noTURN {
		base.TURNServers = []TURNServer{{Addr: natsim.ServerAddr, Username: natsim.TURNUser, Password: natsim.TURNPassword}}
	}
	a, b := base, base
	a.Net, b.Net = netA, netB
	return w, a, b
}

func TestNATRoutes(t *testing.T) {
	cases := []natCase{
		{name: "same LAN behind one gateway", acceptor: natsim.FullCone, sameLAN: true, want: RouteLocal},
		{name: "both public", acceptor: natsim.Public, client: natsim.Public, want: RouteUDP},
		{name: "full-cone", acceptor: natsim.FullCone, client: natsim.FullCone, want: RouteUDP},
		{name: "restricted-cone", acceptor: natsim.RestrictedCone, client: natsim.RestrictedCone, want: RouteUDP},
		{name: "port-restricted-cone", acceptor: natsim.PortRestrictedCone, client: natsim.PortRestrictedCone, want: RouteUDP},
		{name: "public vs full-cone", acceptor: natsim.Public, client: natsim.FullCone, want: RouteUDP},
		{name: "full-cone vs symmetric", acceptor: natsim.FullCone, client: natsim.Symmetric, want: RouteUDP},
		{name: "symmetric", acceptor: natsim.Symmetric, client: natsim.Symmetric, want: RouteRelay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cfgA, cfgB := world(t, c)
			// On a loaded machine a direct pair can succeed only after the
			// relay was chosen; the route is then upgraded, as in GNS, and
			// the test looks at the route once settled, as GNS's does.
			cfgA.Timing.Upgrade, cfgA.Timing.KeepaliveInterval = 500*time.Millisecond, 250*time.Millisecond
			a, b := connectPeers(t, cfgA, cfgB)
			ra := a.waitKind(t, c.want, 10*time.Second)
			rb := b.waitKind(t, c.want, 10*time.Second)
			if ra.Kind != c.want || rb.Kind != c.want {
				t.Fatalf("routes acceptor %+v, initiator %+v; want %v on both", ra, rb, c.want)
			}
			exchange(t, a, b)
			// Every signalled line is in GNS's form and parses back.
			for _, line := range append(a.box.sent(), b.box.sent()...) {
				if cand, err := ParseCandidate(line); err != nil || cand.Component != 0 || len(cand.Extensions) != 0 {
					t.Fatalf("signalled %q: %v", line, err)
				}
			}
			if errs := append(a.box.errs, b.box.errs...); len(errs) > 0 {
				t.Fatalf("remote candidates refused: %v", errs)
			}
		})
	}
}

// TestSymmetricWithoutTURN: behind symmetric NATs with no relay, both
// sides fail with an error that says why, as GNS's expected-failure case.
func TestSymmetricWithoutTURN(t *testing.T) {
	_, cfgA, cfgB := world(t, natCase{acceptor: natsim.Symmetric, client: natsim.Symmetric, noTURN: true})
	cfgA.RouteTimeout, cfgB.RouteTimeout = 3*time.Second, 3*time.Second
	a, b := connectPeers(t, cfgA, cfgB)
	for _, p := range []*peer{a, b} {
		select {
		case r := <-p.routes:
			t.Fatalf("%s found a route %+v through two symmetric NATs", p.name, r)
		case err := <-p.failed:
			var nr *NoRouteError
			if !errors.As(err, &nr) || nr.EndReason() != 5008 || nr.Cause != EndNATFirewall {
				t.Fatalf("%s: %v, want a NoRouteError with end reason 5008, cause 5009", p.name, err)
			}
			if !strings.Contains(err.Error(), "TURN") {
				t.Fatalf("%s: error does not point at the missing relay: %v", p.name, err)
			}
		case <-time.After(8 * time.Second):
			t.Fatalf("%s neither connected nor failed", p.name)
		}
		if err := p.s.Send([]byte{0x80}); !errors.Is(err, ErrNoRoute) && !errors.Is(err, ErrClosed) {
			t.Fatalf("%s: Send after failure: %v", p.name, err)
		}
	}
	// Both sides had srflx candidates: the failure is the NAT, not STUN.
	for _, p := range []*peer{a, b} {
		if !strings.Contains(strings.Join(p.box.sent(), "\n"), "typ srflx") {
			t.Fatalf("%s signalled no srflx candidate: %q", p.name, p.box.sent())
		}
	}
}

// TestRelayOnly: with P2P_Transport_ICE_Enable = relay only, each side
// signals relay candidates alone and no datagram ever travels between the
// two sites directly, so neither learns the other's address.
func TestRelayOnly(t *testing.T) {
	w, cfgA, cfgB := world(t, natCase{acceptor: natsim.FullCone, client: natsim.FullCone})
	cfgA.Enable, cfgB.Enable = EnableRelay, EnableRelay
	a, b := connectPeers(t, cfgA, cfgB)
	ra, rb := a.waitRoute(t, 8*time.Second), b.waitRoute(t, 8*time.Second)
	if ra.Kind != RouteRelay || rb.Kind != RouteRelay {
		t.Fatalf("routes %+v / %+v, want relay", ra, rb)
	}
	if ra.Remote.Addr().String() != natsim.ServerIP || rb.Remote.Addr().String() != natsim.ServerIP {
		t.Fatalf("remote addresses %v / %v, want the relay's %s", ra.Remote, rb.Remote, natsim.ServerIP)
	}
	exchange(t, a, b)
	for _, line := range append(a.box.sent(), b.box.sent()...) {
		if !strings.HasSuffix(line, " typ relay") {
			t.Fatalf("relay-only side signalled %q", line)
		}
	}
	if n := w.DirectDatagrams(); n != 0 {
		t.Fatalf("%d datagrams went directly between the sites", n)
	}
}

// TestRelayUpgradedToDirect: while the direct path is blocked the route
// goes through the relay; once it opens, the controlling side moves the
// route to the direct pair and both sides report the change.
func TestRelayUpgradedToDirect(t *testing.T) {
	w, cfgA, cfgB := world(t, natCase{acceptor: natsim.FullCone, client: natsim.FullCone})
	timing := Timing{
		CheckInterval:     50 * time.Millisecond, // GNS's ICE tick
		KeepaliveInterval: 100 * time.Millisecond,
		RelayWait:         time.Millisecond,
		Upgrade:           300 * time.Millisecond,
	}
	cfgA.Timing, cfgB.Timing = timing, timing
	w.BlockDirect(true)
	a, b := connectPeers(t, cfgA, cfgB)
	ra, rb := a.waitRoute(t, 8*time.Second), b.waitRoute(t, 8*time.Second)
	if ra.Kind != RouteRelay || rb.Kind != RouteRelay {
		t.Fatalf("first routes %+v / %+v, want relay while direct is blocked", ra, rb)
	}
	exchange(t, a, b)
	w.BlockDirect(false)
	for _, p := range []*peer{a, b} {
		deadline := time.After(8 * time.Second)
		for done := false; !done; {
			select {
			case r := <-p.routes:
				if r.Kind == RouteUDP {
					done = true
				}
			case <-deadline:
				t.Fatalf("%s: route never upgraded (now %+v)", p.name, p.s.Route())
			}
		}
	}
	if a.s.Route().Kind != RouteUDP || b.s.Route().Kind != RouteUDP {
		t.Fatalf("routes after upgrade %+v / %+v", a.s.Route(), b.s.Route())
	}
	exchange(t, a, b)
}

// TestEnableKinds reproduces GNS's P2P_Transport_ICE_Enable cases: the
// route, and which candidate types each side signals.
func TestEnableKinds(t *testing.T) {
	cases := []struct {
		name   string
		c      natCase
		enable Enable
		want   RouteKind
		types  map[string]bool // candidate types that may be signalled
	}{
		{"6 (no relay), full-cone", natCase{acceptor: natsim.FullCone, client: natsim.FullCone}, EnablePrivate | EnablePublic, RouteUDP,
			map[string]bool{"host": true, "srflx": true}},
		{"3 (no public), same LAN", natCase{acceptor: natsim.FullCone, sameLAN: true}, EnablePrivate | EnableRelay, RouteLocal,
			map[string]bool{"host": true, "relay": true}},
		{"3 (no public), symmetric", natCase{acceptor: natsim.Symmetric, client: natsim.Symmetric}, EnablePrivate | EnableRelay, RouteRelay,
			map[string]bool{"host": true, "relay": true}},
		{"5 (no private host), full-cone", natCase{acceptor: natsim.FullCone, client: natsim.FullCone}, EnablePublic | EnableRelay, RouteUDP,
			map[string]bool{"srflx": true, "relay": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, cfgA, cfgB := world(t, c.c)
			cfgA.Enable, cfgB.Enable = c.enable, c.enable
			cfgA.Timing.Upgrade, cfgA.Timing.KeepaliveInterval = 500*time.Millisecond, 250*time.Millisecond
			a, b := connectPeers(t, cfgA, cfgB)
			a.waitKind(t, c.want, 10*time.Second)
			b.waitKind(t, c.want, 10*time.Second)
			exchange(t, a, b)
			for _, p := range []*peer{a, b} {
				// Gathering goes on after a route is found (a relay
				// allocation can finish after a local pair succeeds), so
				// wait for every expected type before judging.
				var seen map[string]bool
				for deadline := time.Now().Add(10 * time.Second); ; {
					seen = map[string]bool{}
					for _, line := range p.box.sent() {
						typ := line[strings.LastIndex(line, " ")+1:]
						if !c.types[typ] {
							t.Fatalf("%s signalled %q", p.name, line)
						}
						seen[typ] = true
					}
					if len(seen) == len(c.types) || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if len(seen) != len(c.types) {
					t.Fatalf("%s signalled types %v, want %v", p.name, seen, c.types)
				}
			}
		})
	}
}

// TestLateTrickle: the passwords arrive first and the candidate lines only
// later, each twice (signalling may duplicate), as trickled reliable
// messages can; the sessions still connect, over a full-cone NAT pair.
func TestLateTrickle(t *testing.T) {
	_, cfgA, cfgB := world(t, natCase{acceptor: natsim.FullCone, client: natsim.FullCone})
	cfgA.Controlling, cfgB.Controlling = true, false
	a := newPeer(t, "acceptor", cfgA, 0x0a11ce01)
	b := newPeer(t, "initiator", cfgB, 0x0b0b0b02)
	if err := b.s.SetRemoteCredentials(a.connID, a.s.LocalPassword()); err != nil {
		t.Fatal(err)
	}
	if err := a.s.SetRemoteCredentials(b.connID, b.s.LocalPassword()); err != nil {
		t.Fatal(err)
	}
	// Repeating the same credentials is harmless; different ones are refused.
	if err := a.s.SetRemoteCredentials(b.connID, b.s.LocalPassword()); err != nil {
		t.Fatalf("repeated credentials: %v", err)
	}
	if err := a.s.SetRemoteCredentials(b.connID+1, "other"); err == nil {
		t.Fatal("changed credentials accepted")
	}
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 2; i++ {
		for _, line := range a.box.sent() {
			if err := b.s.AddRemoteCandidate(line); err != nil {
				t.Fatal(err)
			}
		}
		for _, line := range b.box.sent() {
			if err := a.s.AddRemoteCandidate(line); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.waitKind(t, RouteUDP, 10*time.Second)
	b.waitKind(t, RouteUDP, 10*time.Second)
	exchange(t, a, b)
}
