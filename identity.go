package mist

import (
	"net/netip"

	"github.com/mistnet/mist/internal/identity"
)

// IdentityType is the kind of a [Identity] (ESteamNetworkingIdentityType).
type IdentityType int32

// Identity types.
const (
	IdentityInvalid        IdentityType = IdentityType(identity.TypeInvalid)
	IdentityIPAddress      IdentityType = IdentityType(identity.TypeIPAddress)
	IdentityGenericString  IdentityType = IdentityType(identity.TypeGenericString)
	IdentityGenericBytes   IdentityType = IdentityType(identity.TypeGenericBytes)
	IdentityUnknownType    IdentityType = IdentityType(identity.TypeUnknown)
	IdentitySteamID        IdentityType = IdentityType(identity.TypeSteamID)
	IdentityXboxPairwiseID IdentityType = IdentityType(identity.TypeXboxPairwiseID)
	IdentitySonyPSN        IdentityType = IdentityType(identity.TypeSonyPSN)
)

// Identity names a peer (SteamNetworkingIdentity). The zero value is invalid.
// Identities are comparable: equal values name the same peer.
type Identity struct{ in identity.Identity }

// SteamIDIdentity returns the identity of a 64-bit SteamID. A number that is
// not a valid SteamID gives the invalid identity.
func SteamIDIdentity(id uint64) Identity {
	in, _ := identity.FromSteamID(id)
	return Identity{in}
}

// IPIdentity returns the identity of an IP address (port 0 prints no port).
func IPIdentity(addr netip.AddrPort) Identity {
	return Identity{identity.FromIPAddr(identity.IPAddrFrom(normalizeAddrPort(addr)))}
}

// GenericStringIdentity returns an application-defined string identity
// (at most 31 bytes); ok is false if s is empty or too long.
func GenericStringIdentity(s string) (Identity, bool) {
	in, err := identity.FromGenericString(s)
	return Identity{in}, err == nil
}

// LocalhostIdentity is the anonymous identity, ip:::1.
func LocalhostIdentity() Identity { return Identity{identity.LocalHost()} }

// Type returns the kind of identity.
func (id Identity) Type() IdentityType { return IdentityType(id.in.Type()) }

// IsValid reports whether id names something.
func (id Identity) IsValid() bool { return id.in.IsValid() }

// SteamID returns the SteamID, or 0 if id is not a SteamID identity.
func (id Identity) SteamID() uint64 {
	n, _ := id.in.SteamID()
	return n
}

// IPAddr returns the address of an IP identity.
func (id Identity) IPAddr() (netip.AddrPort, bool) {
	a, ok := id.in.IPAddr()
	if !ok {
		return netip.AddrPort{}, false
	}
	return a.AddrPort(), true
}

// IsLocalhost reports whether id is the anonymous localhost identity.
func (id Identity) IsLocalhost() bool {
	a, ok := id.IPAddr()
	return ok && a.Port() == 0 && isLoopback(a.Addr())
}

// String returns the GNS string form: "steamid:76561197960287930",
// "ip:127.0.0.1:27015", "str:name", "gen:00ff", "invalid", ...
func (id Identity) String() string { return id.in.String() }

// ParseIdentity parses the string form produced by [Identity.String], with
// GNS's rules.
func ParseIdentity(s string) (Identity, bool) {
	in, err := identity.Parse(s)
	return Identity{in}, err == nil
}

// wire returns the identity as the handshake carries it; the invalid
// identity travels as the anonymous localhost.
func (id Identity) wire() identity.Identity {
	if !id.IsValid() {
		return identity.LocalHost()
	}
	return id.in
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
