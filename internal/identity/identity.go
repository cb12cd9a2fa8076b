// Package identity implements SteamNetworkingIdentity and
// SteamNetworkingIPAddr: their typed values, GNS's text forms
// ("steamid:76561197960287930", "ip:[::1]:27015", "str:name", "gen:0a0b",
// ...), and the protobuf carriers used in certificates and handshake
// messages (identity_string, the legacy binary message, legacy SteamID
// fields).
//
// Identity and IPAddr are comparable values: two identities are equal when
// they have the same type and bytes, which is how GNS compares them.
package identity

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mistnet/mist/internal/pb"
)

// Type is an ESteamNetworkingIdentityType.
type Type int32

// Identity types.
const (
	TypeInvalid        Type = 0
	TypeIPAddress      Type = 1
	TypeGenericString  Type = 2
	TypeGenericBytes   Type = 3
	TypeUnknown        Type = 4 // a well-formed "prefix:data" string of a type we do not know
	TypeSteamID        Type = 16
	TypeXboxPairwiseID Type = 17
	TypeSonyPSN        Type = 18
)

// Limits of identity values.
const (
	MaxGenericStringLen = 31  // bytes, excluding GNS's terminator
	MaxGenericBytesLen  = 32  // bytes
	MaxXboxPairwiseLen  = 32  // bytes
	MaxStringLen        = 127 // longest text form GNS accepts, excluding the terminator
	maxUnknownPrefixLen = 16
)

// Identity is a SteamNetworkingIdentity. The zero Identity is invalid
// ("no identity").
type Identity struct {
	typ Type
	num uint64 // SteamID64 or PSN id
	ip  IPAddr
	s   string // generic string, generic bytes, Xbox id, or the raw text of an unknown type
}

// ErrInvalid is wrapped by every error about a malformed identity.
var ErrInvalid = errors.New("invalid identity")

func invalid(format string, args ...any) error {
	return fmt.Errorf("identity: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// FromSteamID returns a SteamID identity; id must be a valid SteamID as
// GNS defines it (see ValidSteamID).
func FromSteamID(id uint64) (Identity, error) {
	if !ValidSteamID(id) {
		return Identity{}, invalid("SteamID %d is not valid", id)
	}
	return Identity{typ: TypeSteamID, num: id}, nil
}

// FromIPAddr returns an IP-address identity.
func FromIPAddr(a IPAddr) Identity { return Identity{typ: TypeIPAddress, ip: a} }

// LocalHost returns the anonymous identity GNS uses when none is set: ::1
// with port 0 ("ip:::1").
func LocalHost() Identity {
	var ip [16]byte
	ip[15] = 1
	return FromIPAddr(IPAddr{ip: ip})
}

// FromGenericString returns a generic-string identity (1..31 bytes, no NUL).
func FromGenericString(s string) (Identity, error) {
	if len(s) == 0 || len(s) > MaxGenericStringLen || strings.IndexByte(s, 0) >= 0 {
		return Identity{}, invalid("generic string must be 1..%d bytes without NUL, got %d bytes", MaxGenericStringLen, len(s))
	}
	return Identity{typ: TypeGenericString, s: s}, nil
}

// FromGenericBytes returns a generic-bytes identity (1..32 bytes).
func FromGenericBytes(b []byte) (Identity, error) {
	if len(b) == 0 || len(b) > MaxGenericBytesLen {
		return Identity{}, invalid("generic bytes must be 1..%d bytes, got %d", MaxGenericBytesLen, len(b))
	}
	return Identity{typ: TypeGenericBytes, s: string(b)}, nil
}

// Type returns the identity type.
func (id Identity) Type() Type { return id.typ }

// IsValid reports whether id holds an identity.
func (id Identity) IsValid() bool { return id.typ != TypeInvalid }

// IsLocalHost reports whether id is an IP identity whose address is ::1 or
// 127.0.0.1 (any port): the anonymous identity.
func (id Identity) IsLocalHost() bool { return id.typ == TypeIPAddress && id.ip.IsLocalHost() }

// SteamID returns the SteamID64 of a SteamID identity.
func (id Identity) SteamID() (uint64, bool) { return id.num, id.typ == TypeSteamID }

// IPAddr returns the address of an IP identity.
func (id Identity) IPAddr() (IPAddr, bool) { return id.ip, id.typ == TypeIPAddress }

// GenericString returns the text of a generic-string identity.
func (id Identity) GenericString() (string, bool) { return id.s, id.typ == TypeGenericString }

// GenericBytes returns a copy of the bytes of a generic-bytes identity.
func (id Identity) GenericBytes() ([]byte, bool) {
	if id.typ != TypeGenericBytes {
		return nil, false
	}
	return []byte(id.s), true
}

// String returns GNS's text form, "invalid" for the zero Identity.
func (id Identity) String() string {
	switch id.typ {
	case TypeInvalid:
		return "invalid"
	case TypeSteamID:
		return "steamid:" + strconv.FormatUint(id.num, 10)
	case TypeSonyPSN:
		return "psn:" + strconv.FormatUint(id.num, 10)
	case TypeIPAddress:
		return "ip:" + id.ip.String()
	case TypeGenericString:
		return "str:" + id.s
	case TypeGenericBytes:
		return "gen:" + hex.EncodeToString([]byte(id.s))
	case TypeXboxPairwiseID:
		return "xboxpwid:" + id.s
	case TypeUnknown:
		return id.s
	}
	return fmt.Sprintf("bad_type:%d", int32(id.typ))
}

// Parse parses GNS's text form. "invalid" and the empty string do not
// parse. Numbers must be plain decimal (GNS's scanf would also take
// leading spaces or trailing junk; mist is stricter).
func Parse(s string) (Identity, error) {
	if s == "" {
		return Identity{}, invalid("empty string")
	}
	if len(s) > MaxStringLen {
		return Identity{}, invalid("%d-byte string is longer than %d", len(s), MaxStringLen)
	}
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Identity{}, invalid("%q has no type prefix", s)
	}
	switch prefix {
	case "steamid":
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return Identity{}, invalid("%q: bad SteamID number", s)
		}
		if !ValidSteamID(n) {
			return Identity{}, invalid("%q: not a valid SteamID", s)
		}
		return Identity{typ: TypeSteamID, num: n}, nil
	case "psn":
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			return Identity{}, invalid("%q: bad PSN id", s)
		}
		return Identity{typ: TypeSonyPSN, num: n}, nil
	case "xboxpwid":
		if len(rest) == 0 || len(rest) > MaxXboxPairwiseLen || strings.IndexByte(rest, 0) >= 0 {
			return Identity{}, invalid("%q: Xbox pairwise id must be 1..%d bytes", s, MaxXboxPairwiseLen)
		}
		return Identity{typ: TypeXboxPairwiseID, s: rest}, nil
	case "ip":
		a, err := ParseIPAddr(rest)
		if err != nil {
			return Identity{}, invalid("%q: %v", s, err)
		}
		return FromIPAddr(a), nil
	case "str":
		return FromGenericString(rest)
	case "gen":
		if len(rest) < 2 || len(rest)%2 != 0 {
			return Identity{}, invalid("%q: generic bytes need an even number (>= 2) of hex digits", s)
		}
		b, err := hex.DecodeString(rest)
		if err != nil {
			return Identity{}, invalid("%q: bad hex", s)
		}
		return FromGenericBytes(b)
	}
	if len(prefix) == 0 || len(prefix) > maxUnknownPrefixLen {
		return Identity{}, invalid("%q: type prefix must be 1..%d characters", s, maxUnknownPrefixLen)
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return Identity{}, invalid("%q: type prefix may only hold a-z, 0-9 and _", s)
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Identity{}, invalid("%q: contains NUL", s)
	}
	return Identity{typ: TypeUnknown, s: s}, nil
}

// SteamID64 fields.
const (
	accountTypeIndividual     = 1
	accountTypeGameServer     = 3
	accountTypeAnonGameServer = 4
	accountTypeClan           = 7
	accountTypeConsoleUser    = 9
	accountTypeMax            = 11
	universeMax               = 5
	defaultUserInstance       = 1
)

func splitSteamID(id uint64) (account uint32, instance uint32, accountType uint8, universe uint8) {
	return uint32(id), uint32(id>>32) & 0xFFFFF, uint8(id>>52) & 0xF, uint8(id >> 56)
}

// ValidSteamID reports whether id is a valid CSteamID: a known universe and
// account type, and a non-zero account for users, clans and game servers.
func ValidSteamID(id uint64) bool {
	account, instance, typ, universe := splitSteamID(id)
	if typ == 0 || typ >= accountTypeMax || universe == 0 || universe >= universeMax {
		return false
	}
	switch typ {
	case accountTypeIndividual:
		return account != 0 && instance == defaultUserInstance
	case accountTypeClan:
		return account != 0 && instance == 0
	case accountTypeGameServer:
		return account != 0
	}
	return true
}

// validSteamIDForIdentity is the stricter rule for SteamIDs carried in
// legacy fields: a non-zero account of a user or game-server type. mist also
// requires ValidSteamID, so that every identity it accepts has a text form
// that parses back.
func validSteamIDForIdentity(id uint64) bool {
	if !ValidSteamID(id) {
		return false
	}
	account, _, typ, _ := splitSteamID(id)
	switch typ {
	case accountTypeIndividual, accountTypeConsoleUser, accountTypeGameServer, accountTypeAnonGameServer:
		return account != 0
	}
	return false
}

// LegacyBinary returns the legacy binary form. Types without one give an
// empty (but non-nil) message, as GNS writes it.
func (id Identity) LegacyBinary() *pb.IdentityLegacyBinary {
	m := new(pb.IdentityLegacyBinary)
	switch id.typ {
	case TypeSteamID:
		m.SteamId = &id.num
	case TypeIPAddress:
		m.Ipv6AndPort = id.ip.appendLegacy(nil)
	case TypeGenericString:
		m.GenericString = &id.s
	case TypeGenericBytes:
		m.GenericBytes = []byte(id.s)
	}
	return m
}

func (a IPAddr) appendLegacy(dst []byte) []byte {
	dst = append(dst, a.ip[:]...)
	return append(dst, byte(a.port>>8), byte(a.port))
}

// FromLegacyBinary reads the legacy binary form. Fields are tried in GNS's
// order: steam_id, generic_string, generic_bytes, ipv6_and_port.
func FromLegacyBinary(m *pb.IdentityLegacyBinary) (Identity, error) {
	switch {
	case m == nil:
		return Identity{}, invalid("no legacy identity")
	case m.SteamId != nil:
		if !validSteamIDForIdentity(*m.SteamId) {
			return Identity{}, invalid("legacy SteamID %d is not a user or game server", *m.SteamId)
		}
		return Identity{typ: TypeSteamID, num: *m.SteamId}, nil
	case m.GenericString != nil:
		return FromGenericString(*m.GenericString)
	case m.GenericBytes != nil:
		return FromGenericBytes(m.GenericBytes)
	case m.Ipv6AndPort != nil:
		b := m.Ipv6AndPort
		if len(b) != 18 {
			return Identity{}, invalid("ipv6_and_port is %d bytes, want 18", len(b))
		}
		var a IPAddr
		copy(a.ip[:], b)
		a.port = uint16(b[16])<<8 | uint16(b[17])
		return FromIPAddr(a), nil
	}
	return Identity{}, invalid("legacy identity message has no known field")
}

// FromLegacySteamID reads a legacy SteamID field.
func FromLegacySteamID(id uint64) (Identity, error) {
	if !validSteamIDForIdentity(id) {
		return Identity{}, invalid("legacy SteamID %d is not a user or game server", id)
	}
	return Identity{typ: TypeSteamID, num: id}, nil
}

// FromFields reads an identity carried the way GNS writes one into a
// certificate or handshake message: identity_string if present, else the
// legacy binary message, else the legacy SteamID field. It returns an
// invalid Identity and no error when none is present; a present but bad
// value is an error.
func FromFields(identityString *string, legacy *pb.IdentityLegacyBinary, legacySteamID *uint64) (Identity, error) {
	switch {
	case identityString != nil:
		return Parse(*identityString)
	case legacy != nil:
		return FromLegacyBinary(legacy)
	case legacySteamID != nil:
		return FromLegacySteamID(*legacySteamID)
	}
	return Identity{}, nil
}

// Fields returns the three carriers GNS writes for id: the text form, the
// legacy binary message (empty for types without one) and, for SteamIDs,
// the legacy SteamID. It fails for the invalid identity.
func (id Identity) Fields() (identityString string, legacy *pb.IdentityLegacyBinary, legacySteamID *uint64, err error) {
	if id.typ == TypeInvalid {
		return "", nil, nil, invalid("cannot write the invalid identity")
	}
	if id.typ == TypeSteamID {
		if !validSteamIDForIdentity(id.num) {
			return "", nil, nil, invalid("SteamID %d is not a user or game server", id.num)
		}
		n := id.num
		legacySteamID = &n
	}
	return id.String(), id.LegacyBinary(), legacySteamID, nil
}
