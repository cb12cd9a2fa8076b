package bridge

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
