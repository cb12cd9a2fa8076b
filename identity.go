package mist

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// IdentityType is the kind of a [Identity] (ESteamNetworkingIdentityType).
type IdentityType int32

// Identity types.
const (
	IdentityInvalid        IdentityType = 0
	IdentityIPAddress      IdentityType = 1
	IdentityGenericString  IdentityType = 2
	IdentityGenericBytes   IdentityType = 3
	IdentityUnknownType    IdentityType = 4
	IdentitySteamID        IdentityType = 16
	IdentityXboxPairwiseID IdentityType = 17
	IdentitySonyPSN        IdentityType = 18
)

// Identity names a peer (SteamNetworkingIdentity). The zero value is invalid.
// Identities are comparable: equal values name the same peer.
type Identity struct {
	typ  IdentityType
	num  uint64         // SteamID, PSN id
	addr netip.AddrPort // IP identities
	str  string         // generic string, generic bytes (raw), Xbox id, unknown raw form
}

// SteamIDIdentity returns the identity of a 64-bit SteamID.
func SteamIDIdentity(id uint64) Identity { return Identity{typ: IdentitySteamID, num: id} }

// IPIdentity returns the identity of an IP address (port 0 prints no port).
func IPIdentity(addr netip.AddrPort) Identity {
	return Identity{typ: IdentityIPAddress, addr: normalizeAddrPort(addr)}
}

// GenericStringIdentity returns an application-defined string identity
// (at most 31 bytes); ok is false if s is empty or too long.
func GenericStringIdentity(s string) (Identity, bool) {
	if s == "" || len(s) > 31 || strings.IndexByte(s, 0) >= 0 {
		return Identity{}, false
	}
	return Identity{typ: IdentityGenericString, str: s}, true
}

// LocalhostIdentity is the anonymous identity, ip:::1.
func LocalhostIdentity() Identity { return IPIdentity(netip.AddrPortFrom(netip.IPv6Loopback(), 0)) }

// Type returns the kind of identity.
func (id Identity) Type() IdentityType { return id.typ }

// IsValid reports whether id names something.
func (id Identity) IsValid() bool { return id.typ != IdentityInvalid }

// SteamID returns the SteamID, or 0 if id is not a SteamID identity.
func (id Identity) SteamID() uint64 {
	if id.typ != IdentitySteamID {
		return 0
	}
	return id.num
}

// IPAddr returns the address of an IP identity.
func (id Identity) IPAddr() (netip.AddrPort, bool) {
	return id.addr, id.typ == IdentityIPAddress
}

// IsLocalhost reports whether id is the anonymous localhost identity.
func (id Identity) IsLocalhost() bool {
	return id.typ == IdentityIPAddress && id.addr.Port() == 0 && isLoopback(id.addr.Addr())
}

// String returns the GNS string form: "steamid:76561197960287930",
// "ip:127.0.0.1:27015", "str:name", "gen:00ff", "invalid", ...
func (id Identity) String() string {
	switch id.typ {
	case IdentityInvalid:
		return "invalid"
	case IdentitySteamID:
		return "steamid:" + strconv.FormatUint(id.num, 10)
	case IdentitySonyPSN:
		return "psn:" + strconv.FormatUint(id.num, 10)
	case IdentityIPAddress:
		return "ip:" + FormatIPAddr(id.addr)
	case IdentityGenericString:
		return "str:" + id.str
	case IdentityGenericBytes:
		return "gen:" + hex.EncodeToString([]byte(id.str))
	case IdentityXboxPairwiseID:
		return "xboxpwid:" + id.str
	case IdentityUnknownType:
		return id.str
	}
	return "invalid"
}

// ParseIdentity parses the string form produced by [Identity.String].
func ParseIdentity(s string) (Identity, bool) {
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok || len(s) >= 128 {
		return Identity{}, false
	}
	switch prefix {
	case "steamid":
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || !validSteamID(n) {
			return Identity{}, false
		}
		return SteamIDIdentity(n), true
	case "psn":
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return Identity{}, false
		}
		return Identity{typ: IdentitySonyPSN, num: n}, true
	case "ip":
		a, ok := ParseIPAddr(rest)
		if !ok {
			return Identity{}, false
		}
		return IPIdentity(a), true
	case "str":
		return GenericStringIdentity(rest)
	case "gen":
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) == 0 || len(b) > 32 {
			return Identity{}, false
		}
		return Identity{typ: IdentityGenericBytes, str: string(b)}, true
	case "xboxpwid":
		if rest == "" || len(rest) > 32 {
			return Identity{}, false
		}
		return Identity{typ: IdentityXboxPairwiseID, str: rest}, true
	}
	if len(prefix) == 0 || len(prefix) > 16 {
		return Identity{}, false
	}
	for _, c := range []byte(prefix) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return Identity{}, false
		}
	}
	return Identity{typ: IdentityUnknownType, str: s}, true
}

// validSteamID applies the checks CSteamID does: a known universe and
// account type, and a non-zero account for individual accounts.
func validSteamID(n uint64) bool {
	accountType := (n >> 52) & 0xf
	universe := n >> 56
	account := uint32(n)
	if accountType == 0 || accountType >= 11 || universe == 0 || universe >= 5 {
		return false
	}
	if accountType == 1 && (account == 0 || (n>>32)&0xfffff > 4) {
		return false
	}
	return true
}

func isLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// normalizeAddrPort stores IPv4 as IPv4 (not mapped) and drops zones.
func normalizeAddrPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// FormatIPAddr formats an address the way SteamNetworkingIPAddr::ToString
// does: the port is printed only when non-zero, IPv6 in brackets with a port.
func FormatIPAddr(a netip.AddrPort) string {
	ip := a.Addr().Unmap()
	if !ip.IsValid() {
		ip = netip.IPv6Unspecified()
	}
	if a.Port() == 0 {
		return ip.String()
	}
	if ip.Is4() {
		return ip.String() + ":" + strconv.Itoa(int(a.Port()))
	}
	return "[" + ip.String() + "]:" + strconv.Itoa(int(a.Port()))
}

// ParseIPAddr parses "1.2.3.4", "1.2.3.4:27015", "::1", "[::1]:27015" and
// the other forms SteamNetworkingIPAddr::ParseString accepts. A missing port
// is 0. Host names are not resolved.
func ParseIPAddr(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddrPort(ap), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return normalizeAddrPort(netip.AddrPortFrom(a, 0)), true
	}
	// Dotted IPv4 followed by junk after the colon counts as "no port".
	if host, _, ok := strings.Cut(s, ":"); ok {
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			return netip.AddrPortFrom(a, 0), true
		}
	}
	// After a closing bracket GNS also accepts '#', '.', 'p', 'P' or "port".
	if strings.HasPrefix(s, "[") {
		if host, rest, ok := strings.Cut(s[1:], "]"); ok {
			for _, sep := range []string{"port", "#", ".", "p", "P"} {
				if p, ok := strings.CutPrefix(rest, sep); ok {
					a, err1 := netip.ParseAddr(host)
					n, err2 := strconv.ParseUint(p, 10, 16)
					if err1 == nil && err2 == nil {
						return normalizeAddrPort(netip.AddrPortFrom(a, uint16(n))), true
					}
				}
			}
		}
	}
	return netip.AddrPort{}, false
}
