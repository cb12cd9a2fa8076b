package bridge

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/mistnet/mist"
)

// newTestModule returns an initialised module on a real mist instance and
// a connected in-process pair on it.
func newTestModule(t *testing.T) (m *Module, c1, c2 Handle) {
	t.Helper()
	m = New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	s := m.b.(*mistBackend).s
	h1, h2, ok := s.CreateSocketPair(false, nil, nil)
	if !ok {
		t.Fatal("CreateSocketPair failed")
	}
	return m, m.toLua(uint32(h1)), m.toLua(uint32(h2))
}

func TestCallsBeforeInitFail(t *testing.T) {
	m := New(NewMist)
	calls := map[string]func() error{
		"CreatePollGroup":    func() error { _, err := m.CreatePollGroup(); return err },
		"ConnectByIPAddress": func() error { _, err := m.ConnectByIPAddress("127.0.0.1:1", nil); return err },
		"Receive":            func() error { _, err := m.Receive(1, false, func([]InMessage) {}); return err },
		"SendMessages":       func() error { return m.SendMessages(nil, nil) },
		"SteamID":            func() error { _, err := m.SteamID(); return err },
		"InitAuthentication": func() error { _, err := m.InitAuthentication(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrNotInitialized) {
			t.Errorf("%s before Init: got %v, want ErrNotInitialized", name, err)
		}
	}
	m.RunCallbacks() // harmless before Init
	if _, ok := m.NextEvent(); ok {
		t.Error("event queued before Init")
	}
}

func TestInitIdentityAndShutdown(t *testing.T) {
	m := New(NewMist)
	const id = 76561197960287930
	if err := m.Init(id, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.SteamID(); got != id {
		t.Errorf("SteamID = %d, want %d", got, id)
	}
	m.Shutdown()
	if m.Initialized() {
		t.Error("still initialised after Shutdown")
	}
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	got, _ := m.SteamID()
	if got == id || mist.SteamIDIdentity(got).String() == "invalid" {
		t.Errorf("random SteamID = %d", got)
	}
}

func TestAuthenticationEventIsQueued(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	if _, err := m.InitAuthentication(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.NextEvent(); ok {
		t.Fatal("event available before RunCallbacks")
	}
	m.RunCallbacks()
	ev, ok := m.NextEvent()
	if !ok || ev.Kind != EventAuthStatus || ev.Status != 100 {
		t.Fatalf("got %+v, %v; want an auth event with status 100", ev, ok)
	}
	if a, _, _ := m.AuthenticationStatus(); a != 100 {
		t.Errorf("AuthenticationStatus = %d, want 100", a)
	}
}

// An event stays queued until DropEvent names it; a stale number (the
// event was delivered meanwhile, or the session ended) drops nothing.
func TestPeekAndDropEvent(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	for range 2 {
		m.ConnectByIPAddress("127.0.0.1:9", nil)
	}
	m.RunCallbacks()
	first, seq, ok := m.PeekEvent()
	if !ok {
		t.Fatal("no event queued")
	}
	if again, seq2, _ := m.PeekEvent(); seq2 != seq || again.Conn.Conn != first.Conn.Conn {
		t.Fatal("PeekEvent removed the event")
	}
	// Delivered meanwhile by a nested runCallbacks.
	if ev, ok := m.NextEvent(); !ok || ev.Conn.Conn != first.Conn.Conn {
		t.Fatal("NextEvent did not return the peeked event")
	}
	if m.DropEvent(seq) {
		t.Error("DropEvent removed an event already delivered")
	}
	second, seq, ok := m.PeekEvent()
	if !ok || second.Conn.Conn == first.Conn.Conn {
		t.Fatal("second event missing")
	}
	m.Shutdown()
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	m.ConnectByIPAddress("127.0.0.1:9", nil)
	m.RunCallbacks()
	if m.DropEvent(seq) {
		t.Error("DropEvent with a number from the previous session removed an event")
	}
	if _, seq, ok = m.PeekEvent(); !ok || !m.DropEvent(seq) {
		t.Error("the new session's event cannot be dropped")
	}
}

func TestReceiveCapAndOrder(t *testing.T) {
	m, c1, c2 := newTestModule(t)
	const total = 100
	for i := range total {
		if r, _ := m.SendMessageToConnection(c1, []byte("m"+strconv.Itoa(i)), 8); r != 1 {
			t.Fatalf("send %d: result %d", i, r)
		}
	}
	var counts []int
	var got []string
	for {
		var n int
		ok, err := m.Receive(c2, false, func(msgs []InMessage) {
			n = len(msgs)
			for _, msg := range msgs {
				if msg.Conn != c2 {
					t.Errorf("message on connection %d, want %d", msg.Conn, c2)
				}
				got = append(got, string(msg.Data))
			}
		})
		if err != nil || !ok {
			t.Fatalf("Receive: %v %v", ok, err)
		}
		counts = append(counts, n)
		if n < ReceiveCap {
			break
		}
	}
	if fmt.Sprint(counts) != "[32 32 32 4]" {
		t.Errorf("batch sizes %v, want [32 32 32 4]", counts)
	}
	for i, s := range got {
		if s != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d = %q", i, s)
		}
	}
	if ok, _ := m.Receive(999, false, func([]InMessage) { t.Error("visit called for an invalid handle") }); ok {
		t.Error("Receive on an invalid handle succeeded")
	}
}

func TestSendMessagesMixedResults(t *testing.T) {
	m, c1, c2 := newTestModule(t)
	ok := make([]bool, 3)
	err := m.SendMessages([]OutMessage{
		{Conn: c1, Data: []byte("a"), Flags: 8},
		{Conn: 12345, Data: []byte("b"), Flags: 8},
		{Conn: c1, Data: nil, Flags: 8},
	}, ok)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ok) != "[true false true]" {
		t.Errorf("results %v, want [true false true]", ok)
	}
	var got []string
	m.Receive(c2, false, func(msgs []InMessage) {
		for _, msg := range msgs {
			got = append(got, string(msg.Data))
		}
	})
	if fmt.Sprintf("%q", got) != `["a" ""]` {
		t.Errorf("received %q", got)
	}
}

// Batches are copied and sent in chunks; mist's rule that messages after a
// failed one to the same connection are not attempted must hold across
// chunk boundaries, and the order on a connection must stay.
func TestSendMessagesChunks(t *testing.T) {
	m, c1, _ := newTestModule(t)
	big := make([]byte, mist.MaxMessageSize)
	raw1 := Handle(m.fromLua(c1))
	msgs := []OutMessage{{Conn: raw1, Data: []byte("first"), Flags: 8}}
	want := []string{"sent", "failed"}
	for range 3 * sendChunkBytes / len(big) {
		msgs = append(msgs, OutMessage{Conn: 12345, Data: big, Flags: 8})
		want = append(want, "skipped")
	}
	want = want[:len(msgs)]
	msgs = append(msgs, OutMessage{Conn: raw1, Data: []byte("last"), Flags: 8})
	want = append(want, "sent")
	res := m.b.SendMessages(msgs)
	if len(res) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(res), len(msgs))
	}
	for i, r := range res {
		got := "sent"
		switch {
		case r < 0:
			got = "failed"
		case r == 0:
			got = "skipped"
		}
		if got != want[i] {
			t.Errorf("message %d: result %d (%s), want %s", i, r, got, want[i])
		}
	}
	if last := res[len(res)-1]; res[0] >= last {
		t.Errorf("message numbers %d, %d not increasing", res[0], last)
	}
}

func TestPollGroupAndClose(t *testing.T) {
	m, c1, c2 := newTestModule(t)
	g, _ := m.CreatePollGroup()
	if ok, _ := m.SetConnectionPollGroup(c2, g); !ok {
		t.Fatal("SetConnectionPollGroup failed")
	}
	m.SendMessageToConnection(c1, []byte("x"), 8)
	var got []string
	m.Receive(g, true, func(msgs []InMessage) {
		for _, msg := range msgs {
			got = append(got, fmt.Sprintf("%d:%s", msg.Conn, msg.Data))
		}
	})
	if want := fmt.Sprintf("[%d:x]", c2); fmt.Sprint(got) != want {
		t.Errorf("poll group received %v, want %s", got, want)
	}
	if ok, _ := m.CloseConnection(c1, false); !ok {
		t.Error("CloseConnection failed")
	}
	if ok, _ := m.CloseConnection(c1, false); ok {
		t.Error("second CloseConnection succeeded")
	}
	m.RunCallbacks()
	var states []string
	for {
		ev, ok := m.NextEvent()
		if !ok {
			break
		}
		if ev.Kind == EventConnChanged {
			states = append(states, fmt.Sprintf("%d:%d->%d", ev.Conn.Conn, ev.Conn.OldState, ev.Conn.State))
		}
	}
	want := fmt.Sprintf("[%d:3->0 %d:3->4]", c1, c2)
	if fmt.Sprint(states) != want {
		t.Errorf("events %v, want %s", states, want)
	}
	if d, ok, _ := m.ConnectionDescription(c2); !ok || d == "" {
		t.Errorf("ConnectionDescription = %q, %v", d, ok)
	}
	if r, _ := m.SendMessageToConnection(c2, []byte("y"), 8); r != int32(mist.ResultNoConnection) {
		t.Errorf("send on ClosedByPeer: %d", r)
	}
	if ok, _ := m.DestroyPollGroup(g); !ok {
		t.Error("DestroyPollGroup failed")
	}
}

// After Shutdown and Init the new instance numbers its objects from the
// start again; the handles of the first session must name none of them.
func TestHandlesOfEarlierSessionsAreInvalid(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	addr := freeUDPAddr(t)
	oldSock, _ := m.CreateListenSocketIP(addr, nil)
	oldGroup, _ := m.CreatePollGroup()
	oldConn, _ := m.ConnectByIPAddress("127.0.0.1:9", nil)
	if oldSock == 0 || oldGroup == 0 || oldConn == 0 {
		t.Fatalf("creating objects failed: %x %x %x", oldSock, oldGroup, oldConn)
	}
	m.Shutdown()
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	newSock, _ := m.CreateListenSocketIP(addr, nil)
	newGroup, _ := m.CreatePollGroup()
	newConn, _ := m.ConnectByIPAddress("127.0.0.1:9", nil)
	if uint32(newSock) != uint32(oldSock) || uint32(newGroup) != uint32(oldGroup) {
		t.Fatalf("mist did not reuse its handles (%x %x vs %x %x); the test needs them equal",
			newSock, newGroup, oldSock, oldGroup)
	}
	// Connection handles are random: stand in for a first-session handle
	// that mist happened to reuse.
	oldConn = Handle(uint32(newConn))
	if newSock == oldSock || newGroup == oldGroup || newConn == oldConn {
		t.Fatalf("same handles in both sessions: %x %x %x", newSock, newGroup, newConn)
	}
	if r, _ := m.AcceptConnection(oldConn); r != int32(mist.ResultInvalidParam) {
		t.Errorf("AcceptConnection(old) = %d", r)
	}
	if r, _ := m.SendMessageToConnection(oldConn, []byte("x"), 8); r != int32(mist.ResultInvalidParam) {
		t.Errorf("SendMessageToConnection(old) = %d", r)
	}
	ok := make([]bool, 1)
	if m.SendMessages([]OutMessage{{Conn: oldConn, Flags: 8}}, ok); ok[0] {
		t.Error("SendMessages to an old connection succeeded")
	}
	if _, found, _ := m.ConnectionDescription(oldConn); found {
		t.Error("ConnectionDescription(old) found a connection")
	}
	if got, _ := m.Receive(oldGroup, true, func([]InMessage) {}); got {
		t.Error("Receive on an old poll group succeeded")
	}
	if got, _ := m.SetConnectionPollGroup(newConn, oldGroup); got {
		t.Error("SetConnectionPollGroup into an old poll group succeeded")
	}
	if got, _ := m.DestroyPollGroup(oldGroup); got {
		t.Error("DestroyPollGroup(old) succeeded")
	}
	if got, _ := m.CloseListenSocket(oldSock); got {
		t.Error("CloseListenSocket(old) succeeded")
	}
	if got, _ := m.CloseConnection(oldConn, false); got {
		t.Error("CloseConnection(old) succeeded")
	}
	// The new objects are untouched.
	if got, _ := m.SetConnectionPollGroup(newConn, newGroup); !got {
		t.Error("new connection cannot join the new poll group")
	}
	if got, _ := m.DestroyPollGroup(newGroup); !got {
		t.Error("new poll group was destroyed")
	}
	if got, _ := m.CloseListenSocket(newSock); !got {
		t.Error("new listen socket was closed")
	}
	if got, _ := m.CloseConnection(newConn, false); !got {
		t.Error("new connection was closed")
	}
}

// freeUDPAddr returns a loopback address whose UDP port was free a moment ago.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestSessionsAreBounded(t *testing.T) {
	m := New(NewMist)
	m.sessions = MaxSessions - 1
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := m.ConnectByIPAddress("127.0.0.1:9", nil)
	if float64(c) >= 1<<53 || uint64(float64(c)) != uint64(c) {
		t.Errorf("handle %d of the last session is not exact as a double", c)
	}
	m.Shutdown()
	if err := m.Init(0, nil); err == nil {
		m.Shutdown()
		t.Fatal("Init beyond MaxSessions succeeded")
	}
}

func TestBadAddresses(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	for _, addr := range []string{"", "localhost:5", "1.2.3:4", "[::1"} {
		if h, err := m.ConnectByIPAddress(addr, nil); h != 0 || err != nil {
			t.Errorf("ConnectByIPAddress(%q) = %d, %v", addr, h, err)
		}
		if h, err := m.CreateListenSocketIP(addr, nil); h != 0 || err != nil {
			t.Errorf("CreateListenSocketIP(%q) = %d, %v", addr, h, err)
		}
	}
}

func TestParseUint64(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"76561197960287930", 76561197960287930},
		{"  42", 42},
		{"+7", 7},
		{"12abc", 12},
		{"abc", 0},
		{"", 0},
		{"18446744073709551615", 1<<64 - 1},
		{"18446744073709551616", 1<<64 - 1},
		{"-1", 1<<64 - 1},
	} {
		if got := ParseUint64(tc.in); got != tc.want {
			t.Errorf("ParseUint64(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzParseUint64(f *testing.F) {
	for _, s := range []string{"0", "76561197960287930", " -5x", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseUint64(s)
		if v, err := strconv.ParseUint(s, 10, 64); err == nil && v != got {
			t.Errorf("ParseUint64(%q) = %d, strconv says %d", s, got, v)
		}
	})
}

func TestOptionIDs(t *testing.T) {
	for name, want := range map[string]int32{"TimeoutInitial": 24, "NagleTime": 12, "Unencrypted": 34, "LocalVirtualPort": 38} {
		if id, ok := OptionID(name); !ok || id != want {
			t.Errorf("OptionID(%q) = %d, %v; want %d", name, id, ok, want)
		}
	}
	if _, ok := OptionID("nagletime"); ok {
		t.Error("option names are case-sensitive")
	}
	for name, id := range optionIDs {
		if got := mist.ConfigOptionName(mist.ConfigOption(id)); got != name {
			t.Errorf("option %s has ID %d, which mist calls %s", name, id, got)
		}
	}
}

func TestParseOptionList(t *testing.T) {
	opts, err := ParseOptionList(" NagleTime=0, TimeoutInitial = 5000 ,")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(opts) != "[{12 0} {24 5000}]" {
		t.Errorf("got %v", opts)
	}
	for _, bad := range []string{"NagleTime", "Nagle=1", "NagleTime=x", "NagleTime=1.5"} {
		if _, err := ParseOptionList(bad); err == nil {
			t.Errorf("ParseOptionList(%q) succeeded", bad)
		}
	}
}

func TestInterfaceOptionsApply(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, []Option{{ID: 12, Value: 0}}); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	v, _ := m.b.(*mistBackend).s.ConfigValue(mist.ScopeSocketsInterface, 0, mist.OptNagleTime)
	if v.Int() != 0 {
		t.Errorf("NagleTime at interface scope = %d, want 0", v.Int())
	}
	bad := New(NewMist)
	if err := bad.Init(0, []Option{{ID: 9999, Value: 1}}); err == nil {
		bad.Shutdown()
		t.Error("Init with an unknown option ID succeeded")
	}
}

func FuzzParseOptionList(f *testing.F) {
	for _, s := range []string{"NagleTime=0", " NagleTime=0, TimeoutInitial = 5000 ,", "x=1", "NagleTime=99999999999999999999", ",,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := ParseOptionList(s)
		if err != nil {
			return
		}
		for _, o := range opts {
			if _, known := OptionID(mist.ConfigOptionName(mist.ConfigOption(o.ID))); !known {
				t.Errorf("ParseOptionList(%q) produced unknown option ID %d", s, o.ID)
			}
		}
	})
}
