package mist

import (
	"crypto/ed25519"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// certifiedSockets makes an instance that trusts caPub and, when signer is
// set, obtains its certificate through the request flow with it.
func certifiedSockets(t *testing.T, id Identity, caPub ed25519.PublicKey, signer ed25519.PrivateKey) (*Sockets, *[]*AuthStatus) {
	t.Helper()
	var auth []*AuthStatus
	s, err := New(Config{Identity: id, TrustedCAs: []ed25519.PublicKey{caPub},
		OnAuthenticationStatus: func(a *AuthStatus) { auth = append(auth, a) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if signer == nil {
		return s, &auth
	}
	req, err := s.GetCertificateRequest()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := SignCertificateRequest(signer, req, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCertificate(signed); err != nil {
		t.Fatalf("SetCertificate: %v", err)
	}
	return s, &auth
}

func TestCertificateRequestFlow(t *testing.T) {
	caPub, caKey, _ := ed25519.GenerateKey(nil)
	_, otherCA, _ := ed25519.GenerateKey(nil)
	strict := []ConfigValue{Int32Value(OptIPAllowWithoutAuth, 0), Int32Value(OptIPLocalHostAllowWithoutAuth, 0)}
	serverID, clientID := SteamIDIdentity(76561197960287930), SteamIDIdentity(76561197960287931)

	server, serverAuth := certifiedSockets(t, serverID, caPub, caKey)
	if avail, _ := server.AuthenticationStatus(); avail != AvailabilityCurrent {
		t.Errorf("auth status %v after SetCertificate, want Current", avail)
	}
	server.RunCallbacks()
	if len(*serverAuth) != 1 || (*serverAuth)[0].Avail != AvailabilityCurrent {
		t.Errorf("auth callbacks %v, want one Current", *serverAuth)
	}
	server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			server.AcceptConnection(ev.Conn)
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	if server.CreateListenSocketIP(addr, strict...) == 0 {
		t.Fatal("listen failed")
	}

	client, _ := certifiedSockets(t, clientID, caPub, caKey)
	h := client.ConnectByIPAddress(addr, strict...)
	waitFor(t, "authenticated connection", func() bool {
		info, _ := client.ConnectionInfo(h)
		return info.State == StateConnected || info.State == StateProblemDetectedLocally
	}, server, client)
	info, _ := client.ConnectionInfo(h)
	if info.State != StateConnected || info.Flags&ConnInfoUnauthenticated != 0 || info.RemoteIdentity != serverID {
		t.Errorf("state %v (end %d %q), flags %b, identity %v", info.State, info.EndReason, info.EndDebug, info.Flags, info.RemoteIdentity)
	}

	// A server whose certificate an untrusted CA signed is refused by a
	// strict client with Remote_BadCert.
	rogue, _ := certifiedSockets(t, SteamIDIdentity(76561197960287932), caPub, otherCA)
	rogue.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			rogue.AcceptConnection(ev.Conn)
		}
	})
	rogueAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	if rogue.CreateListenSocketIP(rogueAddr) == 0 {
		t.Fatal("listen failed")
	}
	h2 := client.ConnectByIPAddress(rogueAddr, strict...)
	waitFor(t, "refusal", func() bool {
		info, _ := client.ConnectionInfo(h2)
		return info.State == StateProblemDetectedLocally || info.State == StateConnected
	}, rogue, client)
	if info, _ := client.ConnectionInfo(h2); info.State != StateProblemDetectedLocally || info.EndReason != EndRemoteBadCert {
		t.Errorf("connection to an untrusted certificate: state %v, end %d %q", info.State, info.EndReason, info.EndDebug)
	}
}

func TestSetCertificateRejects(t *testing.T) {
	caPub, caKey, _ := ed25519.GenerateKey(nil)
	id := SteamIDIdentity(76561197960287930)
	s, _ := certifiedSockets(t, id, caPub, nil)
	if err := s.SetCertificate([]byte{0xff, 0x01}); err == nil {
		t.Error("garbage accepted")
	}
	other, _ := certifiedSockets(t, SteamIDIdentity(76561197960287999), caPub, nil)
	otherReq, _ := other.GetCertificateRequest()
	otherCert, _ := SignCertificateRequest(caKey, otherReq, time.Now(), time.Hour)
	if err := s.SetCertificate(otherCert); err == nil {
		t.Error("certificate accepted without a pending key")
	}
	req, err := s.GetCertificateRequest()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCertificate(otherCert); err == nil {
		t.Error("certificate for another key accepted")
	}
	// Same key, another identity.
	raw, _ := certFromRequest(req)
	var msg pb.Certificate
	if err := proto.Unmarshal(raw, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.GetIdentityString() != id.String() || len(msg.AppIds) != 1 || msg.AppIds[0] != 0 {
		t.Errorf("request for %q AppIDs %v", msg.GetIdentityString(), msg.AppIds)
	}
	msg.IdentityString = proto.String("steamid:76561197960287999")
	msg.LegacySteamId, msg.LegacyIdentityBinary = nil, nil
	forged, _ := proto.Marshal(&msg)
	req2 := append([]byte{0x0a, byte(len(forged))}, forged...)
	wrongID, err := SignCertificateRequest(caKey, req2, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCertificate(wrongID); err == nil {
		t.Error("certificate for another identity accepted")
	}
	if avail, _ := s.AuthenticationStatus(); avail == AvailabilityCurrent {
		t.Error("auth status Current after refused certificates")
	}
	if _, err := SignCertificateRequest(caKey, []byte{0x12, 0x00}, time.Now(), time.Hour); err == nil {
		t.Error("request without a certificate signed")
	}
}

// FuzzCertificateRequest feeds arbitrary requests to the CA side and
// arbitrary certificates to SetCertificate: errors, never panics.
func FuzzCertificateRequest(f *testing.F) {
	_, caKey, _ := ed25519.GenerateKey(nil)
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	req, _ := s.GetCertificateRequest()
	signed, _ := SignCertificateRequest(caKey, req, time.Unix(1700000000, 0), time.Hour)
	f.Add(req)
	f.Add(signed)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		SignCertificateRequest(caKey, b, time.Unix(1700000000, 0), time.Hour)
		s.SetCertificate(b)
	})
}
