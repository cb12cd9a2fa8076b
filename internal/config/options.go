// Package config is GNS's configuration option table and the scoped values
// that connections read.
//
// # Options
//
// Every ESteamNetworkingConfigValue is an [Option]: its numeric [ID], its
// name without the k_ESteamNetworkingConfig_ prefix ("NagleTime"), its
// [DataType], whether it is global-only or a connection option, its default
// (the open-source build's) and its range. [ByID] and [ByName] find them.
// Options that only exist in Valve's Steam-linked builds (relay network,
// dual Wi-Fi, diagnostics UI) are listed with Available false: setting or
// reading them fails as it does in the open-source library.
//
// # Scopes
//
// Values live in a tree of [Scope]s: global ← sockets interface ← listen
// socket ← connection. A connection option not set at a scope is inherited
// from the nearest ancestor that sets it, at read time; global-only options
// exist at global scope alone. See [Scope.Set] for GNS's conversion and
// clamping rules, and [Scope.Lock] for values frozen once a connection
// starts. [Scope.Connection] resolves the options a connection reads on its
// hot path into a plain struct.
package config

import "math"

// ID is an ESteamNetworkingConfigValue.
type ID int32

// DataType is an ESteamNetworkingConfigDataType.
type DataType int32

// Data types.
const (
	Int32  DataType = 1
	Int64  DataType = 2
	Float  DataType = 3
	String DataType = 4
	Ptr    DataType = 5
)

func (t DataType) String() string {
	switch t {
	case Int32:
		return "Int32"
	case Int64:
		return "Int64"
	case Float:
		return "Float"
	case String:
		return "String"
	case Ptr:
		return "Ptr"
	}
	return "DataType(?)"
}

// Option IDs (ESteamNetworkingConfigValue), named as GNS names them.
const (
	FakePacketLoss_Send                            ID = 2
	FakePacketLoss_Recv                            ID = 3
	FakePacketLag_Send                             ID = 4
	FakePacketLag_Recv                             ID = 5
	FakePacketReorder_Send                         ID = 6
	FakePacketReorder_Recv                         ID = 7
	FakePacketReorder_Time                         ID = 8
	SendBufferSize                                 ID = 9
	SendRateMin                                    ID = 10
	SendRateMax                                    ID = 11
	NagleTime                                      ID = 12
	LogLevel_AckRTT                                ID = 13
	LogLevel_PacketDecode                          ID = 14
	LogLevel_Message                               ID = 15
	LogLevel_PacketGaps                            ID = 16
	LogLevel_P2PRendezvous                         ID = 17
	LogLevel_SDRRelayPings                         ID = 18
	SDRClient_ConsecutitivePingTimeoutsFailInitial ID = 19
	SDRClient_ConsecutitivePingTimeoutsFail        ID = 20
	SDRClient_MinPingsBeforePingAccurate           ID = 21
	SDRClient_SingleSocket                         ID = 22
	IP_AllowWithoutAuth                            ID = 23
	TimeoutInitial                                 ID = 24
	TimeoutConnected                               ID = 25
	FakePacketDup_Send                             ID = 26
	FakePacketDup_Recv                             ID = 27
	FakePacketDup_TimeMax                          ID = 28
	SDRClient_ForceRelayCluster                    ID = 29
	SDRClient_DevTicket                            ID = 30
	SDRClient_ForceProxyAddr                       ID = 31
	MTU_PacketSize                                 ID = 32
	MTU_DataSize                                   ID = 33
	Unencrypted                                    ID = 34
	SDRClient_FakeClusterPing                      ID = 36
	SymmetricConnect                               ID = 37
	LocalVirtualPort                               ID = 38
	DualWifi_Enable                                ID = 39
	ConnectionUserData                             ID = 40
	PacketTraceMaxBytes                            ID = 41
	FakeRateLimit_Send_Rate                        ID = 42
	FakeRateLimit_Send_Burst                       ID = 43
	FakeRateLimit_Recv_Rate                        ID = 44
	FakeRateLimit_Recv_Burst                       ID = 45
	EnableDiagnosticsUI                            ID = 46
	RecvBufferSize                                 ID = 47
	RecvBufferMessages                             ID = 48
	RecvMaxMessageSize                             ID = 49
	RecvMaxSegmentsPerPacket                       ID = 50
	OutOfOrderCorrectionWindowMicroseconds         ID = 51
	IPLocalHost_AllowWithoutAuth                   ID = 52
	FakePacketJitter_Send_Avg                      ID = 53
	FakePacketJitter_Send_Max                      ID = 54
	FakePacketJitter_Send_Pct                      ID = 55
	FakePacketJitter_Recv_Avg                      ID = 56
	FakePacketJitter_Recv_Max                      ID = 57
	FakePacketJitter_Recv_Pct                      ID = 58
	SendTimeSincePreviousPacket                    ID = 59
	SDRClient_LimitPingProbesToNearestN            ID = 60
	P2P_STUN_ServerList                            ID = 103
	P2P_Transport_ICE_Enable                       ID = 104
	P2P_Transport_ICE_Penalty                      ID = 105
	P2P_Transport_SDR_Penalty                      ID = 106
	P2P_TURN_ServerList                            ID = 107
	P2P_TURN_UserList                              ID = 108
	P2P_TURN_PassList                              ID = 109
	P2P_Transport_ICE_Implementation               ID = 110
	Callback_ConnectionStatusChanged               ID = 201
	Callback_AuthStatusChanged                     ID = 202
	Callback_RelayNetworkStatusChanged             ID = 203
	Callback_MessagesSessionRequest                ID = 204
	Callback_MessagesSessionFailed                 ID = 205
	Callback_CreateConnectionSignaling             ID = 206
	Callback_FakeIPResult                          ID = 207
	SDRClient_EnableTOSProbes                      ID = 998
	ECN                                            ID = 999
)

// P2P_Transport_ICE_Enable bits.
const (
	ICEEnableDefault = -1
	ICEEnableDisable = 0
	ICEEnableRelay   = 1
	ICEEnablePrivate = 2
	ICEEnablePublic  = 4
	ICEEnableAll     = 0x7fffffff
)

// Log levels (ESteamNetworkingSocketsDebugOutputType) used as LogLevel_*
// values.
const (
	LogNone       = 0
	LogBug        = 1
	LogError      = 2
	LogImportant  = 3
	LogWarning    = 4
	LogMsg        = 5
	LogVerbose    = 6
	LogDebug      = 7
	LogEverything = 8
)

// NoFragmentHeaderReserve is what MTU_DataSize leaves out of MTU_PacketSize
// for headers.
const NoFragmentHeaderReserve = 100

// Option describes one configuration option.
type Option struct {
	ID   ID
	Name string // without the k_ESteamNetworkingConfig_ prefix
	Type DataType
	// GlobalOnly options can be set and read at global scope only; the
	// others are connection options, inherited down the scope tree.
	GlobalOnly bool
	// Default is the value at global scope until set (the open-source
	// build's default).
	Default Value
	// HasRange says whether Min and Max clamp numeric values.
	HasRange bool
	Min, Max float64
	// Locks marks values that freeze when a connection starts (see
	// [Scope.Lock]).
	Locks bool
	// ReadOnly options cannot be set (MTU_DataSize).
	ReadOnly bool
	// Available is false for options compiled out of the open-source
	// library; they behave as unknown.
	Available bool

	index int // position in the value arrays
}

const maxInt32 = math.MaxInt32

func i32(id ID, name string, def, lo, hi int32) Option {
	return Option{ID: id, Name: name, Type: Int32, Default: Int32Value(def), HasRange: true, Min: float64(lo), Max: float64(hi), Available: true}
}

func f32(id ID, name string, def, lo, hi float32) Option {
	return Option{ID: id, Name: name, Type: Float, Default: FloatValue(def), HasRange: true, Min: float64(lo), Max: float64(hi), Available: true}
}

func str(id ID, name string) Option {
	return Option{ID: id, Name: name, Type: String, Default: StringValue(""), Available: true}
}

func ptr(id ID, name string) Option {
	return Option{ID: id, Name: name, Type: Ptr, Default: Value{Type: Ptr}, Available: true}
}

func global(o Option) Option      { o.GlobalOnly = true; return o }
func locking(o Option) Option     { o.Locks = true; return o }
func unavailable(o Option) Option { o.Available = false; return o }
func readOnly(o Option) Option    { o.ReadOnly = true; return o }
func unbounded(o Option) Option   { o.HasRange = false; return o }

// table lists every option, in ID order.
var table = []Option{
	global(f32(FakePacketLoss_Send, "FakePacketLoss_Send", 0, 0, 100)),
	global(f32(FakePacketLoss_Recv, "FakePacketLoss_Recv", 0, 0, 100)),
	global(i32(FakePacketLag_Send, "FakePacketLag_Send", 0, 0, 5000)),
	global(i32(FakePacketLag_Recv, "FakePacketLag_Recv", 0, 0, 5000)),
	global(f32(FakePacketReorder_Send, "FakePacketReorder_Send", 0, 0, 100)),
	global(f32(FakePacketReorder_Recv, "FakePacketReorder_Recv", 0, 0, 100)),
	global(i32(FakePacketReorder_Time, "FakePacketReorder_Time", 15, 0, 5000)),
	i32(SendBufferSize, "SendBufferSize", 512*1024, 4*1024, 0x10000000),
	// GNS clamps both rates at 256 MiB/s; mist lets them go to the top of
	// int32 so that a fast path is not capped below what it carries.
	i32(SendRateMin, "SendRateMin", 256*1024, 1024, math.MaxInt32),
	i32(SendRateMax, "SendRateMax", 256*1024, 1024, math.MaxInt32),
	i32(NagleTime, "NagleTime", 5000, 0, 20000),
	i32(LogLevel_AckRTT, "LogLevel_AckRTT", LogWarning, LogError, LogEverything),
	i32(LogLevel_PacketDecode, "LogLevel_PacketDecode", LogWarning, LogError, LogEverything),
	i32(LogLevel_Message, "LogLevel_Message", LogWarning, LogError, LogEverything),
	i32(LogLevel_PacketGaps, "LogLevel_PacketGaps", LogWarning, LogError, LogEverything),
	i32(LogLevel_P2PRendezvous, "LogLevel_P2PRendezvous", LogWarning, LogError, LogEverything),
	unavailable(global(i32(LogLevel_SDRRelayPings, "LogLevel_SDRRelayPings", LogWarning, LogError, LogEverything))),
	unavailable(global(unbounded(i32(SDRClient_ConsecutitivePingTimeoutsFailInitial, "SDRClient_ConsecutitivePingTimeoutsFailInitial", 0, 0, 0)))),
	unavailable(global(unbounded(i32(SDRClient_ConsecutitivePingTimeoutsFail, "SDRClient_ConsecutitivePingTimeoutsFail", 0, 0, 0)))),
	unavailable(global(unbounded(i32(SDRClient_MinPingsBeforePingAccurate, "SDRClient_MinPingsBeforePingAccurate", 0, 0, 0)))),
	unavailable(global(unbounded(i32(SDRClient_SingleSocket, "SDRClient_SingleSocket", 0, 0, 0)))),
	locking(i32(IP_AllowWithoutAuth, "IP_AllowWithoutAuth", 2, 0, 2)),
	i32(TimeoutInitial, "TimeoutInitial", 10000, 0, maxInt32),
	i32(TimeoutConnected, "TimeoutConnected", 10000, 0, maxInt32),
	global(f32(FakePacketDup_Send, "FakePacketDup_Send", 0, 0, 100)),
	global(f32(FakePacketDup_Recv, "FakePacketDup_Recv", 0, 0, 100)),
	global(i32(FakePacketDup_TimeMax, "FakePacketDup_TimeMax", 10, 0, 5000)),
	unavailable(global(str(SDRClient_ForceRelayCluster, "SDRClient_ForceRelayCluster"))),
	unavailable(locking(str(SDRClient_DevTicket, "SDRClient_DevTicket"))),
	unavailable(global(str(SDRClient_ForceProxyAddr, "SDRClient_ForceProxyAddr"))),
	i32(MTU_PacketSize, "MTU_PacketSize", 1300, 200, 1300),
	readOnly(i32(MTU_DataSize, "MTU_DataSize", 1300-NoFragmentHeaderReserve, 0, 1300)),
	locking(i32(Unencrypted, "Unencrypted", 0, 0, 3)),
	unavailable(global(str(SDRClient_FakeClusterPing, "SDRClient_FakeClusterPing"))),
	locking(i32(SymmetricConnect, "SymmetricConnect", 0, 0, 1)),
	i32(LocalVirtualPort, "LocalVirtualPort", -1, -1, maxInt32),
	unavailable(i32(DualWifi_Enable, "DualWifi_Enable", 1, 0, 2)),
	{ID: ConnectionUserData, Name: "ConnectionUserData", Type: Int64, Default: Int64Value(-1), Available: true},
	global(i32(PacketTraceMaxBytes, "PacketTraceMaxBytes", -1, -1, 99999)),
	global(i32(FakeRateLimit_Send_Rate, "FakeRateLimit_Send_Rate", 0, 0, 1024*1024*1024)),
	global(i32(FakeRateLimit_Send_Burst, "FakeRateLimit_Send_Burst", 16*1024, 0, 1024*1024)),
	global(i32(FakeRateLimit_Recv_Rate, "FakeRateLimit_Recv_Rate", 0, 0, 1024*1024*1024)),
	global(i32(FakeRateLimit_Recv_Burst, "FakeRateLimit_Recv_Burst", 16*1024, 0, 1024*1024)),
	unavailable(i32(EnableDiagnosticsUI, "EnableDiagnosticsUI", 1, 0, 1)),
	i32(RecvBufferSize, "RecvBufferSize", 1024*1024, 4*1024, 0x10000000),
	i32(RecvBufferMessages, "RecvBufferMessages", 1000, 2, 0x10000000),
	i32(RecvMaxMessageSize, "RecvMaxMessageSize", 512*1024, 64, 0x10000000),
	i32(RecvMaxSegmentsPerPacket, "RecvMaxSegmentsPerPacket", 1300, 1, 1300),
	global(i32(OutOfOrderCorrectionWindowMicroseconds, "OutOfOrderCorrectionWindowMicroseconds", 1000, 0, 50000)),
	locking(i32(IPLocalHost_AllowWithoutAuth, "IPLocalHost_AllowWithoutAuth", 2, 0, 2)),
	global(f32(FakePacketJitter_Send_Avg, "FakePacketJitter_Send_Avg", 0, 0, 2000)),
	global(f32(FakePacketJitter_Send_Max, "FakePacketJitter_Send_Max", 100, 0, 5000)),
	global(f32(FakePacketJitter_Send_Pct, "FakePacketJitter_Send_Pct", 75, 0, 100)),
	global(f32(FakePacketJitter_Recv_Avg, "FakePacketJitter_Recv_Avg", 0, 0, 2000)),
	global(f32(FakePacketJitter_Recv_Max, "FakePacketJitter_Recv_Max", 100, 0, 5000)),
	global(f32(FakePacketJitter_Recv_Pct, "FakePacketJitter_Recv_Pct", 75, 0, 100)),
	i32(SendTimeSincePreviousPacket, "SendTimeSincePreviousPacket", -1, -1, 1),
	unavailable(global(unbounded(i32(SDRClient_LimitPingProbesToNearestN, "SDRClient_LimitPingProbesToNearestN", 0, 0, 0)))),
	str(P2P_STUN_ServerList, "P2P_STUN_ServerList"),
	locking(i32(P2P_Transport_ICE_Enable, "P2P_Transport_ICE_Enable", ICEEnableAll, ICEEnableDisable, ICEEnableAll)),
	i32(P2P_Transport_ICE_Penalty, "P2P_Transport_ICE_Penalty", 0, 0, maxInt32),
	unavailable(i32(P2P_Transport_SDR_Penalty, "P2P_Transport_SDR_Penalty", 0, 0, maxInt32)),
	str(P2P_TURN_ServerList, "P2P_TURN_ServerList"),
	str(P2P_TURN_UserList, "P2P_TURN_UserList"),
	str(P2P_TURN_PassList, "P2P_TURN_PassList"),
	locking(i32(P2P_Transport_ICE_Implementation, "P2P_Transport_ICE_Implementation", 0, 0, 2)),
	ptr(Callback_ConnectionStatusChanged, "Callback_ConnectionStatusChanged"),
	global(ptr(Callback_AuthStatusChanged, "Callback_AuthStatusChanged")),
	unavailable(global(ptr(Callback_RelayNetworkStatusChanged, "Callback_RelayNetworkStatusChanged"))),
	global(ptr(Callback_MessagesSessionRequest, "Callback_MessagesSessionRequest")),
	global(ptr(Callback_MessagesSessionFailed, "Callback_MessagesSessionFailed")),
	global(ptr(Callback_CreateConnectionSignaling, "Callback_CreateConnectionSignaling")),
	global(ptr(Callback_FakeIPResult, "Callback_FakeIPResult")),
	unavailable(global(unbounded(i32(SDRClient_EnableTOSProbes, "SDRClient_EnableTOSProbes", 0, 0, 0)))),
	global(i32(ECN, "ECN", -1, -1, 2)),
}

var (
	byID   = make(map[ID]*Option, len(table))
	byName = make(map[string]*Option, len(table))
)

func init() {
	for i := range table {
		o := &table[i]
		o.index = i
		byID[o.ID] = o
		byName[o.Name] = o
	}
}

// ByID returns the option with the given ID, including options that are not
// available in this build.
func ByID(id ID) (*Option, bool) {
	o, ok := byID[id]
	return o, ok
}

// ByName returns the option with the given name (case-sensitive, without
// prefix, e.g. "NagleTime").
func ByName(name string) (*Option, bool) {
	o, ok := byName[name]
	return o, ok
}

// Options returns every option in ID order. The result must not be modified.
func Options() []Option { return table }

func (id ID) String() string {
	if o, ok := byID[id]; ok {
		return o.Name
	}
	return "ConfigValue(?)"
}
