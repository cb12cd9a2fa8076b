package bridge

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/trivial/trivialtest"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestSettingsFromEnv(t *testing.T) {
	id, p, err := SettingsFromEnv(envOf(map[string]string{
		EnvIdentity:  " steamid:76561198000000001 ",
		EnvSignaling: "127.0.0.1:10000,[::1]:10001",
		EnvSTUN:      "127.0.0.1:3478,stun:[::1]:3478",
		EnvTURN:      "127.0.0.1:3478,127.0.0.1:3479",
		EnvTURNUser:  "u1,u2",
		EnvTURNPass:  "p1,p2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := P2PSettings{Signaling: "127.0.0.1:10000,[::1]:10001", STUN: "127.0.0.1:3478,stun:[::1]:3478",
		TURN: "127.0.0.1:3478,127.0.0.1:3479", TURNUser: "u1,u2", TURNPass: "p1,p2"}
	if id != 76561198000000001 || p != want {
		t.Errorf("got %d %+v, want 76561198000000001 %+v", id, p, want)
	}
	if id, p, err := SettingsFromEnv(envOf(nil)); err != nil || id != 0 || p != (P2PSettings{}) {
		t.Errorf("empty environment: got %d %+v %v", id, p, err)
	}
}

func TestSettingsFromEnvRejects(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		name string // the variable the message must name
	}{
		{map[string]string{EnvIdentity: "76561198000000001"}, EnvIdentity},
		{map[string]string{EnvIdentity: "str:alice"}, EnvIdentity},
		{map[string]string{EnvIdentity: "steamid:0"}, EnvIdentity},
		{map[string]string{EnvIdentity: "steamid:-1"}, EnvIdentity},
		{map[string]string{EnvIdentity: "steamid:" + strings.Repeat("9", 40)}, EnvIdentity},
		{map[string]string{EnvSignaling: "localhost"}, EnvSignaling},
		{map[string]string{EnvSignaling: "127.0.0.1:65536"}, EnvSignaling},
		{map[string]string{EnvSignaling: ":10000"}, EnvSignaling},
		{map[string]string{EnvSignaling: "127.0.0.1:10000,localhost"}, EnvSignaling},
		{map[string]string{EnvSignaling: "127.0.0.1:10000,"}, EnvSignaling},
		{map[string]string{EnvSTUN: "stun.example.org"}, EnvSTUN},
		{map[string]string{EnvSTUN: "127.0.0.1:0x10"}, EnvSTUN},
		{map[string]string{EnvTURN: "127.0.0.1"}, EnvTURN},
		{map[string]string{EnvTURNUser: "u"}, EnvTURNUser},
		{map[string]string{EnvTURNPass: "p"}, EnvTURNPass},
		{map[string]string{EnvTURN: "127.0.0.1:1,127.0.0.1:2", EnvTURNUser: "u", EnvTURNPass: "p,q"}, EnvTURNUser},
		{map[string]string{EnvTURN: "127.0.0.1:1", EnvTURNUser: "u", EnvTURNPass: "p,q"}, EnvTURNPass},
		{map[string]string{EnvSTUN: strings.Repeat("a", maxEnvValue+1)}, EnvSTUN},
	} {
		_, _, err := SettingsFromEnv(envOf(c.vars))
		if err == nil || !strings.HasPrefix(err.Error(), c.name) {
			t.Errorf("%v: got %v, want an error naming %s", c.vars, err, c.name)
		}
	}
}

// FuzzSettingsFromEnv: any value of any variable gives settings or an
// error naming a variable, never a panic, and accepted settings are
// accepted again as they came out.
func FuzzSettingsFromEnv(f *testing.F) {
	f.Add("steamid:76561198000000001", "127.0.0.1:10000", "127.0.0.1:3478", "127.0.0.1:3478", "u", "p")
	f.Add("", "[::1]:10000", "stun:[::1]:3478,127.0.0.1:1", "", "", "")
	f.Add("steamid:1", "host:1", "", "a:1,b:2", "u,v", "p,q")
	f.Fuzz(func(t *testing.T, ident, sig, stun, turn, user, pass string) {
		vars := map[string]string{EnvIdentity: ident, EnvSignaling: sig, EnvSTUN: stun, EnvTURN: turn, EnvTURNUser: user, EnvTURNPass: pass}
		id, p, err := SettingsFromEnv(envOf(vars))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "MIST_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		if (id != 0) != (strings.TrimSpace(ident) != "") {
			t.Fatalf("identity %q gave SteamID %d", ident, id)
		}
		again := map[string]string{EnvSignaling: p.Signaling, EnvSTUN: p.STUN, EnvTURN: p.TURN, EnvTURNUser: p.TURNUser, EnvTURNPass: p.TURNPass}
		if _, p2, err := SettingsFromEnv(envOf(again)); err != nil || p2 != p {
			t.Fatalf("settings %+v not accepted again: %+v %v", p, p2, err)
		}
	})
}

func TestP2PCallsBeforeInitFail(t *testing.T) {
	m := New(NewMist)
	if _, _, err := m.CreateListenSocketP2P(0, nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("CreateListenSocketP2P before Init: %v", err)
	}
	if _, _, err := m.ConnectP2P(76561198000000001, 0, nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("ConnectP2P before Init: %v", err)
	}
}

func TestP2PFailures(t *testing.T) {
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	for _, port := range []int64{-1, MaxVirtualPort + 1, 1 << 31, -1 << 63} {
		if h, why, err := m.CreateListenSocketP2P(port, nil); h != 0 || err != nil || !strings.Contains(why, "virtual port") {
			t.Errorf("CreateListenSocketP2P(%d) = %d %q %v", port, h, why, err)
		}
		if h, why, err := m.ConnectP2P(76561198000000001, port, nil); h != 0 || err != nil || !strings.Contains(why, "virtual port") {
			t.Errorf("ConnectP2P(port %d) = %d %q %v", port, h, why, err)
		}
	}
	h, why, err := m.CreateListenSocketP2P(MaxVirtualPort, nil)
	if h == 0 || why != "" || err != nil {
		t.Fatalf("CreateListenSocketP2P(%d) = %d %q %v", MaxVirtualPort, h, why, err)
	}
	if h2, why, _ := m.CreateListenSocketP2P(MaxVirtualPort, nil); h2 != 0 || !strings.Contains(why, "virtual port") {
		t.Errorf("second listen socket on the port = %d %q", h2, why)
	}
	if h, why, _ := m.CreateListenSocketP2P(1, []Option{{ID: 9999, Value: 1}}); h != 0 || why == "" {
		t.Errorf("unknown option id = %d %q", h, why)
	}
	if h, why, _ := m.ConnectP2P(0, 0, nil); h != 0 || !strings.Contains(why, "SteamID") {
		t.Errorf("ConnectP2P(SteamID 0) = %d %q", h, why)
	}
	if h, why, _ := m.ConnectP2P(76561198000000001, 0, nil); h != 0 || !strings.Contains(why, "signaling") {
		t.Errorf("ConnectP2P without signaling = %d %q", h, why)
	}
}

// TestP2PThroughSignaling: two modules (two instances, as two processes
// would have) connect by SteamID through a trivial signaling server and
// exchange a message each way.
func TestP2PThroughSignaling(t *testing.T) {
	srv, err := trivialtest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const serverID, clientID = 76561198000000001, 76561198000000002
	newModule := func(id uint64) *Module {
		m := New(NewMist)
		if err := m.InitSettings(Settings{SteamID: id, P2P: P2PSettings{Signaling: srv.Addr()}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Shutdown)
		return m
	}
	server, client := newModule(serverID), newModule(clientID)
	if ls, why, _ := server.CreateListenSocketP2P(0, nil); ls == 0 {
		t.Fatal("listen:", why)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !srv.Registered("steamid:76561198000000001") || !srv.Registered("steamid:76561198000000002") {
		if time.Now().After(deadline) {
			t.Fatal("not registered at the signaling server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, why, _ := client.ConnectP2P(serverID, 0, nil)
	if conn == 0 {
		t.Fatal("connect:", why)
	}
	const stateConnecting, stateConnected = 1, 3
	var accepted Handle
	serverUp, clientUp := false, false
	for !serverUp || !clientUp {
		if time.Now().After(deadline) {
			t.Fatalf("not connected in time (server %v, client %v)", serverUp, clientUp)
		}
		server.RunCallbacks()
		client.RunCallbacks()
		for ev, ok := server.NextEvent(); ok; ev, ok = server.NextEvent() {
			if ev.Kind != EventConnChanged {
				continue
			}
			switch ev.Conn.State {
			case stateConnecting:
				accepted = ev.Conn.Conn
				if r, _ := server.AcceptConnection(accepted); r != 1 {
					t.Fatalf("accept: result %d", r)
				}
			case stateConnected:
				serverUp = true
			}
		}
		for ev, ok := client.NextEvent(); ok; ev, ok = client.NextEvent() {
			if ev.Kind == EventConnChanged && ev.Conn.Conn == conn && ev.Conn.State == stateConnected {
				clientUp = true
			}
			if ev.Kind == EventConnChanged && ev.Conn.State > stateConnected {
				t.Fatalf("client connection ended: %d %s", ev.Conn.EndReason, ev.Conn.EndDebug)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	exchange := func(from, to *Module, fromConn, toConn Handle, text string) {
		if r, _ := from.SendMessageToConnection(fromConn, []byte(text), 8); r != 1 {
			t.Fatalf("send %q: result %d", text, r)
		}
		for {
			var got []byte
			if ok, _ := to.Receive(toConn, false, func(msgs []InMessage) {
				if len(msgs) > 0 {
					got = bytes.Clone(msgs[0].Data)
				}
			}); !ok {
				t.Fatal("receive: invalid connection")
			}
			if got != nil {
				if string(got) != text {
					t.Fatalf("received %q, want %q", got, text)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q never arrived", text)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	exchange(client, server, conn, accepted, "hello server")
	exchange(server, client, accepted, conn, "hello client")
}
