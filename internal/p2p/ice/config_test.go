package ice

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestUfragForConnectionID(t *testing.T) {
	// Vectors from GNS's Base64EncodeLower30Bits.
	for id, want := range map[uint32]string{
		0x12345678: "SNFZ4",
		0xdeadbeef: "erb7v",
		1:          "AAAAB",
		0:          "AAAAA",
		0xc0000000: "AAAAA", // top two bits ignored
		0x3fffffff: "/////",
	} {
		if got := UfragForConnectionID(id); got != want {
			t.Errorf("UfragForConnectionID(%#x) = %q, want %q", id, got, want)
		}
	}
}

func TestPasswordMeetsPion(t *testing.T) {
	a, err := newPassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newPassword()
	if len(a) < 22 || a == b || strings.Trim(a, base64Chars) != "" {
		t.Fatalf("passwords %q %q", a, b)
	}
}

func TestConnectionIDSafe(t *testing.T) {
	if ConnectionIDSafe(0x21000001) || !ConnectionIDSafe(0x22000001) || !ConnectionIDSafe(0x00000021) {
		t.Fatal("ConnectionIDSafe must reject exactly a top byte of 0x21")
	}
}

func TestEnableFromConfig(t *testing.T) {
	if e, err := EnableFromConfig(-1); e != EnableAll || err != nil {
		t.Fatalf("-1: %v %v", e, err)
	}
	if _, err := EnableFromConfig(0); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("0: %v", err)
	}
	if e, _ := EnableFromConfig(1); e != EnableRelay {
		t.Fatalf("1: %v", e)
	}
}

func TestParseSTUNServers(t *testing.T) {
	got, err := ParseSTUNServers("127.0.100.1:3478,,stun:[fd7f:0:100::1]:3478,STUN:stun.example.org:19302")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.100.1:3478", "[fd7f:0:100::1]:3478", "stun.example.org:19302"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	for _, bad := range []string{"127.0.0.1", "host:0", "host:x", ":3478", " host:1", "turn:h:1?transport=udp"} {
		if _, err := ParseSTUNServers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := ParseSTUNServers(""); got != nil || err != nil {
		t.Fatalf("empty list: %v %v", got, err)
	}
}

func TestParseTURNServers(t *testing.T) {
	got, err := ParseTURNServers("turn:10.0.0.1:3478,,10.0.0.2:3479", "u1,,u3", "p1,,p3")
	if err != nil {
		t.Fatal(err)
	}
	want := []TURNServer{{"10.0.0.1:3478", "u1", "p1"}, {"10.0.0.2:3479", "u3", "p3"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	// A credential list of another length makes every server unauthenticated.
	got, err = ParseTURNServers("10.0.0.1:3478,10.0.0.2:3479", "u1", "p1,p2")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Username != "" || got[1].Password != "" {
		t.Fatalf("mismatched lists kept credentials: %+v", got)
	}
}

func FuzzParseServerLists(f *testing.F) {
	f.Add("127.0.100.1:3478,[fd7f:0:100::1]:3478", "u", "p")
	f.Add("turn:10.0.0.1:3478,,10.0.0.2:3479", "u1,,u3", "p1,,p3")
	f.Fuzz(func(t *testing.T, servers, users, passwords string) {
		stuns, err := ParseSTUNServers(servers)
		if err == nil {
			// Parsed entries are canonical: parsing them again is the identity.
			again, err := ParseSTUNServers(strings.Join(stuns, ","))
			if err != nil || (len(stuns) > 0 && !reflect.DeepEqual(again, stuns)) {
				t.Fatalf("%q -> %q -> %q, %v", servers, stuns, again, err)
			}
			if _, err := serverURIs(stuns); err != nil {
				t.Fatalf("parsed %q but no URI: %v", stuns, err)
			}
		}
		turns, err := ParseTURNServers(servers, users, passwords)
		if err == nil && len(turns) > strings.Count(servers, ",")+1 {
			t.Fatalf("%d servers from %q", len(turns), servers)
		}
	})
}

func serverURIs(addrs []string) (int, error) {
	for _, a := range addrs {
		if _, err := serverURI(0, a); err != nil {
			return 0, err
		}
	}
	return len(addrs), nil
}

func TestRouteScore(t *testing.T) {
	local := Route{Kind: RouteLocal}
	udp := Route{Kind: RouteUDP}
	if got := local.Score(2e6, 1e6, 0); got != 2 {
		t.Errorf("fast local route: %d, want 2 (no penalties)", got)
	}
	if got := udp.Score(40e6, 35e6, 0); got != 40+4+10 {
		t.Errorf("udp route: %d, want 54", got)
	}
	if got := udp.Score(40e6, 35e6, 100); got != 154 {
		t.Errorf("penalty: %d, want 154", got)
	}
	if got := local.Score(20e6, 10e6, 0); got != 20+2+10 {
		t.Errorf("slow local route: %d, want 32", got)
	}
}
