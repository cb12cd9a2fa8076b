package mist

import (
	"strconv"
	"strings"

	"github.com/mistnet/mist/internal/identity"
)

// toInternalIdentity converts through the text form, which both sides
// define identically.
func toInternalIdentity(id Identity) identity.Identity {
	if !id.IsValid() {
		return identity.LocalHost()
	}
	out, err := identity.Parse(id.String())
	if err != nil {
		return identity.LocalHost()
	}
	return out
}

// fromInternalIdentity converts a wire identity to the public one.
func fromInternalIdentity(in identity.Identity) Identity {
	switch in.Type() {
	case identity.TypeInvalid:
		return Identity{}
	case identity.TypeSteamID:
		id, _ := in.SteamID()
		return SteamIDIdentity(id)
	case identity.TypeIPAddress:
		a, _ := in.IPAddr()
		return IPIdentity(a.AddrPort())
	case identity.TypeGenericString:
		str, _ := in.GenericString()
		return Identity{typ: IdentityGenericString, str: str}
	case identity.TypeGenericBytes:
		b, _ := in.GenericBytes()
		return Identity{typ: IdentityGenericBytes, str: string(b)}
	}
	// The remaining kinds are kept in their text form ("psn:5",
	// "xboxpwid:...", unknown "prefix:data").
	text := in.String()
	switch prefix, rest, _ := strings.Cut(text, ":"); prefix {
	case "psn":
		n, _ := strconv.ParseUint(rest, 10, 64)
		return Identity{typ: IdentitySonyPSN, num: n}
	case "xboxpwid":
		return Identity{typ: IdentityXboxPairwiseID, str: rest}
	}
	return Identity{typ: IdentityUnknownType, str: text}
}
