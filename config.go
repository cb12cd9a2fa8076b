package mist

import (
	"math"
	"strconv"

	"github.com/mistnet/mist/internal/config"
)

// ConfigOption is a configuration option ID (ESteamNetworkingConfigValue).
type ConfigOption int32

// Configuration options, with GNS's IDs. Their values come from
// internal/config, which holds the one option table.
const (
	OptInvalid                           ConfigOption = 0
	OptFakePacketLossSend                ConfigOption = ConfigOption(config.FakePacketLoss_Send)
	OptFakePacketLossRecv                ConfigOption = ConfigOption(config.FakePacketLoss_Recv)
	OptFakePacketLagSend                 ConfigOption = ConfigOption(config.FakePacketLag_Send)
	OptFakePacketLagRecv                 ConfigOption = ConfigOption(config.FakePacketLag_Recv)
	OptFakePacketReorderSend             ConfigOption = ConfigOption(config.FakePacketReorder_Send)
	OptFakePacketReorderRecv             ConfigOption = ConfigOption(config.FakePacketReorder_Recv)
	OptFakePacketReorderTime             ConfigOption = ConfigOption(config.FakePacketReorder_Time)
	OptSendBufferSize                    ConfigOption = ConfigOption(config.SendBufferSize)
	OptSendRateMin                       ConfigOption = ConfigOption(config.SendRateMin)
	OptSendRateMax                       ConfigOption = ConfigOption(config.SendRateMax)
	OptNagleTime                         ConfigOption = ConfigOption(config.NagleTime)
	OptLogLevelAckRTT                    ConfigOption = ConfigOption(config.LogLevel_AckRTT)
	OptLogLevelPacketDecode              ConfigOption = ConfigOption(config.LogLevel_PacketDecode)
	OptLogLevelMessage                   ConfigOption = ConfigOption(config.LogLevel_Message)
	OptLogLevelPacketGaps                ConfigOption = ConfigOption(config.LogLevel_PacketGaps)
	OptLogLevelP2PRendezvous             ConfigOption = ConfigOption(config.LogLevel_P2PRendezvous)
	OptLogLevelSDRRelayPings             ConfigOption = ConfigOption(config.LogLevel_SDRRelayPings)
	OptIPAllowWithoutAuth                ConfigOption = ConfigOption(config.IP_AllowWithoutAuth)
	OptTimeoutInitial                    ConfigOption = ConfigOption(config.TimeoutInitial)
	OptTimeoutConnected                  ConfigOption = ConfigOption(config.TimeoutConnected)
	OptFakePacketDupSend                 ConfigOption = ConfigOption(config.FakePacketDup_Send)
	OptFakePacketDupRecv                 ConfigOption = ConfigOption(config.FakePacketDup_Recv)
	OptFakePacketDupTimeMax              ConfigOption = ConfigOption(config.FakePacketDup_TimeMax)
	OptMTUPacketSize                     ConfigOption = ConfigOption(config.MTU_PacketSize)
	OptMTUDataSize                       ConfigOption = ConfigOption(config.MTU_DataSize)
	OptUnencrypted                       ConfigOption = ConfigOption(config.Unencrypted)
	OptSymmetricConnect                  ConfigOption = ConfigOption(config.SymmetricConnect)
	OptLocalVirtualPort                  ConfigOption = ConfigOption(config.LocalVirtualPort)
	OptDualWifiEnable                    ConfigOption = ConfigOption(config.DualWifi_Enable)
	OptConnectionUserData                ConfigOption = ConfigOption(config.ConnectionUserData)
	OptPacketTraceMaxBytes               ConfigOption = ConfigOption(config.PacketTraceMaxBytes)
	OptFakeRateLimitSendRate             ConfigOption = ConfigOption(config.FakeRateLimit_Send_Rate)
	OptFakeRateLimitSendBurst            ConfigOption = ConfigOption(config.FakeRateLimit_Send_Burst)
	OptFakeRateLimitRecvRate             ConfigOption = ConfigOption(config.FakeRateLimit_Recv_Rate)
	OptFakeRateLimitRecvBurst            ConfigOption = ConfigOption(config.FakeRateLimit_Recv_Burst)
	OptEnableDiagnosticsUI               ConfigOption = ConfigOption(config.EnableDiagnosticsUI)
	OptRecvBufferSize                    ConfigOption = ConfigOption(config.RecvBufferSize)
	OptRecvBufferMessages                ConfigOption = ConfigOption(config.RecvBufferMessages)
	OptRecvMaxMessageSize                ConfigOption = ConfigOption(config.RecvMaxMessageSize)
	OptRecvMaxSegmentsPerPacket          ConfigOption = ConfigOption(config.RecvMaxSegmentsPerPacket)
	OptOutOfOrderCorrectionWindow        ConfigOption = ConfigOption(config.OutOfOrderCorrectionWindowMicroseconds)
	OptIPLocalHostAllowWithoutAuth       ConfigOption = ConfigOption(config.IPLocalHost_AllowWithoutAuth)
	OptFakePacketJitterSendAvg           ConfigOption = ConfigOption(config.FakePacketJitter_Send_Avg)
	OptFakePacketJitterSendMax           ConfigOption = ConfigOption(config.FakePacketJitter_Send_Max)
	OptFakePacketJitterSendPct           ConfigOption = ConfigOption(config.FakePacketJitter_Send_Pct)
	OptFakePacketJitterRecvAvg           ConfigOption = ConfigOption(config.FakePacketJitter_Recv_Avg)
	OptFakePacketJitterRecvMax           ConfigOption = ConfigOption(config.FakePacketJitter_Recv_Max)
	OptFakePacketJitterRecvPct           ConfigOption = ConfigOption(config.FakePacketJitter_Recv_Pct)
	OptSendTimeSincePreviousPacket       ConfigOption = ConfigOption(config.SendTimeSincePreviousPacket)
	OptP2PSTUNServerList                 ConfigOption = ConfigOption(config.P2P_STUN_ServerList)
	OptP2PTransportICEEnable             ConfigOption = ConfigOption(config.P2P_Transport_ICE_Enable)
	OptP2PTransportICEPenalty            ConfigOption = ConfigOption(config.P2P_Transport_ICE_Penalty)
	OptP2PTURNServerList                 ConfigOption = ConfigOption(config.P2P_TURN_ServerList)
	OptP2PTURNUserList                   ConfigOption = ConfigOption(config.P2P_TURN_UserList)
	OptP2PTURNPassList                   ConfigOption = ConfigOption(config.P2P_TURN_PassList)
	OptP2PTransportICEImplementation     ConfigOption = ConfigOption(config.P2P_Transport_ICE_Implementation)
	OptCallbackConnectionStatusChanged   ConfigOption = ConfigOption(config.Callback_ConnectionStatusChanged)
	OptCallbackAuthStatusChanged         ConfigOption = ConfigOption(config.Callback_AuthStatusChanged)
	OptCallbackCreateConnectionSignaling ConfigOption = ConfigOption(config.Callback_CreateConnectionSignaling)
)

// ConfigDataType is the type of an option's value (ESteamNetworkingConfigDataType).
type ConfigDataType int32

// Config data types.
const (
	ConfigInt32  ConfigDataType = ConfigDataType(config.Int32)
	ConfigInt64  ConfigDataType = ConfigDataType(config.Int64)
	ConfigFloat  ConfigDataType = ConfigDataType(config.Float)
	ConfigString ConfigDataType = ConfigDataType(config.String)
	ConfigPtr    ConfigDataType = ConfigDataType(config.Ptr)
)

// ConfigScope is where a value is set (ESteamNetworkingConfigScope).
type ConfigScope int32

// Config scopes.
const (
	ScopeGlobal           ConfigScope = ConfigScope(config.GlobalScope)
	ScopeSocketsInterface ConfigScope = ConfigScope(config.InterfaceScope)
	ScopeListenSocket     ConfigScope = ConfigScope(config.ListenSocketScope)
	ScopeConnection       ConfigScope = ConfigScope(config.ConnectionScope)
)

// GetConfigResult is the outcome of reading an option
// (ESteamNetworkingGetConfigValueResult).
type GetConfigResult int32

// Config read outcomes.
const (
	ConfigBadValue       GetConfigResult = GetConfigResult(config.BadValue)
	ConfigBadScopeObj    GetConfigResult = GetConfigResult(config.BadScopeObj)
	ConfigBufferTooSmall GetConfigResult = GetConfigResult(config.BufferTooSmall)
	ConfigOK             GetConfigResult = GetConfigResult(config.OK)
	ConfigOKInherited    GetConfigResult = GetConfigResult(config.OKInherited)
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

// toValue converts a public value to the configuration table's form.
func toValue(v ConfigValue) config.Value {
	return config.Value{Type: config.DataType(v.Type), Int: v.i, Float: v.f, Str: v.s, Ptr: v.p}
}

func fromValue(opt ConfigOption, v config.Value) ConfigValue {
	return ConfigValue{Option: opt, Type: ConfigDataType(v.Type), i: v.Int, f: v.Float, s: v.Str, p: v.Ptr}
}

// ConfigOptionName returns GNS's name for opt ("TimeoutInitial"), or "" if
// the option is unknown.
func ConfigOptionName(opt ConfigOption) string {
	if o, ok := config.ByID(config.ID(opt)); ok {
		return o.Name
	}
	return ""
}

// ConfigOptionByName looks an option up by its GNS name.
func ConfigOptionByName(name string) (ConfigOption, bool) {
	o, ok := config.ByName(name)
	if !ok {
		return OptInvalid, false
	}
	return ConfigOption(o.ID), true
}

// ConfigOptionType returns the data type of opt, or 0 if it is unknown.
func ConfigOptionType(opt ConfigOption) ConfigDataType {
	if o, ok := config.ByID(config.ID(opt)); ok {
		return ConfigDataType(o.Type)
	}
	return 0
}

// configStore is one scope of the configuration tree (internal/config):
// global, interface, listen socket or connection. Reads inherit from the
// scopes above.
type configStore struct{ sc *config.Scope }

// child makes a scope of the given kind below c.
func (c *configStore) child(kind config.ScopeKind) *configStore {
	sc, err := c.sc.NewChild(kind)
	if err != nil {
		panic("mist: bad config scope nesting: " + err.Error()) // a programming error
	}
	return &configStore{sc: sc}
}

// get returns the effective value of opt and whether it was set here.
func (c *configStore) get(opt ConfigOption) (ConfigValue, bool) {
	v, r := c.sc.Get(config.ID(opt))
	return fromValue(opt, v), r == config.OK
}

func (c *configStore) int(opt ConfigOption) int64 { return c.sc.GetInt(config.ID(opt)) }

// set converts, clamps and stores v; false if GNS would refuse it.
func (c *configStore) set(v ConfigValue) bool {
	tv := toValue(v)
	return c.sc.Set(config.ID(v.Option), &tv) == nil
}

// unset returns opt to inheriting (to its default at global scope).
func (c *configStore) unset(opt ConfigOption) bool { return c.sc.Set(config.ID(opt), nil) == nil }

// lockConnection freezes the values GNS locks once a connection starts.
func (c *configStore) lockConnection() { c.sc.LockConnection() }

// applyOptions applies creation-time options at a listen-socket or
// connection scope. Any failure makes creation fail, as in GNS.
func (c *configStore) applyOptions(opts []ConfigValue) bool {
	for _, v := range opts {
		if !c.set(v) {
			return false
		}
	}
	return true
}

// globalConfig is the process-wide root of the configuration tree.
var globalConfig = &configStore{sc: config.NewGlobal()}

// SetGlobalConfigValue sets an option at global scope for the whole process.
// Out-of-range values are clamped; unknown options and impossible type
// conversions return false.
func SetGlobalConfigValue(v ConfigValue) bool { return globalConfig.set(v) }

// ResetGlobalConfigValue returns a global option to its default.
func ResetGlobalConfigValue(opt ConfigOption) bool { return globalConfig.unset(opt) }

// GlobalConfigValue reads an option at global scope.
func GlobalConfigValue(opt ConfigOption) (ConfigValue, GetConfigResult) {
	v, r := globalConfig.sc.Get(config.ID(opt))
	return fromValue(opt, v), GetConfigResult(r)
}
