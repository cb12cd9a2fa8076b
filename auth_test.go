package mist

import (
	"crypto/ed25519"
	"net/netip"
	"testing"
	"time"
)

// With IP_AllowWithoutAuth 0 a server accepts only peers whose certificate
// a trusted CA signed; such connections are not flagged Unauthenticated.
func TestCASignedCertificates(t *testing.T) {
	caPub, caKey, _ := ed25519.GenerateKey(nil)
	strict := []ConfigValue{Int32Value(OptIPAllowWithoutAuth, 0), Int32Value(OptIPLocalHostAllowWithoutAuth, 0)}
	mk := func(signed bool) *Sockets {
		cfg := Config{TrustedCAs: []ed25519.PublicKey{caPub}, Identity: SteamIDIdentity(76561197960287930)}
		if signed {
			cfg.CertificateAuthority = caKey
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	server := mk(true)
	server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			server.AcceptConnection(ev.Conn)
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	server.CreateListenSocketIP(addr, strict...)

	good := mk(true)
	h := good.ConnectByIPAddress(addr, strict...)
	waitFor(t, "authenticated connection", func() bool {
		info, _ := good.ConnectionInfo(h)
		return info.State == StateConnected
	}, server, good)
	info, _ := good.ConnectionInfo(h)
	if info.Flags&ConnInfoUnauthenticated != 0 || info.RemoteIdentity != SteamIDIdentity(76561197960287930) {
		t.Errorf("flags %b identity %v", info.Flags, info.RemoteIdentity)
	}

	bad := mk(false) // self-signed: refused by the strict server
	h2 := bad.ConnectByIPAddress(addr, Int32Value(OptTimeoutInitial, 1500))
	start := time.Now()
	waitFor(t, "refusal", func() bool {
		info, _ := bad.ConnectionInfo(h2)
		return info.State == StateProblemDetectedLocally
	}, server, bad)
	if info, _ := bad.ConnectionInfo(h2); info.EndReason != EndMiscTimeout || time.Since(start) < time.Second {
		t.Errorf("self-signed client ended with %d after %v", info.EndReason, time.Since(start))
	}
}
