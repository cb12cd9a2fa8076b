package mist

import (
	"math"
	"strconv"
	"sync"
)

// ConfigOption is a configuration option ID (ESteamNetworkingConfigValue).
type ConfigOption int32

// Configuration options, with GNS's IDs.
const (
	OptInvalid                           ConfigOption = 0
	OptFakePacketLossSend                ConfigOption = 2
	OptFakePacketLossRecv                ConfigOption = 3
	OptFakePacketLagSend                 ConfigOption = 4
	OptFakePacketLagRecv                 ConfigOption = 5
	OptFakePacketReorderSend             ConfigOption = 6
	OptFakePacketReorderRecv             ConfigOption = 7
	OptFakePacketReorderTime             ConfigOption = 8
	OptSendBufferSize                    ConfigOption = 9
	OptSendRateMin                       ConfigOption = 10
	OptSendRateMax                       ConfigOption = 11
	OptNagleTime                         ConfigOption = 12
	OptLogLevelAckRTT                    ConfigOption = 13
	OptLogLevelPacketDecode              ConfigOption = 14
	OptLogLevelMessage                   ConfigOption = 15
	OptLogLevelPacketGaps                ConfigOption = 16
	OptLogLevelP2PRendezvous             ConfigOption = 17
	OptLogLevelSDRRelayPings             ConfigOption = 18
	OptIPAllowWithoutAuth                ConfigOption = 23
	OptTimeoutInitial                    ConfigOption = 24
	OptTimeoutConnected                  ConfigOption = 25
	OptFakePacketDupSend                 ConfigOption = 26
	OptFakePacketDupRecv                 ConfigOption = 27
	OptFakePacketDupTimeMax              ConfigOption = 28
	OptMTUPacketSize                     ConfigOption = 32
	OptMTUDataSize                       ConfigOption = 33
	OptUnencrypted                       ConfigOption = 34
	OptSymmetricConnect                  ConfigOption = 37
	OptLocalVirtualPort                  ConfigOption = 38
	OptDualWifiEnable                    ConfigOption = 39
	OptConnectionUserData                ConfigOption = 40
	OptPacketTraceMaxBytes               ConfigOption = 41
	OptFakeRateLimitSendRate             ConfigOption = 42
	OptFakeRateLimitSendBurst            ConfigOption = 43
	OptFakeRateLimitRecvRate             ConfigOption = 44
	OptFakeRateLimitRecvBurst            ConfigOption = 45
	OptEnableDiagnosticsUI               ConfigOption = 46
	OptRecvBufferSize                    ConfigOption = 47
	OptRecvBufferMessages                ConfigOption = 48
	OptRecvMaxMessageSize                ConfigOption = 49
	OptRecvMaxSegmentsPerPacket          ConfigOption = 50
	OptOutOfOrderCorrectionWindow        ConfigOption = 51
	OptIPLocalHostAllowWithoutAuth       ConfigOption = 52
	OptFakePacketJitterSendAvg           ConfigOption = 53
	OptFakePacketJitterSendMax           ConfigOption = 54
	OptFakePacketJitterSendPct           ConfigOption = 55
	OptFakePacketJitterRecvAvg           ConfigOption = 56
	OptFakePacketJitterRecvMax           ConfigOption = 57
	OptFakePacketJitterRecvPct           ConfigOption = 58
	OptSendTimeSincePreviousPacket       ConfigOption = 59
	OptP2PSTUNServerList                 ConfigOption = 103
	OptP2PTransportICEEnable             ConfigOption = 104
	OptP2PTransportICEPenalty            ConfigOption = 105
	OptP2PTURNServerList                 ConfigOption = 107
	OptP2PTURNUserList                   ConfigOption = 108
	OptP2PTURNPassList                   ConfigOption = 109
	OptP2PTransportICEImplementation     ConfigOption = 110
	OptCallbackConnectionStatusChanged   ConfigOption = 201
	OptCallbackAuthStatusChanged         ConfigOption = 202
	OptCallbackCreateConnectionSignaling ConfigOption = 206
)

// ConfigDataType is the type of an option's value (ESteamNetworkingConfigDataType).
type ConfigDataType int32

// Config data types.
const (
	ConfigInt32  ConfigDataType = 1
	ConfigInt64  ConfigDataType = 2
	ConfigFloat  ConfigDataType = 3
	ConfigString ConfigDataType = 4
	ConfigPtr    ConfigDataType = 5
)

// ConfigScope is where a value is set (ESteamNetworkingConfigScope).
type ConfigScope int32

// Config scopes.
const (
	ScopeGlobal           ConfigScope = 1
	ScopeSocketsInterface ConfigScope = 2
	ScopeListenSocket     ConfigScope = 3
	ScopeConnection       ConfigScope = 4
)

// GetConfigResult is the outcome of reading an option
// (ESteamNetworkingGetConfigValueResult).
type GetConfigResult int32

// Config read outcomes.
const (
	ConfigBadValue       GetConfigResult = -1
	ConfigBadScopeObj    GetConfigResult = -2
	ConfigBufferTooSmall GetConfigResult = -3
	ConfigOK             GetConfigResult = 1
	ConfigOKInherited    GetConfigResult = 2
)

// ConfigValue is one option with a typed value (SteamNetworkingConfigValue_t).
// Build one with [Int32Value], [Int64Value], [FloatValue], [StringValue] or
// [PtrValue].
type ConfigValue struct {
	Option ConfigOption
	Type   ConfigDataType
	i      int64
	f      float32
	s      string
	p      any
}

// Int32Value is an Int32 value for opt.
func Int32Value(opt ConfigOption, v int32) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigInt32, i: int64(v)}
}

// Int64Value is an Int64 value for opt.
func Int64Value(opt ConfigOption, v int64) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigInt64, i: v}
}

// FloatValue is a Float value for opt.
func FloatValue(opt ConfigOption, v float32) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigFloat, f: v}
}

// StringValue is a String value for opt.
func StringValue(opt ConfigOption, v string) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigString, s: v}
}

// PtrValue is a pointer value for opt. The callback options take a
// func(*ConnStatusChanged) or func(*AuthStatus).
func PtrValue(opt ConfigOption, v any) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigPtr, p: v}
}

// Int returns the value as an integer (Int32, Int64, or Float rounded).
func (v ConfigValue) Int() int64 {
	switch v.Type {
	case ConfigFloat:
		return int64(math.Floor(float64(v.f) + 0.5))
	case ConfigString:
		n, _ := strconv.ParseInt(v.s, 10, 64)
		return n
	}
	return v.i
}

// Float returns the value as a float.
func (v ConfigValue) Float() float32 {
	if v.Type == ConfigFloat {
		return v.f
	}
	if v.Type == ConfigString {
		f, _ := strconv.ParseFloat(v.s, 32)
		return float32(f)
	}
	return float32(v.i)
}

// Str returns the value as a string.
func (v ConfigValue) Str() string {
	switch v.Type {
	case ConfigString:
		return v.s
	case ConfigFloat:
		return strconv.FormatFloat(float64(v.f), 'g', -1, 32)
	case ConfigInt32, ConfigInt64:
		return strconv.FormatInt(v.i, 10)
	}
	return ""
}

// Ptr returns a pointer value.
func (v ConfigValue) Ptr() any { return v.p }

// String describes the value for debugging: "TimeoutInitial=10000".
func (v ConfigValue) String() string {
	name := ConfigOptionName(v.Option)
	if v.Type == ConfigPtr {
		if v.p == nil {
			return name + "=nil"
		}
		return name + "=<func>"
	}
	return name + "=" + v.Str()
}

// optionScope tells where an option may be set.
type optionScope uint8

const (
	optConnection optionScope = iota // global, interface, listen socket or connection
	optGlobal                        // global only
)

type optionInfo struct {
	name     string
	typ      ConfigDataType
	scope    optionScope
	def      ConfigValue
	min, max float64
	readOnly bool
}

func intOpt(name string, scope optionScope, def, lo, hi int64) optionInfo {
	return optionInfo{name: name, typ: ConfigInt32, scope: scope, def: ConfigValue{Type: ConfigInt32, i: def}, min: float64(lo), max: float64(hi)}
}

func floatOpt(name string, def, lo, hi float32) optionInfo {
	return optionInfo{name: name, typ: ConfigFloat, scope: optGlobal, def: ConfigValue{Type: ConfigFloat, f: def}, min: float64(lo), max: float64(hi)}
}

func strOpt(name string) optionInfo {
	return optionInfo{name: name, typ: ConfigString, scope: optConnection, def: ConfigValue{Type: ConfigString}}
}

func ptrOpt(name string, scope optionScope) optionInfo {
	return optionInfo{name: name, typ: ConfigPtr, scope: scope, def: ConfigValue{Type: ConfigPtr}}
}

const maxInt32 = math.MaxInt32

// options is GNS's option table: names, types, defaults and ranges.
var options = map[ConfigOption]optionInfo{
	OptFakePacketLossSend:                floatOpt("FakePacketLoss_Send", 0, 0, 100),
	OptFakePacketLossRecv:                floatOpt("FakePacketLoss_Recv", 0, 0, 100),
	OptFakePacketLagSend:                 intOpt("FakePacketLag_Send", optGlobal, 0, 0, 5000),
	OptFakePacketLagRecv:                 intOpt("FakePacketLag_Recv", optGlobal, 0, 0, 5000),
	OptFakePacketReorderSend:             floatOpt("FakePacketReorder_Send", 0, 0, 100),
	OptFakePacketReorderRecv:             floatOpt("FakePacketReorder_Recv", 0, 0, 100),
	OptFakePacketReorderTime:             intOpt("FakePacketReorder_Time", optGlobal, 15, 0, 5000),
	OptFakePacketDupSend:                 floatOpt("FakePacketDup_Send", 0, 0, 100),
	OptFakePacketDupRecv:                 floatOpt("FakePacketDup_Recv", 0, 0, 100),
	OptFakePacketDupTimeMax:              intOpt("FakePacketDup_TimeMax", optGlobal, 10, 0, 5000),
	OptFakePacketJitterSendAvg:           floatOpt("FakePacketJitter_Send_Avg", 0, 0, 2000),
	OptFakePacketJitterSendMax:           floatOpt("FakePacketJitter_Send_Max", 100, 0, 5000),
	OptFakePacketJitterSendPct:           floatOpt("FakePacketJitter_Send_Pct", 75, 0, 100),
	OptFakePacketJitterRecvAvg:           floatOpt("FakePacketJitter_Recv_Avg", 0, 0, 2000),
	OptFakePacketJitterRecvMax:           floatOpt("FakePacketJitter_Recv_Max", 100, 0, 5000),
	OptFakePacketJitterRecvPct:           floatOpt("FakePacketJitter_Recv_Pct", 75, 0, 100),
	OptPacketTraceMaxBytes:               intOpt("PacketTraceMaxBytes", optGlobal, -1, -1, 99999),
	OptFakeRateLimitSendRate:             intOpt("FakeRateLimit_Send_Rate", optGlobal, 0, 0, 1<<30),
	OptFakeRateLimitSendBurst:            intOpt("FakeRateLimit_Send_Burst", optGlobal, 16384, 0, 1<<20),
	OptFakeRateLimitRecvRate:             intOpt("FakeRateLimit_Recv_Rate", optGlobal, 0, 0, 1<<30),
	OptFakeRateLimitRecvBurst:            intOpt("FakeRateLimit_Recv_Burst", optGlobal, 16384, 0, 1<<20),
	OptOutOfOrderCorrectionWindow:        intOpt("OutOfOrderCorrectionWindowMicroseconds", optGlobal, 1000, 0, 50000),
	OptLogLevelSDRRelayPings:             intOpt("LogLevel_SDRRelayPings", optGlobal, 4, 2, 8),
	OptTimeoutInitial:                    intOpt("TimeoutInitial", optConnection, 10000, 0, maxInt32),
	OptTimeoutConnected:                  intOpt("TimeoutConnected", optConnection, 10000, 0, maxInt32),
	OptSendBufferSize:                    intOpt("SendBufferSize", optConnection, 524288, 4096, 0x10000000),
	OptRecvBufferSize:                    intOpt("RecvBufferSize", optConnection, 1048576, 4096, 0x10000000),
	OptRecvBufferMessages:                intOpt("RecvBufferMessages", optConnection, 1000, 2, 0x10000000),
	OptRecvMaxMessageSize:                intOpt("RecvMaxMessageSize", optConnection, 524288, 64, 0x10000000),
	OptRecvMaxSegmentsPerPacket:          intOpt("RecvMaxSegmentsPerPacket", optConnection, 1300, 1, 1300),
	OptConnectionUserData:                {name: "ConnectionUserData", typ: ConfigInt64, def: ConfigValue{Type: ConfigInt64, i: -1}, min: math.MinInt64, max: math.MaxInt64},
	OptSendRateMin:                       intOpt("SendRateMin", optConnection, 262144, 1024, 0x10000000),
	OptSendRateMax:                       intOpt("SendRateMax", optConnection, 262144, 1024, 0x10000000),
	OptNagleTime:                         intOpt("NagleTime", optConnection, 5000, 0, 20000),
	OptIPAllowWithoutAuth:                intOpt("IP_AllowWithoutAuth", optConnection, 2, 0, 2),
	OptIPLocalHostAllowWithoutAuth:       intOpt("IPLocalHost_AllowWithoutAuth", optConnection, 2, 0, 2),
	OptMTUPacketSize:                     intOpt("MTU_PacketSize", optConnection, 1300, 200, 1300),
	OptMTUDataSize:                       {name: "MTU_DataSize", typ: ConfigInt32, def: ConfigValue{Type: ConfigInt32, i: 1200}, min: 0, max: 1300, readOnly: true},
	OptUnencrypted:                       intOpt("Unencrypted", optConnection, 0, 0, 3),
	OptSymmetricConnect:                  intOpt("SymmetricConnect", optConnection, 0, 0, 1),
	OptLocalVirtualPort:                  intOpt("LocalVirtualPort", optConnection, -1, -1, maxInt32),
	OptDualWifiEnable:                    intOpt("DualWifi_Enable", optConnection, 1, 0, 2),
	OptEnableDiagnosticsUI:               intOpt("EnableDiagnosticsUI", optConnection, 1, 0, 1),
	OptSendTimeSincePreviousPacket:       intOpt("SendTimeSincePreviousPacket", optConnection, -1, -1, 1),
	OptLogLevelAckRTT:                    intOpt("LogLevel_AckRTT", optConnection, 4, 2, 8),
	OptLogLevelPacketDecode:              intOpt("LogLevel_PacketDecode", optConnection, 4, 2, 8),
	OptLogLevelMessage:                   intOpt("LogLevel_Message", optConnection, 4, 2, 8),
	OptLogLevelPacketGaps:                intOpt("LogLevel_PacketGaps", optConnection, 4, 2, 8),
	OptLogLevelP2PRendezvous:             intOpt("LogLevel_P2PRendezvous", optConnection, 4, 2, 8),
	OptP2PSTUNServerList:                 strOpt("P2P_STUN_ServerList"),
	OptP2PTransportICEEnable:             intOpt("P2P_Transport_ICE_Enable", optConnection, 0x7fffffff, -1, 0x7fffffff),
	OptP2PTransportICEPenalty:            intOpt("P2P_Transport_ICE_Penalty", optConnection, 0, 0, maxInt32),
	OptP2PTURNServerList:                 strOpt("P2P_TURN_ServerList"),
	OptP2PTURNUserList:                   strOpt("P2P_TURN_UserList"),
	OptP2PTURNPassList:                   strOpt("P2P_TURN_PassList"),
	OptP2PTransportICEImplementation:     intOpt("P2P_Transport_ICE_Implementation", optConnection, 0, 0, 2),
	OptCallbackConnectionStatusChanged:   ptrOpt("Callback_ConnectionStatusChanged", optConnection),
	OptCallbackAuthStatusChanged:         ptrOpt("Callback_AuthStatusChanged", optGlobal),
	OptCallbackCreateConnectionSignaling: ptrOpt("Callback_CreateConnectionSignaling", optGlobal),
}

// optionsByName indexes options by their GNS name.
var optionsByName = func() map[string]ConfigOption {
	m := make(map[string]ConfigOption, len(options))
	for id, info := range options {
		m[info.name] = id
	}
	return m
}()

// ConfigOptionName returns GNS's name for opt ("TimeoutInitial"), or "" if
// the option is unknown.
func ConfigOptionName(opt ConfigOption) string { return options[opt].name }

// ConfigOptionByName looks an option up by its GNS name.
func ConfigOptionByName(name string) (ConfigOption, bool) {
	id, ok := optionsByName[name]
	return id, ok
}

// ConfigOptionType returns the data type of opt, or 0 if it is unknown.
func ConfigOptionType(opt ConfigOption) ConfigDataType { return options[opt].typ }

// convert turns v into the option's own type, clamping into its range.
// ok is false for conversions GNS refuses.
func (info optionInfo) convert(v ConfigValue) (ConfigValue, bool) {
	out := ConfigValue{Option: v.Option, Type: info.typ}
	switch info.typ {
	case ConfigInt32, ConfigInt64:
		var n int64
		switch v.Type {
		case ConfigInt32, ConfigInt64:
			n = v.i
			if info.typ == ConfigInt32 && (n < math.MinInt32 || n > math.MaxInt32) {
				return out, false
			}
		case ConfigFloat:
			n = v.Int()
		case ConfigString:
			var err error
			if n, err = strconv.ParseInt(v.s, 10, 64); err != nil {
				return out, false
			}
		default:
			return out, false
		}
		out.i = int64(math.Max(info.min, math.Min(info.max, float64(n))))
		if info.typ == ConfigInt64 {
			out.i = n
		}
	case ConfigFloat:
		if v.Type == ConfigPtr {
			return out, false
		}
		if v.Type == ConfigString {
			if _, err := strconv.ParseFloat(v.s, 32); err != nil {
				return out, false
			}
		}
		out.f = float32(math.Max(info.min, math.Min(info.max, float64(v.Float()))))
	case ConfigString:
		if v.Type == ConfigPtr {
			return out, false
		}
		out.s = v.Str()
	case ConfigPtr:
		if v.Type != ConfigPtr {
			return out, false
		}
		out.p = v.p
	}
	return out, true
}

// configStore holds the values set at one scope; reads fall back to the
// parent scope and finally to the option's default.
type configStore struct {
	mu     *sync.RWMutex // shared by a whole Sockets (and the global store)
	parent *configStore
	vals   map[ConfigOption]ConfigValue
	locked map[ConfigOption]bool
}

func newConfigStore(mu *sync.RWMutex, parent *configStore) *configStore {
	return &configStore{mu: mu, parent: parent}
}

// get returns the effective value of opt and whether it was set here.
func (c *configStore) get(opt ConfigOption) (ConfigValue, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.getLocked(opt)
}

func (c *configStore) getLocked(opt ConfigOption) (ConfigValue, bool) {
	for s, here := c, true; s != nil; s, here = s.parent, false {
		if v, ok := s.vals[opt]; ok {
			return v, here
		}
		if s.parent != nil && s.parent.mu != s.mu {
			v, _ := s.parent.get(opt)
			return v, false
		}
	}
	d := options[opt].def
	d.Option = opt
	return d, false
}

func (c *configStore) int(opt ConfigOption) int64 {
	v, _ := c.get(opt)
	return v.Int()
}

// set stores v (already converted); a nil-valued reset is done by unset.
func (c *configStore) set(v ConfigValue) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.locked[v.Option] {
		return false
	}
	if c.vals == nil {
		c.vals = make(map[ConfigOption]ConfigValue)
	}
	c.vals[v.Option] = v
	return true
}

func (c *configStore) unset(opt ConfigOption) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.locked[opt] {
		return false
	}
	delete(c.vals, opt)
	return true
}

// lock freezes the current effective values of opts at this scope.
func (c *configStore) lock(opts ...ConfigOption) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.locked == nil {
		c.locked = make(map[ConfigOption]bool)
	}
	if c.vals == nil {
		c.vals = make(map[ConfigOption]ConfigValue)
	}
	for _, opt := range opts {
		v, _ := c.getLocked(opt)
		c.vals[opt] = v
		c.locked[opt] = true
	}
}

// applyOptions applies creation-time options at a listen-socket or
// connection scope. Any failure makes creation fail, as in GNS.
func (c *configStore) applyOptions(opts []ConfigValue) bool {
	for _, v := range opts {
		info, ok := options[v.Option]
		if !ok || info.scope == optGlobal || info.readOnly {
			return false
		}
		cv, ok := info.convert(v)
		if !ok || !c.set(cv) {
			return false
		}
	}
	return true
}

var (
	globalConfigMu sync.RWMutex
	globalConfig   = newConfigStore(&globalConfigMu, nil)
)

// SetGlobalConfigValue sets an option at global scope for the whole process.
// Out-of-range values are clamped; unknown options and impossible type
// conversions return false.
func SetGlobalConfigValue(v ConfigValue) bool {
	info, ok := options[v.Option]
	if !ok || info.readOnly {
		return false
	}
	cv, ok := info.convert(v)
	if !ok {
		return false
	}
	return globalConfig.set(cv)
}

// ResetGlobalConfigValue returns a global option to its default.
func ResetGlobalConfigValue(opt ConfigOption) bool {
	if _, ok := options[opt]; !ok {
		return false
	}
	return globalConfig.unset(opt)
}

// GlobalConfigValue reads an option at global scope.
func GlobalConfigValue(opt ConfigOption) (ConfigValue, GetConfigResult) {
	if _, ok := options[opt]; !ok {
		return ConfigValue{}, ConfigBadValue
	}
	v, here := globalConfig.get(opt)
	if here {
		return v, ConfigOK
	}
	return v, ConfigOKInherited
}
