package ice

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CandidateType is the kind of an ICE candidate as written after "typ".
type CandidateType uint8

// Candidate types GNS understands. A line with any other type is dropped.
const (
	TypeHost CandidateType = iota + 1
	TypeServerReflexive
	TypePeerReflexive
	TypeRelay
)

// String returns the token used in candidate lines ("host", "srflx", ...).
func (t CandidateType) String() string {
	switch t {
	case TypeHost:
		return "host"
	case TypeServerReflexive:
		return "srflx"
	case TypePeerReflexive:
		return "prflx"
	case TypeRelay:
		return "relay"
	}
	return "unknown"
}

func parseCandidateType(s string) (CandidateType, bool) {
	switch s {
	case "host":
		return TypeHost, true
	case "srflx":
		return TypeServerReflexive, true
	case "prflx":
		return TypePeerReflexive, true
	case "relay":
		return TypeRelay, true
	}
	return 0, false
}

// MaxCandidateLen is the longest candidate line accepted. GNS refuses lines
// whose terminating NUL is not within the first 8 KiB.
const MaxCandidateLen = 8*1024 - 1

// Errors returned by ParseCandidate. A caller drops the line in every case,
// as GNS does; ErrNotUDP and ErrUnknownType mark lines that are well formed
// but unusable (TCP candidates from a WebRTC peer, future types).
var (
	ErrCandidateSyntax = errors.New("ice: malformed candidate line")
	ErrNotUDP          = errors.New("ice: candidate transport is not UDP")
	ErrUnknownType     = errors.New("ice: unknown candidate type")
)

// Extension is one "name value" pair after the type (raddr, generation, ...).
type Extension struct {
	Name, Value string
}

// Candidate is one parsed candidate line:
//
//	candidate:<foundation> <component> <transport> <priority> <ip> <port> typ <type> [<name> <value>]...
//
// GNS sends exactly "candidate:%u 0 udp %u %s %d typ %s": component 0, no
// raddr/rport, an IP literal without brackets. Peers running WebRTC's ICE
// send component 1 and extension pairs; both forms parse.
type Candidate struct {
	Foundation string
	Component  uint16
	Transport  string // as received; FormatCandidate writes "udp"
	Priority   uint32
	Addr       netip.AddrPort
	Type       CandidateType
	Extensions []Extension
}

// String formats c as a candidate line (see FormatCandidate).
func (c Candidate) String() string { return string(AppendCandidate(nil, c)) }

// AppendCandidate appends c as a candidate line in GNS's form. Extensions
// are written after the type (GNS itself never sends any).
func AppendCandidate(b []byte, c Candidate) []byte {
	b = append(b, "candidate:"...)
	b = append(b, c.Foundation...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Component), 10)
	b = append(b, ' ')
	if c.Transport == "" {
		b = append(b, "udp"...)
	} else {
		b = append(b, c.Transport...)
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Priority), 10)
	b = append(b, ' ')
	b = c.Addr.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Addr.Port()), 10)
	b = append(b, " typ "...)
	b = append(b, c.Type.String()...)
	for _, e := range c.Extensions {
		b = append(b, ' ')
		b = append(b, e.Name...)
		b = append(b, ' ')
		b = append(b, e.Value...)
	}
	return b
}

// ParseCandidate parses a candidate line as GNS's receiver does: the
// "candidate:" prefix is required, tokens are separated by runs of spaces,
// the address must be an IP literal (no hostnames, no mDNS names), the
// extensions after the type must come in complete pairs, and the transport
// is kept as received. It is stricter than GNS in three places that GNS
// peers never exercise: the word "typ" must be its own token, the port must
// be 1-65535 (GNS truncates to 16 bits), and the priority must fit 32 bits
// unsigned (GNS reads it with atoi). A line with a transport other than UDP
// returns the candidate with ErrNotUDP; an unknown type returns
// ErrUnknownType.
func ParseCandidate(line string) (Candidate, error) {
	var c Candidate
	if len(line) > MaxCandidateLen {
		return c, fmt.Errorf("%w: %d bytes, limit %d", ErrCandidateSyntax, len(line), MaxCandidateLen)
	}
	rest, ok := strings.CutPrefix(line, "candidate:")
	if !ok {
		return c, fmt.Errorf("%w: no \"candidate:\" prefix", ErrCandidateSyntax)
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < 0x20 || rest[i] == 0x7f {
			return c, fmt.Errorf("%w: control byte 0x%02x", ErrCandidateSyntax, rest[i])
		}
	}
	// The foundation starts right after the prefix; GNS does not skip spaces
	// there, so a space immediately after "candidate:" means an empty one.
	if rest == "" || rest[0] == ' ' {
		return c, fmt.Errorf("%w: empty foundation", ErrCandidateSyntax)
	}
	tokens := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' })
	if len(tokens) < 8 {
		return c, fmt.Errorf("%w: %d fields, want at least 8", ErrCandidateSyntax, len(tokens))
	}
	if rest[len(rest)-1] == ' ' {
		// GNS reads a trailing space as the start of an empty extension name.
		return c, fmt.Errorf("%w: trailing space", ErrCandidateSyntax)
	}
	c.Foundation = tokens[0]
	comp, err := strconv.ParseUint(tokens[1], 10, 16)
	if err != nil {
		return c, fmt.Errorf("%w: component %q", ErrCandidateSyntax, tokens[1])
	}
	c.Component = uint16(comp)
	c.Transport = tokens[2]
	prio, err := strconv.ParseUint(tokens[3], 10, 32)
	if err != nil {
		return c, fmt.Errorf("%w: priority %q", ErrCandidateSyntax, tokens[3])
	}
	c.Priority = uint32(prio)
	ip, err := netip.ParseAddr(tokens[4])
	if err != nil || ip.Zone() != "" {
		return c, fmt.Errorf("%w: address %q is not an IP literal", ErrCandidateSyntax, tokens[4])
	}
	port, err := strconv.ParseUint(tokens[5], 10, 16)
	if err != nil || port == 0 {
		return c, fmt.Errorf("%w: port %q", ErrCandidateSyntax, tokens[5])
	}
	c.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	if tokens[6] != "typ" {
		return c, fmt.Errorf("%w: %q where \"typ\" belongs", ErrCandidateSyntax, tokens[6])
	}
	ext := tokens[8:]
	if len(ext)%2 != 0 {
		return c, fmt.Errorf("%w: extension %q has no value", ErrCandidateSyntax, ext[len(ext)-1])
	}
	for i := 0; i < len(ext); i += 2 {
		c.Extensions = append(c.Extensions, Extension{Name: ext[i], Value: ext[i+1]})
	}
	typ, ok := parseCandidateType(tokens[7])
	if !ok {
		return c, fmt.Errorf("%w: %q", ErrUnknownType, tokens[7])
	}
	c.Type = typ
	if !strings.EqualFold(c.Transport, "udp") {
		return c, fmt.Errorf("%w: %q", ErrNotUDP, c.Transport)
	}
	return c, nil
}
