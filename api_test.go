package mist

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/mistnet/mist/internal/identity"
)

func TestInvalidHandles(t *testing.T) {
	s := newTestSockets(t)
	a, _, _ := s.CreateSocketPair(false, nil, nil)
	closed := a
	s.CloseConnection(closed, 0, "", false)
	for _, h := range []Conn{0, 12345, closed} {
		out := make([]*Message, 4)
		checks := []struct {
			name      string
			got, want any
		}{
			{"AcceptConnection", s.AcceptConnection(h), ResultInvalidParam},
			{"CloseConnection", s.CloseConnection(h, 0, "", false), false},
			{"SetConnectionUserData", s.SetConnectionUserData(h, 7), false},
			{"ConnectionUserData", s.ConnectionUserData(h), int64(-1)},
			{"FlushMessagesOnConnection", s.FlushMessagesOnConnection(h), ResultInvalidParam},
			{"ReceiveMessagesOnConnection", s.ReceiveMessagesOnConnection(h, out), -1},
			{"ConfigureConnectionLanes", s.ConfigureConnectionLanes(h, []int{0, 0}, nil), ResultNoConnection},
			{"SetConnectionPollGroup", s.SetConnectionPollGroup(h, 0), false},
		}
		_, r := s.SendMessageToConnection(h, []byte("x"), SendReliable)
		checks = append(checks, struct {
			name      string
			got, want any
		}{"SendMessageToConnection", r, ResultInvalidParam})
		_, ok := s.ConnectionInfo(h)
		checks = append(checks, struct {
			name      string
			got, want any
		}{"ConnectionInfo", ok, false})
		_, r = s.ConnectionRealTimeStatus(h, nil)
		checks = append(checks, struct {
			name      string
			got, want any
		}{"ConnectionRealTimeStatus", r, ResultNoConnection})
		_, ok = s.ConnectionName(h)
		checks = append(checks, struct {
			name      string
			got, want any
		}{"ConnectionName", ok, false})
		_, ok = s.DetailedConnectionStatus(h)
		checks = append(checks, struct {
			name      string
			got, want any
		}{"DetailedConnectionStatus", ok, false})
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("handle %d: %s = %v, want %v", h, c.name, c.got, c.want)
			}
		}
	}
	if s.DestroyPollGroup(0x80001234) || s.ReceiveMessagesOnPollGroup(0x80001234, make([]*Message, 1)) != -1 {
		t.Error("invalid poll group accepted")
	}
	if s.CloseListenSocket(77) {
		t.Error("invalid listen socket closed")
	}
	if _, ok := s.ListenSocketAddress(77); ok {
		t.Error("address of an invalid listen socket")
	}
	if _, err := s.ConnectP2P(SteamIDIdentity(76561197960287930), 0); !errors.Is(err, ErrNoSignaling) {
		t.Errorf("ConnectP2P error %v", err)
	}
}

func TestClosedByPeerStillReadable(t *testing.T) {
	s := newTestSockets(t)
	a, b, _ := s.CreateSocketPair(false, nil, nil)
	s.SendMessageToConnection(a, []byte("one"), SendReliable)
	s.SendMessageToConnection(a, []byte("two"), SendReliable)
	s.CloseConnection(a, 0, "", false)
	info, ok := s.ConnectionInfo(b)
	if !ok || info.State != StateClosedByPeer || info.EndReason != EndAppGeneric || info.EndDebug != "Application closed connection" {
		t.Fatalf("info %+v", info)
	}
	if _, r := s.SendMessageToConnection(b, []byte("x"), SendReliable); r != ResultNoConnection || !errors.Is(r, net.ErrClosed) {
		t.Errorf("send = %v", r)
	}
	if r := s.FlushMessagesOnConnection(b); r != ResultNoConnection {
		t.Errorf("flush = %v", r)
	}
	if r := s.AcceptConnection(b); r != ResultInvalidState {
		t.Errorf("accept = %v", r)
	}
	if r := s.ConfigureConnectionLanes(b, []int{0, 1}, nil); r != ResultInvalidState {
		t.Errorf("lanes = %v", r)
	}
	if st, r := s.ConnectionRealTimeStatus(b, nil); r != ResultOK || st.State != StateClosedByPeer {
		t.Errorf("status = %v %v", st.State, r)
	}
	out := make([]*Message, 1)
	var got []string
	for s.ReceiveMessagesOnConnection(b, out) == 1 {
		got = append(got, string(out[0].Data))
		out[0].Release()
	}
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("read %q", got)
	}
	if !s.CloseConnection(b, 0, "", false) || s.ReceiveMessagesOnConnection(b, out) != -1 {
		t.Error("close of a ClosedByPeer connection")
	}
}

func TestCloseReasonNormalisation(t *testing.T) {
	for _, tc := range []struct {
		reason    EndReason
		debug     string
		wantCode  EndReason
		wantDebug string
	}{
		{0, "", 1000, "Application closed connection"},
		{1500, "bye", 1500, "bye"},
		{2500, "", 2500, "Application closed connection in an unusual way"},
		{5000, "x", 1999, "Invalid numeric reason code"},
		{999, "", 1999, "Invalid numeric reason code"},
	} {
		s := newTestSockets(t)
		a, b, _ := s.CreateSocketPair(false, nil, nil)
		s.CloseConnection(a, tc.reason, tc.debug, false)
		info, _ := s.ConnectionInfo(b)
		if info.EndReason != tc.wantCode || info.EndDebug != tc.wantDebug {
			t.Errorf("close(%d, %q): peer sees %d %q", tc.reason, tc.debug, info.EndReason, info.EndDebug)
		}
	}
}

func TestPollGroups(t *testing.T) {
	s := newTestSockets(t)
	a1, b1, _ := s.CreateSocketPair(false, nil, nil)
	a2, b2, _ := s.CreateSocketPair(false, nil, nil)
	s.SendMessageToConnection(a1, []byte("1a"), SendReliable)
	s.SendMessageToConnection(a2, []byte("2a"), SendReliable)
	s.SendMessageToConnection(a1, []byte("1b"), SendReliable)
	g1, g2 := s.CreatePollGroup(), s.CreatePollGroup()
	if g1 == 0 || g1&0x80000000 == 0 || g1 == g2 {
		t.Fatalf("poll group handles %x %x", g1, g2)
	}
	if !s.SetConnectionPollGroup(b1, g1) || !s.SetConnectionPollGroup(b2, g1) {
		t.Fatal("SetConnectionPollGroup failed")
	}
	if s.SetConnectionPollGroup(b1, 0x80009999) {
		t.Error("set to an invalid group succeeded")
	}
	// Reading one message through the connection removes it from the group.
	out := make([]*Message, 8)
	if n := s.ReceiveMessagesOnConnection(b1, out[:1]); n != 1 || string(out[0].Data) != "1a" {
		t.Fatalf("connection read %d", n)
	}
	out[0].Release()
	// Move b1 to g2: its remaining message moves with it.
	s.SetConnectionPollGroup(b1, g2)
	n := s.ReceiveMessagesOnPollGroup(g1, out)
	if n != 1 || out[0].Conn != b2 || string(out[0].Data) != "2a" {
		t.Fatalf("g1 read %d", n)
	}
	out[0].Release()
	s.SendMessageToConnection(a1, []byte("1c"), SendReliable)
	// Destroying g2 leaves the messages on the connection.
	if !s.DestroyPollGroup(g2) || s.DestroyPollGroup(g2) {
		t.Fatal("DestroyPollGroup")
	}
	if s.ReceiveMessagesOnPollGroup(g2, out) != -1 {
		t.Error("destroyed group readable")
	}
	n = s.ReceiveMessagesOnConnection(b1, out)
	if n != 2 || string(out[0].Data) != "1b" || string(out[1].Data) != "1c" {
		t.Fatalf("after destroy: %d", n)
	}
	for _, m := range out[:n] {
		m.Release()
	}
	// Closing a connection drops its messages from the group.
	s.SendMessageToConnection(a2, []byte("2b"), SendReliable)
	s.CloseConnection(b2, 0, "", false)
	if n := s.ReceiveMessagesOnPollGroup(g1, out); n != 0 {
		t.Errorf("closed connection's message still in the group: %d", n)
	}
}

func TestUserDataAndName(t *testing.T) {
	s := newTestSockets(t)
	a, b, _ := s.CreateSocketPair(false, nil, nil)
	if s.ConnectionUserData(b) != -1 {
		t.Error("default user data")
	}
	s.SendMessageToConnection(a, []byte("x"), SendReliable)
	s.SetConnectionUserData(b, 42)
	out := make([]*Message, 1)
	s.ReceiveMessagesOnConnection(b, out)
	if out[0].ConnUserData != 42 {
		t.Errorf("queued message user data %d", out[0].ConnUserData)
	}
	out[0].Release()
	s.SetConnectionName(b, "a-very-long-connection-name-exceeding-limits")
	name, _ := s.ConnectionName(b)
	info, _ := s.ConnectionInfo(b)
	if len(name) != MaxConnectionNameLen || info.Description != "#"+strconv.FormatUint(uint64(b), 10)+" pipe '"+name+"'" {
		t.Errorf("name %q description %q", name, info.Description)
	}
}

func TestAuthenticationStatus(t *testing.T) {
	s := newTestSockets(t)
	var got []*AuthStatus
	if a, _ := s.AuthenticationStatus(); a != AvailabilityNeverTried {
		t.Errorf("initial %v", a)
	}
	if a := s.InitAuthentication(); a != AvailabilityCurrent {
		t.Errorf("InitAuthentication = %v", a)
	}
	s.OnAuthenticationStatus(func(a *AuthStatus) { got = append(got, a) })
	if len(got) != 0 {
		t.Fatal("delivered outside RunCallbacks")
	}
	s.RunCallbacks()
	if len(got) != 1 || got[0].Avail != AvailabilityCurrent || got[0].Debug != "OK" {
		t.Errorf("events %+v", got)
	}
	s.InitAuthentication()
	s.RunCallbacks()
	if len(got) != 1 {
		t.Error("event without a change")
	}
	id, ok := s.Identity()
	if !ok || id.Type() != IdentitySteamID || !identity.ValidSteamID(id.SteamID()) {
		t.Errorf("identity %v", id)
	}
}

func TestConfigScopes(t *testing.T) {
	s := newTestSockets(t)
	if !s.SetConfigValue(ScopeSocketsInterface, 0, Int32Value(OptNagleTime, 1234)) {
		t.Fatal("interface scope set")
	}
	a, _, _ := s.CreateSocketPair(false, nil, nil)
	v, r := s.ConfigValue(ScopeConnection, uint32(a), OptNagleTime)
	if r != ConfigOKInherited || v.Int() != 1234 {
		t.Errorf("inherited %v %v", v, r)
	}
	s.SetConfigValue(ScopeConnection, uint32(a), Int32Value(OptNagleTime, 99999))
	if v, r := s.ConfigValue(ScopeConnection, uint32(a), OptNagleTime); r != ConfigOK || v.Int() != 20000 {
		t.Errorf("clamped %v %v", v, r)
	}
	if s.SetConfigValue(ScopeConnection, uint32(a), FloatValue(OptFakePacketLossSend, 5)) {
		t.Error("global-only option set on a connection")
	}
	if s.SetConfigValue(ScopeConnection, uint32(a), Int32Value(OptMTUDataSize, 5)) {
		t.Error("read-only option set")
	}
	if s.SetConfigValue(ScopeConnection, 999, Int32Value(OptNagleTime, 1)) {
		t.Error("bad scope object accepted")
	}
	if _, r := s.ConfigValue(ScopeConnection, 999, OptNagleTime); r != ConfigBadScopeObj {
		t.Errorf("bad scope object: %v", r)
	}
	if _, r := s.ConfigValue(ScopeGlobal, 0, ConfigOption(7777)); r != ConfigBadValue {
		t.Errorf("unknown option: %v", r)
	}
	if v, _ := s.ConfigValue(ScopeConnection, uint32(a), OptMTUDataSize); v.Int() != 1200 {
		t.Errorf("MTU_DataSize %d", v.Int())
	}
	if opt, ok := ConfigOptionByName("TimeoutInitial"); !ok || opt != OptTimeoutInitial || ConfigOptionName(OptIPAllowWithoutAuth) != "IP_AllowWithoutAuth" {
		t.Error("option names")
	}
	if s.CreateListenSocketIP(netip.MustParseAddrPort("127.0.0.1:0")) != 0 {
		t.Error("listen socket without a port")
	}
	if s.CreateListenSocketIP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t)), FloatValue(OptFakePacketLossSend, 1)) != 0 {
		t.Error("listen socket with a global-only option")
	}
}

func TestSendMessagesBatch(t *testing.T) {
	s := newTestSockets(t)
	a, b, _ := s.CreateSocketPair(false, nil, nil)
	c, _, _ := s.CreateSocketPair(false, nil, nil)
	s.CloseConnection(c, 0, "", false)
	mk := func(conn Conn, payload string, lane uint16) *Message {
		m := NewMessage(len(payload))
		copy(m.Data, payload)
		m.Conn, m.Flags, m.Lane = conn, SendReliable, lane
		return m
	}
	msgs := []*Message{mk(a, "one", 0), nil, mk(c, "dead", 0), mk(a, "bad-lane", 3), mk(a, "after-failure", 0)}
	res := s.SendMessages(msgs, false)
	want := []int64{1, -8, -8, -8, 0}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %d, want %d", i, res[i], want[i])
		}
	}
	if msgs[0] != nil || msgs[2] == nil || msgs[4] == nil {
		t.Error("ownership: sent messages must be taken, failed ones left")
	}
	for _, m := range msgs {
		m.Release()
	}
	out := make([]*Message, 4)
	if n := s.ReceiveMessagesOnConnection(b, out); n != 1 || !bytes.Equal(out[0].Data, []byte("one")) {
		t.Errorf("received %d", n)
	}
}

func TestConnectingClientSemantics(t *testing.T) {
	s := newTestSockets(t)
	// Nobody listens there: the connection stays Connecting.
	h := s.ConnectByIPAddress(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t)),
		Int32Value(OptTimeoutInitial, 60000))
	if h == 0 {
		t.Fatal("ConnectByIPAddress failed")
	}
	info, _ := s.ConnectionInfo(h)
	if info.State != StateConnecting || info.ListenSocket != 0 {
		t.Fatalf("info %+v", info)
	}
	if n, r := s.SendMessageToConnection(h, []byte("early"), SendReliable); r != ResultOK || n != 1 {
		t.Errorf("send while connecting = %d %v", n, r)
	}
	if _, r := s.SendMessageToConnection(h, []byte("x"), SendUnreliableNoDelay); r != ResultIgnored {
		t.Errorf("NoDelay while connecting = %v", r)
	}
	if r := s.FlushMessagesOnConnection(h); r != ResultIgnored {
		t.Errorf("flush while connecting = %v", r)
	}
	if r := s.AcceptConnection(h); r != ResultInvalidParam {
		t.Errorf("accept outbound = %v", r)
	}
	if st, r := s.ConnectionRealTimeStatus(h, nil); r != ResultOK || st.PendingReliable != 5 {
		t.Errorf("status %+v %v", st, r)
	}
	big := make([]byte, MaxMessageSize)
	if _, r := s.SendMessageToConnection(h, big, SendReliable); r != ResultLimitExceeded {
		t.Errorf("over the send buffer while connecting = %v", r)
	}
	if s.SetConfigValue(ScopeConnection, uint32(h), Int32Value(OptUnencrypted, 3)) {
		t.Error("Unencrypted changed after connecting started")
	}
}
