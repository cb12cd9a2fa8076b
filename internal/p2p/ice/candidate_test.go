package ice

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Lines in the forms GNS sends (native client: component 0, no extensions)
// and accepts (WebRTC-style extensions, runs of spaces).
var validCandidateLines = []string{
	"candidate:1979711569 0 udp 2130706431 127.0.1.2 51234 typ host",
	"candidate:3336830981 0 udp 1694498815 127.0.100.2 40002 typ srflx",
	"candidate:2130731001 0 udp 16777215 127.0.100.1 49152 typ relay",
	"candidate:7 0 udp 1862270975 192.168.1.5 9 typ prflx",
	"candidate:2442523459 0 udp 2122262784 2602:801:f001:1034:5078:221c:76b:a3d6 63368 typ host generation 0 ufrag WLM82 network-id 2",
	"candidate:1 1 UDP 2122252543 10.0.0.7 5000 typ srflx raddr 192.168.0.2 rport 5000",
	"candidate:f  0   udp  1  1.2.3.4   80 typ    host",
}

func TestParseCandidateGNSForm(t *testing.T) {
	c, err := ParseCandidate("candidate:3336830981 0 udp 1694498815 127.0.100.2 40002 typ srflx")
	if err != nil {
		t.Fatal(err)
	}
	want := Candidate{
		Foundation: "3336830981",
		Component:  0,
		Transport:  "udp",
		Priority:   1694498815,
		Addr:       netip.MustParseAddrPort("127.0.100.2:40002"),
		Type:       TypeServerReflexive,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	// Formatting gives back exactly GNS's form.
	if got := c.String(); got != "candidate:3336830981 0 udp 1694498815 127.0.100.2 40002 typ srflx" {
		t.Fatalf("String() = %q", got)
	}
}

func TestParseCandidateExtensionsAndIPv6(t *testing.T) {
	c, err := ParseCandidate(validCandidateLines[4])
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != netip.MustParseAddrPort("[2602:801:f001:1034:5078:221c:76b:a3d6]:63368") || c.Type != TypeHost {
		t.Fatalf("address/type: %+v", c)
	}
	want := []Extension{{"generation", "0"}, {"ufrag", "WLM82"}, {"network-id", "2"}}
	if !reflect.DeepEqual(c.Extensions, want) {
		t.Fatalf("extensions %+v", c.Extensions)
	}
	// IPv6 is written without brackets, as GNS does.
	if s := c.String(); !strings.Contains(s, " 2602:801:f001:1034:5078:221c:76b:a3d6 63368 ") {
		t.Fatalf("String() = %q", s)
	}
}

func TestParseCandidateRejects(t *testing.T) {
	cases := []struct {
		line string
		want error
	}{
		{"1 0 udp 1 1.2.3.4 5 typ host", ErrCandidateSyntax},                                          // no prefix
		{"a=candidate:1 0 udp 1 1.2.3.4 5 typ host", ErrCandidateSyntax},                              // SDP attribute form
		{"candidate: 1 0 udp 1 1.2.3.4 5 typ host", ErrCandidateSyntax},                               // empty foundation
		{"candidate:1 0 udp 1 1.2.3.4 5 typ", ErrCandidateSyntax},                                     // no type
		{"candidate:1 0 udp 1 1.2.3.4 5 typ host ", ErrCandidateSyntax},                               // trailing space
		{"candidate:1 0 udp 1 1.2.3.4 5 typ host raddr", ErrCandidateSyntax},                          // odd extension
		{"candidate:1 0 udp 1 host.example 5 typ host", ErrCandidateSyntax},                           // hostname
		{"candidate:1 0 udp 1 a1b2c3.local 5 typ host", ErrCandidateSyntax},                           // mDNS name
		{"candidate:1 0 udp 1 fe80::1%eth0 5 typ host", ErrCandidateSyntax},                           // zone
		{"candidate:1 0 udp 1 1.2.3.4 0 typ host", ErrCandidateSyntax},                                // port 0
		{"candidate:1 0 udp 1 1.2.3.4 65536 typ host", ErrCandidateSyntax},                            // port range
		{"candidate:1 0 udp 4294967296 1.2.3.4 5 typ host", ErrCandidateSyntax},                       // priority range
		{"candidate:1 x udp 1 1.2.3.4 5 typ host", ErrCandidateSyntax},                                // component
		{"candidate:1 0 udp 1 1.2.3.4 5 type host", ErrCandidateSyntax},                               // not "typ"
		{"candidate:1 0 udp 1 1.2.3.4 5 typ host\x00 x", ErrCandidateSyntax},                          // NUL
		{"candidate:1 0 udp 1 1.2.3.4 5 typ host\r", ErrCandidateSyntax},                              // CR
		{"candidate:1 0 udp 1 1.2.3.4 5 typ nat", ErrUnknownType},                                     // unknown type
		{"candidate:1 1 tcp 1 1.2.3.4 5 typ host tcptype passive", ErrNotUDP},                         // TCP
		{"candidate:1 0 udp 1 1.2.3.4 5 typ host" + strings.Repeat(" a b", 2048), ErrCandidateSyntax}, // > 8 KiB
	}
	for _, tc := range cases {
		if _, err := ParseCandidate(tc.line); !errors.Is(err, tc.want) {
			t.Errorf("ParseCandidate(%.60q) = %v, want %v", tc.line, err, tc.want)
		}
	}
}

func TestParseCandidateValidLines(t *testing.T) {
	for _, line := range validCandidateLines {
		c, err := ParseCandidate(line)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		again, err := ParseCandidate(c.String())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Errorf("%q: round trip gave %+v, %v", line, again, err)
		}
	}
}

func FuzzParseCandidate(f *testing.F) {
	for _, line := range validCandidateLines {
		f.Add(line)
	}
	f.Add("candidate:1 0 udp 1 ::ffff:1.2.3.4 5 typ host")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCandidate(line)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to a line that parses to the same value.
		out := c.String()
		again, err := ParseCandidate(out)
		if err != nil {
			t.Fatalf("re-encoded %q -> %q fails: %v", line, out, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip %q -> %q: %+v != %+v", line, out, again, c)
		}
		// Every parsed candidate converts to a pion one.
		if _, err := toPion(c); err != nil {
			t.Fatalf("%q parses but pion refuses it: %v", line, err)
		}
	})
}
