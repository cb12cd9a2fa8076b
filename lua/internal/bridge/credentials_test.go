package bridge

import (
	"crypto/ed25519"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/ca"
)

// writeCA makes a CA in dir, returning its ca.pub path, the authority and
// the path of a credential file for id.
func writeCA(t *testing.T, dir, id string) (string, *ca.Authority, string) {
	t.Helper()
	authority, err := ca.Init(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := authority.Issue(id, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := cred.MarshalPEM()
	credPath := filepath.Join(dir, "peer.cred")
	if err := os.WriteFile(credPath, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ca", ca.PublicFile), authority, credPath
}

// listenOn starts a mist server with cfg on a free loopback port that
// accepts every connection.
func listenOn(t *testing.T, cfg mist.Config) (*mist.Sockets, netip.AddrPort) {
	t.Helper()
	s, err := mist.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		if ev.Info.State == mist.StateConnecting {
			s.AcceptConnection(ev.Conn)
		}
	})
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	if s.CreateListenSocketIP(addr) == mist.InvalidListenSocket {
		t.Fatal("listen failed")
	}
	return s, addr
}

// connectOutcome connects m to addr and returns the first connection event
// that settles it: Connected or an end.
func connectOutcome(t *testing.T, m *Module, server *mist.Sockets, addr netip.AddrPort) ConnChange {
	t.Helper()
	h, err := m.ConnectByIPAddress(addr.String(), nil)
	if err != nil || h == 0 {
		t.Fatalf("connect: %d %v", h, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		server.RunCallbacks()
		m.RunCallbacks()
		for {
			ev, ok := m.NextEvent()
			if !ok {
				break
			}
			if ev.Kind == EventConnChanged && ev.Conn.Conn == h && ev.Conn.State != int32(mist.StateConnecting) {
				return ev.Conn
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("connection did not settle")
	return ConnChange{}
}

// MIST_CERT and MIST_TRUST give the Lua module's instance its certificate
// and the one CA it accepts.
func TestCredentialsFromEnvironment(t *testing.T) {
	pub, authority, credPath := writeCA(t, t.TempDir(), "str:lua-peer")
	t.Setenv(EnvCert, credPath)
	t.Setenv(EnvTrust, pub)
	m := New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	if id, _ := m.b.(*mistBackend).s.Identity(); id.String() != "str:lua-peer" {
		t.Errorf("identity %v, want the certificate's", id)
	}
	if a, err := m.InitAuthentication(); a != int32(mist.AvailabilityCurrent) || err != nil {
		t.Errorf("InitAuthentication = %d, %v; want 100", a, err)
	}

	serverCred, _ := authority.Issue("str:server", time.Now(), time.Hour)
	trusted, addr := listenOn(t, mist.Config{Certificate: serverCred.Certificate, CertificateKey: serverCred.PrivateKey,
		TrustedCAs: []ed25519.PublicKey{authority.PublicKey()}, RequireAuthentication: true})
	if got := connectOutcome(t, m, trusted, addr); got.State != int32(mist.StateConnected) {
		t.Errorf("to a server with a certificate from the CA: state %d, end %d %q", got.State, got.EndReason, got.EndDebug)
	}
	unsigned, addr := listenOn(t, mist.Config{})
	got := connectOutcome(t, m, unsigned, addr)
	if got.State != int32(mist.StateProblemDetectedLocally) || got.EndReason != int32(mist.EndRemoteBadCert) || !strings.Contains(got.EndDebug, "Unsigned certs are not allowed") {
		t.Errorf("to an unsigned server: state %d, end %d %q; want a refusal", got.State, got.EndReason, got.EndDebug)
	}
}

func TestCredentialsFromEnvironmentErrors(t *testing.T) {
	pub, _, credPath := writeCA(t, t.TempDir(), "str:lua-peer")
	for _, tc := range []struct{ cert, trust, want string }{
		{filepath.Join(t.TempDir(), "missing"), "", EnvCert + ": "},
		{pub, "", EnvCert + ": "},
		{"", credPath, EnvTrust + ": "},
	} {
		t.Setenv(EnvCert, tc.cert)
		t.Setenv(EnvTrust, tc.trust)
		m := New(NewMist)
		if err := m.Init(0, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("cert %q trust %q: %v, want an error starting %q", tc.cert, tc.trust, err, tc.want)
			m.Shutdown()
		}
	}
	// A SteamID that is not the certificate's identity is refused.
	t.Setenv(EnvCert, credPath)
	t.Setenv(EnvTrust, "")
	m := New(NewMist)
	if err := m.Init(76561197960287930, nil); err == nil || !strings.Contains(err.Error(), "str:lua-peer") {
		t.Errorf("SteamID against a str: certificate: %v", err)
		m.Shutdown()
	}
	// Trust without a certificate: authentication cannot become current.
	t.Setenv(EnvCert, "")
	t.Setenv(EnvTrust, pub)
	m = New(NewMist)
	if err := m.Init(0, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	if a, _ := m.InitAuthentication(); a != int32(mist.AvailabilityCannotTry) {
		t.Errorf("InitAuthentication with MIST_TRUST and no certificate = %d, want %d", a, mist.AvailabilityCannotTry)
	}
}
