package relay

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func startRelay(t *testing.T, cfg Config) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conn = pc
	cfg.RelayIP = net.IPv4(127, 0, 0, 1)
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T, s *Server, user, pass string) *turn.Client {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: s.Addr().String(), TURNServerAddr: s.Addr().String(),
		Username: user, Password: pass, Realm: "mist", Conn: pc, RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestSTUNBindingNeedsNoCredentials(t *testing.T) {
	s := startRelay(t, Config{NoTURN: true})
	c := newClient(t, s, "", "")
	mapped, err := c.SendBindingRequest()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
		t.Fatalf("mapped address %v", mapped)
	}
	if _, err := c.Allocate(); err == nil {
		t.Fatal("allocation on a STUN-only server")
	}
}

func TestAllocationsNeedCredentials(t *testing.T) {
	secret := []byte("server secret")
	s := startRelay(t, Config{Users: map[string]string{"alice": "pw"}, Secret: secret})
	now := time.Now()
	expiredUser, expiredPass := RESTCredentials(secret, "str:bob", now.Add(-time.Minute))
	forgedUser, _ := RESTCredentials(secret, "str:bob", now.Add(time.Hour))
	for _, tc := range []struct{ name, user, pass string }{
		{"no credentials", "", ""},
		{"wrong static password", "alice", "guess"},
		{"unknown user", "mallory", "pw"},
		{"expired REST credential", expiredUser, expiredPass},
		{"forged REST password", forgedUser, "AAAA"},
		{"REST credential from another secret", func() string { u, _ := RESTCredentials([]byte("x"), "str:bob", now.Add(time.Hour)); return u }(), "x"},
	} {
		c := newClient(t, s, tc.user, tc.pass)
		if conn, err := c.Allocate(); err == nil {
			conn.Close()
			t.Errorf("%s: allocation granted", tc.name)
		}
	}
	if st := s.Stats(); st.AllocationsTotal != 0 || st.AuthFailures == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRelayBetweenTwoClients(t *testing.T) {
	secret := []byte("server secret")
	s := startRelay(t, Config{Users: map[string]string{"alice": "pw"}, Secret: secret})
	bobUser, bobPass := RESTCredentials(secret, "str:bob", time.Now().Add(time.Hour))

	ca := newClient(t, s, "alice", "pw")
	cb := newClient(t, s, bobUser, bobPass)
	ra, err := ca.Allocate()
	if err != nil {
		t.Fatalf("static credential: %v", err)
	}
	defer ra.Close()
	rb, err := cb.Allocate()
	if err != nil {
		t.Fatalf("REST credential: %v", err)
	}
	defer rb.Close()
	if st := s.Stats(); st.Allocations != 2 || st.AllocationsTotal != 2 {
		t.Fatalf("stats %+v", st)
	}

	// Each side permits the other's relayed address by sending to it
	// (pion's client creates the permission); the first packets may be
	// dropped until both permissions exist, so repeat.
	msgA, msgB := []byte("hello from alice"), bytes.Repeat([]byte("b"), 1000)
	buf := make([]byte, 2000)
	got := func(conn net.PacketConn, want []byte, from net.Addr, send func()) {
		t.Helper()
		for range 50 {
			send()
			conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, addr, err := conn.ReadFrom(buf)
			if err == nil {
				if !bytes.Equal(buf[:n], want) || addr.String() != from.String() {
					t.Fatalf("got %q from %v, want %d bytes from %v", buf[:min(n, 40)], addr, len(want), from)
				}
				return
			}
		}
		t.Fatal("nothing relayed")
	}
	rb.WriteTo(msgB, ra.LocalAddr()) // bob's permission for alice
	got(rb, msgA, ra.LocalAddr(), func() { ra.WriteTo(msgA, rb.LocalAddr()) })
	got(ra, msgB, rb.LocalAddr(), func() { rb.WriteTo(msgB, ra.LocalAddr()) })
	if st := s.Stats(); st.RelayedBytes < uint64(2*(len(msgA)+len(msgB))) {
		t.Fatalf("relayed bytes %d", st.RelayedBytes)
	}
}

func TestAllocationQuota(t *testing.T) {
	s := startRelay(t, Config{Users: map[string]string{"u": "p"}, MaxAllocationsPerUser: 1})
	a, err := newClient(t, s, "u", "p").Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, err := newClient(t, s, "u", "p").Allocate(); err == nil {
		b.Close()
		t.Fatal("second allocation over the quota")
	}
}

func TestRESTCredentials(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	user, pass := RESTCredentials(secret, "str:alice", now.Add(time.Minute))
	if user != "1800000060:str:alice" {
		t.Fatalf("user %q", user)
	}
	if !VerifyREST(secret, user, pass, now) || !VerifyREST(secret, user, pass, now.Add(time.Minute)) {
		t.Fatal("valid credential refused")
	}
	if VerifyREST(secret, user, pass, now.Add(time.Minute+time.Second)) {
		t.Fatal("expired credential accepted")
	}
	if VerifyREST(secret, "1800000060:str:mallory", pass, now) || VerifyREST([]byte("j"), user, pass, now) {
		t.Fatal("credential accepted for another identity or secret")
	}
	// pion's own generator makes credentials this server accepts.
	pu, pp, err := turn.GenerateLongTermTURNRESTCredentials(string(secret), "str:alice", time.Hour)
	if err != nil || !VerifyREST(secret, pu, pp, time.Now()) {
		t.Fatalf("pion REST credential refused: %v", err)
	}
}

func TestNewRefusesAnOpenRelay(t *testing.T) {
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer pc.Close()
	if _, err := New(Config{Conn: pc, RelayIP: net.IPv4(127, 0, 0, 1)}); err != ErrNoCredentials {
		t.Fatalf("relay without credentials: %v", err)
	}
}

func FuzzCheckREST(f *testing.F) {
	f.Add("1800000060:str:alice")
	f.Add("1800000060")
	f.Add(":")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, user string) {
		pass, ok := CheckREST([]byte("k"), user, now)
		if ok != VerifyREST([]byte("k"), user, pass, now) {
			t.Fatal("CheckREST and VerifyREST disagree")
		}
	})
}

func TestGarbageDoesNotStopTheRelay(t *testing.T) {
	s := startRelay(t, Config{Users: map[string]string{"u": "p"}})
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer pc.Close()
	junk := make([]byte, 1500)
	for i := range 2000 {
		n := 1 + i%len(junk)
		for j := range n {
			junk[j] = byte(i*31 + j*17)
		}
		if i%3 == 0 && n >= 20 {
			// A STUN-looking header with a bad body.
			copy(junk, []byte{0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42})
		}
		pc.WriteTo(junk[:n], s.Addr())
	}
	c := newClient(t, s, "u", "p")
	conn, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocation after garbage: %v", err)
	}
	conn.Close()
}
