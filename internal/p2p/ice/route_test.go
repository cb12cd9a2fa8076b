package ice

import (
	"net/netip"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("192.168.0.0/24"), netip.MustParsePrefix("127.0.0.0/8")}
	ip := netip.MustParseAddr
	cases := []struct {
		local, remote CandidateType
		addr          string
		want          RouteKind
	}{
		{TypeHost, TypeHost, "192.168.0.7", RouteLocal},
		{TypeHost, TypePeerReflexive, "192.168.0.7", RouteLocal},
		{TypeHost, TypeServerReflexive, "192.168.0.7", RouteUDP}, // a NAT's public side is not the LAN
		{TypeHost, TypeHost, "192.168.1.7", RouteUDP},            // other subnet
		{TypeHost, TypeServerReflexive, "28.1.1.1", RouteUDP},
		{TypeRelay, TypeHost, "192.168.0.7", RouteRelay},
		{TypeHost, TypeRelay, "1.2.3.4", RouteRelay},
		{TypeHost, TypeHost, "127.0.0.1", RouteLocal},
	}
	for _, c := range cases {
		if got := kindOf(c.local, c.remote, ip(c.addr), lan); got != c.want {
			t.Errorf("kindOf(%v, %v, %s) = %v, want %v", c.local, c.remote, c.addr, got, c.want)
		}
	}
	for k, s := range map[RouteKind]string{RouteLocal: "local", RouteUDP: "udp", RouteRelay: "relay", RouteNone: "none"} {
		if k.String() != s {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

func TestHostAddressClasses(t *testing.T) {
	for a, private := range map[string]bool{
		"10.1.2.3": true, "172.16.0.1": true, "192.168.9.9": true, "169.254.1.1": true,
		"8.8.8.8": false, "100.64.0.1": false, "fd7f::1": false, "2001:db8::1": false,
	} {
		if isPrivateHost(netip.MustParseAddr(a)) != private {
			t.Errorf("isPrivateHost(%s) != %v", a, private)
		}
	}
}

func TestSessionScoreUsesPenalty(t *testing.T) {
	p := newPeer(t, "p", Config{Loopback: true, AddrFilter: isLoopback4, Penalty: 500}, 11)
	// No route yet: the score is the Internet one plus the penalty.
	if got := p.s.Score(20*time.Millisecond, 20*time.Millisecond); got != 20+2+10+500 {
		t.Fatalf("score %d", got)
	}
}

func TestInfoRemoteHidesRelay(t *testing.T) {
	a := netip.MustParseAddrPort("1.2.3.4:5000")
	if (Route{Kind: RouteRelay, Remote: a}).InfoRemote().IsValid() {
		t.Fatal("relay route shows its remote address")
	}
	if (Route{Kind: RouteUDP, Remote: a}).InfoRemote() != a {
		t.Fatal("direct route hides its remote address")
	}
}

func TestCheckImplementation(t *testing.T) {
	for v, want := range map[int32]int{0: 0, 1: 0, 2: 3999, 3: 5001, -1: 5001} {
		code, err := CheckImplementation(v)
		if code != want || (want == 0) != (err == nil) {
			t.Errorf("CheckImplementation(%d) = %d, %v; want %d", v, code, err, want)
		}
	}
}
