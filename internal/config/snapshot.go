package config

import "time"

// Conn is the resolved configuration of one connection: what the connection
// layer reads on its hot path, without map lookups or locks. Take it with
// [Scope.Connection] and refresh it when [Scope.Generation] changes.
type Conn struct {
	Generation uint64 // tree generation the snapshot was taken at

	TimeoutInitial   time.Duration
	TimeoutConnected time.Duration

	SendBufferSize           int
	RecvBufferSize           int
	RecvBufferMessages       int
	RecvMaxMessageSize       int
	RecvMaxSegmentsPerPacket int

	SendRateMin int // bytes per second
	SendRateMax int
	NagleTime   time.Duration

	MTUPacketSize int
	MTUDataSize   int // MTUPacketSize - 100

	UserData int64

	IPAllowWithoutAuth          int
	IPLocalHostAllowWithoutAuth int
	Unencrypted                 int
	SymmetricConnect            bool
	LocalVirtualPort            int
	SendTimeSincePreviousPacket int

	ICEEnable            int
	ICEPenalty           time.Duration
	ICEImplementation    int
	STUNServerList       string
	TURNServerList       string
	TURNUserList         string
	TURNPassList         string
	StatusChangedHandler any // Callback_ConnectionStatusChanged

	LogLevelAckRTT        int
	LogLevelPacketDecode  int
	LogLevelMessage       int
	LogLevelPacketGaps    int
	LogLevelP2PRendezvous int
}

// Connection resolves every connection option as seen from s.
func (s *Scope) Connection() Conn {
	s.tree.mu.RLock()
	defer s.tree.mu.RUnlock()
	gen := s.tree.gen.Load()
	i := func(id ID) int { return int(s.resolve(byID[id].index).Int) }
	ms := func(id ID) time.Duration { return time.Duration(i(id)) * time.Millisecond }
	st := func(id ID) string { return s.resolve(byID[id].index).Str }
	mtu := i(MTU_PacketSize)
	return Conn{
		Generation:                  gen,
		TimeoutInitial:              ms(TimeoutInitial),
		TimeoutConnected:            ms(TimeoutConnected),
		SendBufferSize:              i(SendBufferSize),
		RecvBufferSize:              i(RecvBufferSize),
		RecvBufferMessages:          i(RecvBufferMessages),
		RecvMaxMessageSize:          i(RecvMaxMessageSize),
		RecvMaxSegmentsPerPacket:    i(RecvMaxSegmentsPerPacket),
		SendRateMin:                 i(SendRateMin),
		SendRateMax:                 i(SendRateMax),
		NagleTime:                   time.Duration(i(NagleTime)) * time.Microsecond,
		MTUPacketSize:               mtu,
		MTUDataSize:                 max(0, mtu-NoFragmentHeaderReserve),
		UserData:                    s.resolve(byID[ConnectionUserData].index).Int,
		IPAllowWithoutAuth:          i(IP_AllowWithoutAuth),
		IPLocalHostAllowWithoutAuth: i(IPLocalHost_AllowWithoutAuth),
		Unencrypted:                 i(Unencrypted),
		SymmetricConnect:            i(SymmetricConnect) != 0,
		LocalVirtualPort:            i(LocalVirtualPort),
		SendTimeSincePreviousPacket: i(SendTimeSincePreviousPacket),
		ICEEnable:                   i(P2P_Transport_ICE_Enable),
		ICEPenalty:                  ms(P2P_Transport_ICE_Penalty),
		ICEImplementation:           i(P2P_Transport_ICE_Implementation),
		STUNServerList:              st(P2P_STUN_ServerList),
		TURNServerList:              st(P2P_TURN_ServerList),
		TURNUserList:                st(P2P_TURN_UserList),
		TURNPassList:                st(P2P_TURN_PassList),
		StatusChangedHandler:        s.resolve(byID[Callback_ConnectionStatusChanged].index).Ptr,
		LogLevelAckRTT:              i(LogLevel_AckRTT),
		LogLevelPacketDecode:        i(LogLevel_PacketDecode),
		LogLevelMessage:             i(LogLevel_Message),
		LogLevelPacketGaps:          i(LogLevel_PacketGaps),
		LogLevelP2PRendezvous:       i(LogLevel_P2PRendezvous),
	}
}

// FakeDirection is the fake network conditions applied to one direction of
// UDP traffic (the FakePacket* options). Percentages are 0..100.
type FakeDirection struct {
	LossPct    float32
	Lag        time.Duration
	ReorderPct float32
	DupPct     float32
	JitterAvg  time.Duration // 0 disables jitter
	JitterMax  time.Duration
	JitterPct  float32
	RateLimit  int // bytes per second, 0 = off
	RateBurst  int // bytes
}

// FakeNetwork is the process-wide fake network configuration.
type FakeNetwork struct {
	Send, Recv  FakeDirection
	ReorderTime time.Duration
	DupTimeMax  time.Duration
}

// Fake resolves the global FakePacket* and FakeRateLimit* options (from the
// global scope of s's tree).
func (s *Scope) Fake() FakeNetwork {
	g := s
	for g.parent != nil {
		g = g.parent
	}
	g.tree.mu.RLock()
	defer g.tree.mu.RUnlock()
	v := func(id ID) Value { return g.resolve(byID[id].index) }
	ms := func(id ID) time.Duration { return time.Duration(v(id).Int) * time.Millisecond }
	fms := func(id ID) time.Duration { return time.Duration(float64(v(id).Float) * float64(time.Millisecond)) }
	return FakeNetwork{
		Send: FakeDirection{
			LossPct: v(FakePacketLoss_Send).Float, Lag: ms(FakePacketLag_Send),
			ReorderPct: v(FakePacketReorder_Send).Float, DupPct: v(FakePacketDup_Send).Float,
			JitterAvg: fms(FakePacketJitter_Send_Avg), JitterMax: fms(FakePacketJitter_Send_Max),
			JitterPct: v(FakePacketJitter_Send_Pct).Float,
			RateLimit: int(v(FakeRateLimit_Send_Rate).Int), RateBurst: int(v(FakeRateLimit_Send_Burst).Int),
		},
		Recv: FakeDirection{
			LossPct: v(FakePacketLoss_Recv).Float, Lag: ms(FakePacketLag_Recv),
			ReorderPct: v(FakePacketReorder_Recv).Float, DupPct: v(FakePacketDup_Recv).Float,
			JitterAvg: fms(FakePacketJitter_Recv_Avg), JitterMax: fms(FakePacketJitter_Recv_Max),
			JitterPct: v(FakePacketJitter_Recv_Pct).Float,
			RateLimit: int(v(FakeRateLimit_Recv_Rate).Int), RateBurst: int(v(FakeRateLimit_Recv_Burst).Int),
		},
		ReorderTime: ms(FakePacketReorder_Time),
		DupTimeMax:  ms(FakePacketDup_TimeMax),
	}
}
