package identity

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

func TestIPAddrStrings(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"1.2.3.4", "1.2.3.4"},
		{"1.2.3.4:27015", "1.2.3.4:27015"},
		{"1.2.3.4:0", "1.2.3.4"},
		{"001.002.003.004", "1.2.3.4"},
		{"1.2.3.4:junk", "1.2.3.4"}, // GNS reads junk after the colon as no port
		{"0.0.0.0:27015", "0.0.0.0:27015"},
		{"::1", "::1"},
		{"[::1]:27015", "[::1]:27015"},
		{"[::1]#27015", "[::1]:27015"},
		{"[::1].27015", "[::1]:27015"},
		{"[::1]p27015", "[::1]:27015"},
		{"[::1]P27015", "[::1]:27015"},
		{"[::1]port27015", "[::1]:27015"},
		{"[::1]", "::1"},
		{"::", "::"},
		{"[::]:27015", "[::]:27015"},
		{"2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    // leftmost of equal runs
		{"2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"},      // longest run
		{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, // a single zero group stays
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"[::ffff:1.2.3.4]:80", "1.2.3.4:80"},
		{"fe80::1%eth0", "fe80::1"},
	} {
		a, err := ParseIPAddr(tc.in)
		if err != nil {
			t.Errorf("ParseIPAddr(%q): %v", tc.in, err)
			continue
		}
		if got := a.String(); got != tc.out {
			t.Errorf("ParseIPAddr(%q).String() = %q, want %q", tc.in, got, tc.out)
		}
		// The output parses back to the same value.
		if b, err := ParseIPAddr(a.String()); err != nil || b != a {
			t.Errorf("%q does not round trip: %v %v", a, b, err)
		}
	}
	for _, bad := range []string{"", "localhost", "1.2.3", "1.2.3.256", "1.2.3.4:65536", "[::1", "[::1]x80", "[::1]:", "[::1]:99999", "1.2.3.4.5", "::1:99999:"} {
		if a, err := ParseIPAddr(bad); err == nil {
			t.Errorf("ParseIPAddr(%q) = %v, want an error", bad, a)
		}
	}
}

func TestIPAddrNetip(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.10:27015")
	a := IPAddrFrom(ap)
	if !a.IsIPv4() || a.AddrPort() != ap || a.Port() != 27015 {
		t.Fatalf("%v", a)
	}
	if IPAddrFrom(netip.MustParseAddrPort("[::ffff:192.0.2.10]:27015")) != a {
		t.Fatal("IPv4 and its mapped form differ")
	}
	if !IPAddrFrom(netip.MustParseAddrPort("127.0.0.1:5")).IsLocalHost() || IPAddrFrom(netip.MustParseAddrPort("127.0.0.2:5")).IsLocalHost() {
		t.Fatal("IsLocalHost")
	}
	if !(IPAddr{}).IsZero() || a.Format(false) != "192.0.2.10" {
		t.Fatal("zero / Format")
	}
}

func TestIdentityStrings(t *testing.T) {
	for _, tc := range []struct {
		in  string
		typ Type
		out string
	}{
		{"steamid:76561197960287930", TypeSteamID, ""},
		{"ip:192.0.2.10:27015", TypeIPAddress, ""},
		{"ip:[2001:db8::5]:27015", TypeIPAddress, ""},
		{"ip:::1", TypeIPAddress, ""},
		{"ip:[::1]", TypeIPAddress, "ip:::1"},
		{"str:lobby-server-7", TypeGenericString, ""},
		{"str:" + strings.Repeat("x", 31), TypeGenericString, ""},
		{"gen:0a0b0c0d", TypeGenericBytes, ""},
		{"gen:0A0B", TypeGenericBytes, "gen:0a0b"},
		{"gen:" + strings.Repeat("ff", 32), TypeGenericBytes, ""},
		{"xboxpwid:abc", TypeXboxPairwiseID, ""},
		{"psn:1234", TypeSonyPSN, ""},
		{"foo:bar", TypeUnknown, ""},
		{"a_1:", TypeUnknown, ""},
		{strings.Repeat("a", 16) + ":x", TypeUnknown, ""},
	} {
		id, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		want := tc.out
		if want == "" {
			want = tc.in
		}
		if id.Type() != tc.typ || id.String() != want {
			t.Errorf("Parse(%q) = %v %q, want %v %q", tc.in, id.Type(), id, tc.typ, want)
		}
		if again, err := Parse(id.String()); err != nil || again != id {
			t.Errorf("%q does not round trip: %v", id, err)
		}
	}
	for _, bad := range []string{
		"", "invalid", "steamid:0", "steamid:abc", "steamid:-1", "ip:localhost", "str:",
		"str:" + strings.Repeat("x", 32), "gen:", "gen:a", "gen:abc", "gen:zz", "gen:" + strings.Repeat("ff", 33),
		"xboxpwid:", "psn:x", "Foo:bar", "foo", ":x", strings.Repeat("a", 17) + ":x", "foo:" + strings.Repeat("x", 124),
	} {
		if id, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, id)
		}
	}
	if (Identity{}).String() != "invalid" || (Identity{}).IsValid() {
		t.Fatal("zero identity")
	}
	if LocalHost().String() != "ip:::1" || !LocalHost().IsLocalHost() {
		t.Fatal("LocalHost")
	}
}

func TestValidSteamID(t *testing.T) {
	for _, tc := range []struct {
		id       uint64
		valid    bool
		identity bool
	}{
		{76561197960287930, true, true},    // individual, public universe
		{0, false, false},                  // all zero
		{0x0110000100000000, false, false}, // individual, account 0
		{0x0110000200000001, false, false}, // individual, instance 2
		{0x0130000000000005, true, true},   // game server
		{0x0140000000000005, true, true},   // anonymous game server
		{0x0170000000000005, true, false},  // clan: valid SteamID, not an identity
		{0x0510000100000001, false, false}, // universe 5
		{0x01b0000100000001, false, false}, // account type 11
	} {
		if got := ValidSteamID(tc.id); got != tc.valid {
			t.Errorf("ValidSteamID(%#x) = %v", tc.id, got)
		}
		if _, err := FromLegacySteamID(tc.id); (err == nil) != tc.identity {
			t.Errorf("FromLegacySteamID(%#x): %v", tc.id, err)
		}
	}
}

func TestLegacyBinary(t *testing.T) {
	steam, _ := FromSteamID(76561197960287930)
	str, _ := FromGenericString("lobby")
	gen, _ := FromGenericBytes([]byte{1, 2, 3})
	ip := FromIPAddr(IPAddrFrom(netip.MustParseAddrPort("192.0.2.10:27015")))
	psn, _ := Parse("psn:5")
	for _, id := range []Identity{steam, str, gen, ip, LocalHost()} {
		m := id.LegacyBinary()
		got, err := FromLegacyBinary(m)
		if err != nil || got != id {
			t.Errorf("%v: legacy round trip gave %v, %v", id, got, err)
		}
	}
	// Port is big-endian after the IPv4-mapped address.
	want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10, 0x69, 0x87}
	if got := ip.LegacyBinary().Ipv6AndPort; !bytes.Equal(got, want) {
		t.Fatalf("ipv6_and_port %x, want %x", got, want)
	}
	// Types without a legacy form write an empty message.
	if b, _ := proto.Marshal(psn.LegacyBinary()); len(b) != 0 {
		t.Fatalf("psn legacy %x", b)
	}
	for _, bad := range []*pb.IdentityLegacyBinary{
		nil, {}, {Ipv6AndPort: make([]byte, 17)}, {SteamId: proto.Uint64(0)}, {GenericString: proto.String("")},
		{GenericBytes: make([]byte, 33)},
	} {
		if id, err := FromLegacyBinary(bad); err == nil {
			t.Errorf("FromLegacyBinary(%v) = %v", bad, id)
		}
	}
	// steam_id wins over other fields.
	both := &pb.IdentityLegacyBinary{SteamId: proto.Uint64(76561197960287930), GenericString: proto.String("x")}
	if id, _ := FromLegacyBinary(both); id != steam {
		t.Fatalf("precedence: %v", id)
	}
}

func TestFields(t *testing.T) {
	steam, _ := FromSteamID(76561197960287930)
	s, legacy, sid, err := steam.Fields()
	if err != nil || s != "steamid:76561197960287930" || legacy.GetSteamId() != 76561197960287930 || sid == nil || *sid != 76561197960287930 {
		t.Fatalf("%q %v %v %v", s, legacy, sid, err)
	}
	if _, _, _, err := (Identity{}).Fields(); err == nil {
		t.Fatal("invalid identity written")
	}
	// identity_string wins, then legacy binary, then the legacy SteamID.
	str, _ := FromGenericString("x")
	if id, err := FromFields(proto.String("str:x"), steam.LegacyBinary(), sid); err != nil || id != str {
		t.Fatalf("%v %v", id, err)
	}
	if id, err := FromFields(nil, steam.LegacyBinary(), nil); err != nil || id != steam {
		t.Fatalf("%v %v", id, err)
	}
	if id, err := FromFields(nil, nil, sid); err != nil || id != steam {
		t.Fatalf("%v %v", id, err)
	}
	if id, err := FromFields(nil, nil, nil); err != nil || id.IsValid() {
		t.Fatalf("%v %v", id, err)
	}
	if _, err := FromFields(proto.String("bogus"), nil, nil); err == nil {
		t.Fatal("bad identity_string accepted")
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{"steamid:76561197960287930", "ip:[::1]:27015", "ip:1.2.3.4:5", "str:x", "gen:0a", "foo:bar", "psn:1", "xboxpwid:q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		out := id.String()
		again, err := Parse(out)
		if err != nil || again != id {
			t.Fatalf("%q -> %q does not parse back: %v", s, out, err)
		}
		if m := id.LegacyBinary(); m != nil && proto.Size(m) > 0 {
			back, err := FromLegacyBinary(m)
			if err != nil && id.Type() != TypeSteamID {
				t.Fatalf("%v: legacy form does not parse: %v", id, err)
			}
			if err == nil && back != id {
				t.Fatalf("%v: legacy round trip gave %v", id, back)
			}
		}
	})
}

func FuzzParseIPAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4:80", "[::1]:80", "::", "[fe80::1%eth0]port9", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseIPAddr(s)
		if err != nil {
			return
		}
		b, err := ParseIPAddr(a.String())
		if err != nil || b != a {
			t.Fatalf("%q -> %q -> %v %v", s, a.String(), b, err)
		}
	})
}

func FuzzLegacyBinary(f *testing.F) {
	for _, id := range []string{"steamid:76561197960287930", "ip:1.2.3.4:5", "str:x", "gen:0a"} {
		i, _ := Parse(id)
		b, _ := proto.Marshal(i.LegacyBinary())
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.IdentityLegacyBinary
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		id, err := FromLegacyBinary(&m)
		if err != nil {
			return
		}
		if again, err := Parse(id.String()); err != nil || again != id {
			t.Fatalf("%v does not survive its text form: %v", id, err)
		}
	})
}
