package mist

import (
	"net/netip"
	"testing"
)

func TestIdentityStrings(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		ok      bool
	}{
		{"steamid:76561197960287930", "steamid:76561197960287930", true},
		{"steamid:0", "", false},
		{"ip:127.0.0.1:27015", "ip:127.0.0.1:27015", true},
		{"ip:::1", "ip:::1", true},
		{"ip:[::1]:27015", "ip:[::1]:27015", true},
		{"ip:::ffff:1.2.3.4", "ip:1.2.3.4", true},
		{"str:lobby-7", "str:lobby-7", true},
		{"str:", "", false},
		{"gen:0a0b", "gen:0a0b", true},
		{"gen:abc", "", false},
		{"foo:bar", "foo:bar", true},
		{"Foo:bar", "", false},
		{"invalid", "", false},
		{"", "", false},
	} {
		id, ok := ParseIdentity(tc.in)
		if ok != tc.ok || (ok && id.String() != tc.out) {
			t.Errorf("ParseIdentity(%q) = %v %v, want %q %v", tc.in, id, ok, tc.out, tc.ok)
		}
	}
	if LocalhostIdentity().String() != "ip:::1" || !LocalhostIdentity().IsLocalhost() {
		t.Error("localhost identity")
	}
	if (Identity{}).String() != "invalid" || (Identity{}).IsValid() {
		t.Error("zero identity")
	}
}

func TestIPAddrStrings(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"1.2.3.4", "1.2.3.4"},
		{"1.2.3.4:27015", "1.2.3.4:27015"},
		{"[::]:27015", "[::]:27015"},
		{"::1", "::1"},
		{"[::1]#5", "[::1]:5"},
		{"[2001:db8::5]port99", "[2001:db8::5]:99"},
		{"1.2.3.4:junk", "1.2.3.4"},
	} {
		a, ok := ParseIPAddr(tc.in)
		if !ok || FormatIPAddr(a) != tc.out {
			t.Errorf("ParseIPAddr(%q) = %v %v, want %q", tc.in, FormatIPAddr(a), ok, tc.out)
		}
	}
	if _, ok := ParseIPAddr("localhost"); ok {
		t.Error("host name parsed")
	}
	if FormatIPAddr(netip.AddrPort{}) != "::" {
		t.Error("zero address")
	}
}
