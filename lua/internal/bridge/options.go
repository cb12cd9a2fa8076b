package bridge

import (
	"fmt"
	"strconv"
	"strings"
)

// optionIDs are the keys an options table may use (exact spelling) and the
// GNS config IDs they set, all as Int32. These are the keys luasteam
// recognises; anything else is reported and skipped.
var optionIDs = map[string]int32{
	"TimeoutInitial":      24,
	"TimeoutConnected":    25,
	"SendBufferSize":      9,
	"SendRateMin":         10,
	"SendRateMax":         11,
	"NagleTime":           12,
	"IP_AllowWithoutAuth": 23,
	"MTU_PacketSize":      32,
	"Unencrypted":         34,
	"SymmetricConnect":    37,
	"LocalVirtualPort":    38,
}

// OptionID returns the config ID for an options-table key.
func OptionID(name string) (int32, bool) {
	id, ok := optionIDs[name]
	return id, ok
}

// Environment variables read by Steam.init, so a program can be run with a
// chosen identity or settings without changing it.
const (
	EnvSteamID = "LUASTEAM_STEAMID" // decimal SteamID
	EnvOptions = "LUASTEAM_OPTIONS" // e.g. "NagleTime=0,TimeoutInitial=5000"
	// EnvCert names a credential file ('mist ca issue') the instance
	// presents; its identity becomes the instance's unless a SteamID is
	// given, which must then be the certificate's.
	EnvCert = "MIST_CERT"
	// EnvTrust names a CA public key file ('mist ca init'); peers must
	// present a certificate it signed (IP_AllowWithoutAuth and
	// IPLocalHost_AllowWithoutAuth 0).
	EnvTrust = "MIST_TRUST"
)

// ParseOptionList parses "Name=value,Name=value" using the options-table
// names; blanks around items are ignored.
func ParseOptionList(s string) ([]Option, error) {
	var opts []Option
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("option %q: want Name=value", item)
		}
		name = strings.TrimSpace(name)
		id, known := OptionID(name)
		if !known {
			return nil, fmt.Errorf("unknown option %q", name)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("option %s: %q is not an integer", name, value)
		}
		opts = append(opts, Option{ID: id, Value: v})
	}
	return opts, nil
}
