package mist

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mistnet/mist/internal/identity"
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

// ParseIdentity parses the string form produced by [Identity.String], with
// GNS's rules.
func ParseIdentity(s string) (Identity, bool) {
	in, err := identity.Parse(s)
	if err != nil {
		return Identity{}, false
	}
	return fromInternalIdentity(in), true
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
	return identity.IPAddrFrom(a).String()
}

// ParseIPAddr parses "1.2.3.4", "1.2.3.4:27015", "::1", "[::1]:27015" and
// the other forms SteamNetworkingIPAddr::ParseString accepts. A missing port
// is 0. Host names are not resolved.
func ParseIPAddr(s string) (netip.AddrPort, bool) {
	a, err := identity.ParseIPAddr(s)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return a.AddrPort(), true
}
