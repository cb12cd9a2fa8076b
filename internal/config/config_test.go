package config

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
)

func TestTableConsistency(t *testing.T) {
	seenName := map[string]bool{}
	for i, o := range Options() {
		if i > 0 && Options()[i-1].ID >= o.ID {
			t.Errorf("table not in ID order at %s", o.Name)
		}
		if seenName[o.Name] {
			t.Errorf("duplicate name %s", o.Name)
		}
		seenName[o.Name] = true
		if o.Default.Type != o.Type {
			t.Errorf("%s: default type %v, option type %v", o.Name, o.Default.Type, o.Type)
		}
		if o.HasRange && o.Available {
			d := float64(o.Default.Int)
			if o.Type == Float {
				d = float64(o.Default.Float)
			}
			if d < o.Min || d > o.Max {
				t.Errorf("%s: default %v outside [%v, %v]", o.Name, d, o.Min, o.Max)
			}
		}
		if got, ok := ByName(o.Name); !ok || got.ID != o.ID {
			t.Errorf("ByName(%q) = %v, %v", o.Name, got, ok)
		}
		if got, ok := ByID(o.ID); !ok || got.Name != o.Name {
			t.Errorf("ByID(%d) = %v, %v", o.ID, got, ok)
		}
	}
	if _, ok := ByName("nagletime"); ok {
		t.Error("ByName is case-sensitive")
	}
}

func TestDefaults(t *testing.T) {
	g := NewGlobal()
	tests := []struct {
		id   ID
		want Value
	}{
		{TimeoutInitial, Int32Value(10000)},
		{TimeoutConnected, Int32Value(10000)},
		{SendBufferSize, Int32Value(524288)},
		{RecvBufferSize, Int32Value(1048576)},
		{RecvBufferMessages, Int32Value(1000)},
		{RecvMaxMessageSize, Int32Value(524288)},
		{RecvMaxSegmentsPerPacket, Int32Value(1300)},
		{ConnectionUserData, Int64Value(-1)},
		{SendRateMin, Int32Value(262144)},
		{SendRateMax, Int32Value(262144)},
		{NagleTime, Int32Value(5000)},
		{IP_AllowWithoutAuth, Int32Value(2)},
		{IPLocalHost_AllowWithoutAuth, Int32Value(2)},
		{MTU_PacketSize, Int32Value(1300)},
		{MTU_DataSize, Int32Value(1200)},
		{Unencrypted, Int32Value(0)},
		{SymmetricConnect, Int32Value(0)},
		{LocalVirtualPort, Int32Value(-1)},
		{SendTimeSincePreviousPacket, Int32Value(-1)},
		{FakePacketLoss_Send, FloatValue(0)},
		{FakePacketReorder_Time, Int32Value(15)},
		{FakePacketDup_TimeMax, Int32Value(10)},
		{FakePacketJitter_Send_Max, FloatValue(100)},
		{FakePacketJitter_Recv_Pct, FloatValue(75)},
		{PacketTraceMaxBytes, Int32Value(-1)},
		{FakeRateLimit_Send_Burst, Int32Value(16384)},
		{OutOfOrderCorrectionWindowMicroseconds, Int32Value(1000)},
		{P2P_Transport_ICE_Enable, Int32Value(ICEEnableAll)},
		{P2P_STUN_ServerList, StringValue("")},
		{LogLevel_Message, Int32Value(LogWarning)},
		{ECN, Int32Value(-1)},
	}
	for _, tt := range tests {
		got, res := g.Get(tt.id)
		if res != OK || got != tt.want {
			t.Errorf("Get(%v) = %+v, %v; want %+v, OK", tt.id, got, res, tt.want)
		}
	}
}

func TestSetConversionAndClamping(t *testing.T) {
	tests := []struct {
		name    string
		id      ID
		in      Value
		want    Value
		wantErr error
	}{
		{"int32 in range", NagleTime, Int32Value(1234), Int32Value(1234), nil},
		{"int32 clamped high", NagleTime, Int32Value(50000), Int32Value(20000), nil},
		{"int32 clamped low", MTU_PacketSize, Int32Value(10), Int32Value(200), nil},
		{"int64 fits", NagleTime, Int64Value(7), Int32Value(7), nil},
		{"int64 too big", TimeoutInitial, Int64Value(1 << 40), Value{}, ErrBadType},
		{"float rounds half up", NagleTime, FloatValue(2.5), Int32Value(3), nil},
		{"negative float rounds half up", LocalVirtualPort, FloatValue(-0.5), Int32Value(0), nil},
		{"string to int", SendRateMin, StringValue("  300000xyz"), Int32Value(300000), nil},
		{"string not a number", SendRateMin, StringValue("fast"), Value{}, ErrBadType},
		{"int to float", FakePacketLoss_Send, Int32Value(12), FloatValue(12), nil},
		{"float clamped", FakePacketLoss_Send, FloatValue(150), FloatValue(100), nil},
		{"NaN float clamped to min", FakePacketLoss_Send, FloatValue(float32(math.NaN())), FloatValue(0), nil},
		{"string to float", FakePacketJitter_Send_Avg, StringValue("2.5e1ms"), FloatValue(25), nil},
		{"int to string", P2P_STUN_ServerList, Int32Value(-42), StringValue("-42"), nil},
		{"float to string", P2P_STUN_ServerList, FloatValue(0.25), StringValue("0.25"), nil},
		{"big float to string", P2P_STUN_ServerList, FloatValue(1e6), StringValue("1e+06"), nil},
		{"int64 user data unbounded", ConnectionUserData, Int64Value(math.MinInt64), Int64Value(math.MinInt64), nil},
		{"string to int64", ConnectionUserData, StringValue("-9000000000"), Int64Value(-9000000000), nil},
		{"ptr needs ptr", Callback_ConnectionStatusChanged, Int32Value(1), Value{}, ErrBadType},
		{"ptr from int rejected", Callback_AuthStatusChanged, Int64Value(1), Value{}, ErrBadType},
		{"int from ptr rejected", NagleTime, PtrValue(1), Value{}, ErrBadType},
		{"read-only", MTU_DataSize, Int32Value(1000), Value{}, ErrReadOnly},
		{"unknown", ID(12345), Int32Value(1), Value{}, ErrUnknownOption},
		{"compiled out", SDRClient_DevTicket, StringValue("x"), Value{}, ErrUnknownOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGlobal()
			err := g.Set(tt.id, &tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Set = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got, res := g.Get(tt.id)
			if res != OK || got.Type != tt.want.Type || got.Int != tt.want.Int || got.Str != tt.want.Str || got.Float != tt.want.Float {
				t.Fatalf("Get = %+v, %v; want %+v", got, res, tt.want)
			}
		})
	}
}

func TestInheritance(t *testing.T) {
	g := NewGlobal()
	iface, _ := g.NewChild(InterfaceScope)
	ls, _ := iface.NewChild(ListenSocketScope)
	conn, _ := ls.NewChild(ConnectionScope)

	if v, res := conn.Get(NagleTime); res != OKInherited || v.Int != 5000 {
		t.Fatalf("inherited default: %+v %v", v, res)
	}
	mustSet(t, g, NagleTime, Int32Value(100))
	if v, _ := conn.Get(NagleTime); v.Int != 100 {
		t.Fatalf("global change not seen at read time: %d", v.Int)
	}
	mustSet(t, ls, NagleTime, Int32Value(200))
	if v, res := conn.Get(NagleTime); res != OKInherited || v.Int != 200 {
		t.Fatalf("listen socket value: %+v %v", v, res)
	}
	if v, res := ls.Get(NagleTime); res != OK || v.Int != 200 {
		t.Fatalf("value set at scope: %+v %v", v, res)
	}
	mustSet(t, conn, NagleTime, Int32Value(300))
	if v, res := conn.Get(NagleTime); res != OK || v.Int != 300 {
		t.Fatalf("connection value: %+v %v", v, res)
	}
	// nil resets to inherit below global...
	if err := conn.Set(NagleTime, nil); err != nil {
		t.Fatal(err)
	}
	if v, res := conn.Get(NagleTime); res != OKInherited || v.Int != 200 {
		t.Fatalf("after reset: %+v %v", v, res)
	}
	// ...and to the default at global scope.
	if err := g.Set(NagleTime, nil); err != nil {
		t.Fatal(err)
	}
	if v, res := g.Get(NagleTime); res != OK || v.Int != 5000 {
		t.Fatalf("global reset: %+v %v", v, res)
	}

	// Global-only options exist at global scope alone.
	if err := ls.Set(FakePacketLoss_Send, ptrTo(FloatValue(5))); !errors.Is(err, ErrBadScope) {
		t.Fatalf("global-only at listen socket: %v", err)
	}
	if _, res := conn.Get(FakePacketLag_Recv); res != BadScopeObj {
		t.Fatalf("global-only read at connection: %v", res)
	}
	if _, res := conn.Get(ID(777)); res != BadValue {
		t.Fatalf("unknown option read: %v", res)
	}

	// MTU_DataSize follows MTU_PacketSize, including inheritance.
	mustSet(t, ls, MTU_PacketSize, Int32Value(1000))
	if v, res := conn.Get(MTU_DataSize); res != OKInherited || v.Int != 900 {
		t.Fatalf("MTU_DataSize: %+v %v", v, res)
	}

	if _, err := conn.NewChild(ConnectionScope); err == nil {
		t.Fatal("connection below connection accepted")
	}
}

func TestConnectionUserDataBoundAtCreation(t *testing.T) {
	g := NewGlobal()
	ls, _ := g.NewChild(ListenSocketScope)
	mustSet(t, ls, ConnectionUserData, Int64Value(77))
	conn, _ := ls.NewChild(ConnectionScope)
	mustSet(t, ls, ConnectionUserData, Int64Value(88))
	if v, res := conn.Get(ConnectionUserData); res != OK || v.Int != 77 {
		t.Fatalf("user data = %+v %v, want 77 bound at creation", v, res)
	}
	if err := conn.Set(ConnectionUserData, nil); !errors.Is(err, ErrNoReset) {
		t.Fatalf("reset of connection user data: %v", err)
	}
	if err := ls.Set(ConnectionUserData, nil); err != nil {
		t.Fatalf("reset at listen socket: %v", err)
	}
}

func TestLocking(t *testing.T) {
	g := NewGlobal()
	conn, _ := g.NewChild(ConnectionScope)
	mustSet(t, g, Unencrypted, Int32Value(2))
	conn.LockConnection()
	if !conn.IsLocked(Unencrypted) || conn.IsLocked(NagleTime) {
		t.Fatal("LockConnection locked the wrong set")
	}
	if err := conn.Set(Unencrypted, ptrTo(Int32Value(0))); !errors.Is(err, ErrLocked) {
		t.Fatalf("set locked: %v", err)
	}
	if err := conn.Set(Unencrypted, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("reset locked: %v", err)
	}
	// The inherited value was copied when locked: later global changes do
	// not reach the connection.
	mustSet(t, g, Unencrypted, Int32Value(3))
	if v, res := conn.Get(Unencrypted); v.Int != 2 || res != OK {
		t.Fatalf("locked value = %+v %v, want 2", v, res)
	}
	// Unlocked options still inherit.
	mustSet(t, g, NagleTime, Int32Value(0))
	if v, _ := conn.Get(NagleTime); v.Int != 0 {
		t.Fatalf("NagleTime = %d", v.Int)
	}
}

func TestConnectionSnapshot(t *testing.T) {
	g := NewGlobal()
	conn, _ := g.NewChild(ConnectionScope)
	gen := conn.Generation()
	mustSet(t, conn, NagleTime, Int32Value(1500))
	mustSet(t, g, MTU_PacketSize, Int32Value(1000))
	mustSet(t, g, TimeoutConnected, Int32Value(3000))
	if conn.Generation() == gen {
		t.Fatal("generation did not move")
	}
	c := conn.Connection()
	if c.NagleTime != 1500*time.Microsecond || c.MTUPacketSize != 1000 || c.MTUDataSize != 900 ||
		c.TimeoutConnected != 3*time.Second || c.SendRateMin != 262144 || c.UserData != -1 ||
		c.IPAllowWithoutAuth != 2 || c.Generation != conn.Generation() {
		t.Fatalf("snapshot %+v", c)
	}
	mustSet(t, g, FakePacketLag_Send, Int32Value(40))
	mustSet(t, g, FakePacketJitter_Recv_Avg, FloatValue(2.5))
	f := conn.Fake()
	if f.Send.Lag != 40*time.Millisecond || f.Recv.JitterAvg != 2500*time.Microsecond || f.ReorderTime != 15*time.Millisecond {
		t.Fatalf("fake network %+v", f)
	}
}

func TestSetMany(t *testing.T) {
	g := NewGlobal()
	ls, _ := g.NewChild(ListenSocketScope)
	err := ls.SetMany([]Setting{
		{NagleTime, Int32Value(0)},
		{FakePacketLoss_Send, FloatValue(1)}, // global-only: fails
		{TimeoutInitial, Int32Value(1)},
	})
	if !errors.Is(err, ErrBadScope) {
		t.Fatalf("SetMany = %v", err)
	}
	if v, _ := ls.Get(NagleTime); v.Int != 0 {
		t.Fatal("settings before the failure not applied")
	}
	if _, res := ls.Get(TimeoutInitial); res != OKInherited {
		t.Fatal("settings after the failure applied")
	}
}

func TestEncode(t *testing.T) {
	buf := make([]byte, 8)
	if n, res := Int32Value(-2).Encode(buf[:3]); n != 4 || res != BufferTooSmall {
		t.Fatalf("short buffer: %d %v", n, res)
	}
	if n, res := Int32Value(-2).Encode(buf); n != 4 || res != OK || string(buf[:4]) != "\xfe\xff\xff\xff" {
		t.Fatalf("int32: %d %v % x", n, res, buf[:4])
	}
	if n, res := StringValue("abc").Encode(buf[:3]); n != 4 || res != BufferTooSmall {
		t.Fatalf("string short: %d %v", n, res)
	}
	if n, res := StringValue("abc").Encode(buf); n != 4 || res != OK || string(buf[:4]) != "abc\x00" {
		t.Fatalf("string: %d %v %q", n, res, buf[:4])
	}
	if n, res := Int64Value(1).Encode(buf); n != 8 || res != OK || buf[0] != 1 {
		t.Fatalf("int64: %d %v", n, res)
	}
}

func FuzzSetString(f *testing.F) {
	for _, s := range []string{"", "12", " -3.5e2x", "nan", "1e999", "99999999999999999999", "+", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := NewGlobal()
		for _, id := range []ID{NagleTime, ConnectionUserData, FakePacketLoss_Send, P2P_STUN_ServerList} {
			o, _ := ByID(id)
			if err := g.Set(id, ptrTo(StringValue(s))); err != nil {
				continue
			}
			v, res := g.Get(id)
			if res != OK {
				t.Fatalf("%s: Get after Set: %v", o.Name, res)
			}
			if o.HasRange {
				x := float64(v.Int)
				if o.Type == Float {
					x = float64(v.Float)
				}
				if x < o.Min || x > o.Max || math.IsNaN(x) {
					t.Fatalf("%s = %v escaped [%v, %v]", o.Name, x, o.Min, o.Max)
				}
			}
		}
	})
}

func mustSet(t *testing.T, s *Scope, id ID, v Value) {
	t.Helper()
	if err := s.Set(id, &v); err != nil {
		t.Fatalf("Set(%v, %+v): %v", id, v, err)
	}
}

func ptrTo(v Value) *Value { return &v }

// TestRanges pins the ranges of the options peers are most likely to set.
func TestRanges(t *testing.T) {
	tests := []struct {
		id       ID
		min, max float64
		global   bool
	}{
		{TimeoutInitial, 0, math.MaxInt32, false},
		{SendBufferSize, 4096, 0x10000000, false},
		{RecvBufferMessages, 2, 0x10000000, false},
		{RecvMaxMessageSize, 64, 0x10000000, false},
		{RecvMaxSegmentsPerPacket, 1, 1300, false},
		{SendRateMin, 1024, math.MaxInt32, false},
		{SendRateMax, 1024, math.MaxInt32, false},
		{NagleTime, 0, 20000, false},
		{MTU_PacketSize, 200, 1300, false},
		{Unencrypted, 0, 3, false},
		{LocalVirtualPort, -1, math.MaxInt32, false},
		{SendTimeSincePreviousPacket, -1, 1, false},
		{P2P_Transport_ICE_Enable, 0, 0x7fffffff, false},
		{FakePacketLoss_Recv, 0, 100, true},
		{FakePacketLag_Send, 0, 5000, true},
		{FakePacketJitter_Send_Avg, 0, 2000, true},
		{FakePacketJitter_Recv_Max, 0, 5000, true},
		{FakeRateLimit_Send_Rate, 0, 1 << 30, true},
		{FakeRateLimit_Recv_Burst, 0, 1 << 20, true},
		{OutOfOrderCorrectionWindowMicroseconds, 0, 50000, true},
		{PacketTraceMaxBytes, -1, 99999, true},
		{ECN, -1, 2, true},
	}
	for _, tt := range tests {
		o, _ := ByID(tt.id)
		if !o.HasRange || o.Min != tt.min || o.Max != tt.max || o.GlobalOnly != tt.global {
			t.Errorf("%s: range [%v, %v] global %v, want [%v, %v] global %v",
				o.Name, o.Min, o.Max, o.GlobalOnly, tt.min, tt.max, tt.global)
		}
	}
}

// TestClampEveryOption sets each ranged option just outside its range at
// the scope where it lives and reads back the bound.
func TestClampEveryOption(t *testing.T) {
	for _, o := range Options() {
		if !o.Available || !o.HasRange || o.ReadOnly {
			continue
		}
		g := NewGlobal()
		s := g
		if !o.GlobalOnly {
			s, _ = g.NewChild(ConnectionScope)
		}
		for _, c := range []struct{ in, want float64 }{{o.Min - 1, o.Min}, {o.Max + 1, o.Max}} {
			v := Value{Type: Int64, Int: int64(c.in)}
			if o.Type == Float {
				v = FloatValue(float32(c.in))
			}
			err := s.Set(o.ID, &v)
			if o.Type == Int32 && int64(int32(v.Int)) != v.Int {
				// An Int64 that does not fit is refused, not clamped.
				if !errors.Is(err, ErrBadType) {
					t.Errorf("%s: Set(%v) = %v, want ErrBadType", o.Name, c.in, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: Set(%v): %v", o.Name, c.in, err)
				continue
			}
			got, _ := s.Get(o.ID)
			x := float64(got.Int)
			if o.Type == Float {
				x = float64(got.Float)
			}
			if x != c.want {
				t.Errorf("%s: set %v, got %v, want %v", o.Name, c.in, x, c.want)
			}
		}
	}
}

// Thousands of connections each hold a scope: it must cost bytes for what
// it sets, not a slot per option.
func TestConnectionScopeIsSmall(t *testing.T) {
	g := NewGlobal()
	iface, _ := g.NewChild(InterfaceScope)
	scopes := make([]*Scope, 10000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range scopes {
		scopes[i], _ = iface.NewChild(ConnectionScope)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (after.HeapAlloc - before.HeapAlloc) / uint64(len(scopes))
	if per > 512 {
		t.Errorf("%d bytes per connection scope, want at most 512", per)
	}
	// Still correct: a locked connection reads its own copy of everything
	// that locks, and inherits the rest.
	c := scopes[0]
	if err := iface.Set(NagleTime, &Value{Type: Int32, Int: 1234}); err != nil {
		t.Fatal(err)
	}
	c.LockConnection()
	if v, res := c.Get(NagleTime); v.Int != 1234 || res != OKInherited {
		t.Errorf("NagleTime = %v %v, want 1234 inherited", v.Int, res)
	}
	if err := c.Set(Unencrypted, &Value{Type: Int32, Int: 2}); err == nil {
		t.Error("set of a locked option succeeded")
	}
	runtime.KeepAlive(scopes)
}
