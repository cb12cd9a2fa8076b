package mist

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/ca"
	"github.com/mistnet/mist/internal/pb"
)

// issue makes a credential for id from authority, valid for an hour from
// now (or, with expired, for an hour that ended a day ago).
func issue(t testing.TB, authority *ca.Authority, id string, expired bool) *ca.Credential {
	t.Helper()
	from := time.Now()
	if expired {
		from = from.Add(-25 * time.Hour)
	}
	cred, err := authority.Issue(id, from, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func newAuthority(t testing.TB) *ca.Authority {
	t.Helper()
	a, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Config.Certificate installs an issued credential at New, takes its
// identity, and makes the authentication status Current with one callback.
func TestConfigCertificate(t *testing.T) {
	authority := newAuthority(t)
	cred := issue(t, authority, "str:alice", false)
	var auth []*AuthStatus
	s, err := New(Config{Certificate: cred.Certificate, CertificateKey: cred.PrivateKey,
		TrustedCAs: []ed25519.PublicKey{authority.PublicKey()}, RequireAuthentication: true,
		OnAuthenticationStatus: func(a *AuthStatus) { auth = append(auth, a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if id, _ := s.Identity(); id.String() != "str:alice" {
		t.Errorf("identity %v, want the certificate's str:alice", id)
	}
	if avail := s.InitAuthentication(); avail != AvailabilityCurrent {
		t.Errorf("InitAuthentication = %v with a certificate, want Current", avail)
	}
	s.RunCallbacks()
	if len(auth) != 1 || auth[0].Avail != AvailabilityCurrent || auth[0].Debug != "OK" {
		t.Errorf("auth callbacks %+v, want one Current OK", auth)
	}
	if s.local.Load() == nil || !s.local.Load().Key.Equal(cred.PrivateKey) {
		t.Error("credential not installed")
	}
	for _, opt := range []ConfigOption{OptIPAllowWithoutAuth, OptIPLocalHostAllowWithoutAuth} {
		if v := s.cfg.int(opt); v != 0 {
			t.Errorf("RequireAuthentication left %s at %d", ConfigOptionName(opt), v)
		}
	}

	// A Config identity other than the certificate's is an error.
	if _, err := New(Config{Identity: strIdentity(t, "bob"), Certificate: cred.Certificate, CertificateKey: cred.PrivateKey}); err == nil || !strings.Contains(err.Error(), "str:alice") {
		t.Errorf("mismatched identity: %v", err)
	}
	if _, err := New(Config{Certificate: cred.Certificate}); err == nil {
		t.Error("certificate without its key accepted")
	}
	if _, err := New(Config{Certificate: []byte{0xff}, CertificateKey: cred.PrivateKey}); err == nil {
		t.Error("garbage certificate accepted")
	}
}

func TestSetCertificateWithKey(t *testing.T) {
	authority := newAuthority(t)
	alice := issue(t, authority, "str:alice", false)
	other := issue(t, authority, "str:alice", false)
	bob := issue(t, authority, "str:bob", false)
	s, err := New(Config{Identity: strIdentity(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, want string
		cert       []byte
		key        ed25519.PrivateKey
	}{
		{"another key", "another public key", alice.Certificate, other.PrivateKey},
		{"short key", "want an Ed25519 key", alice.Certificate, alice.PrivateKey[:32]},
		{"garbage", "does not decode", []byte{0xff, 0x01}, alice.PrivateKey},
		{"another identity", "str:bob", bob.Certificate, bob.PrivateKey},
	} {
		if err := s.SetCertificateWithKey(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if avail, _ := s.AuthenticationStatus(); avail == AvailabilityCurrent {
		t.Error("Current after refused certificates")
	}
	if err := s.SetCertificateWithKey(alice.Certificate, alice.PrivateKey); err != nil {
		t.Fatal(err)
	}
	if avail, debug := s.AuthenticationStatus(); avail != AvailabilityCurrent || debug != "OK" {
		t.Errorf("status %v %q after SetCertificateWithKey", avail, debug)
	}
}

// As in GNS, SetCertificate takes the private key from the blob's
// private_key_data when no certificate request is pending, and does not
// show it to peers.
func TestSetCertificateKeyInBlob(t *testing.T) {
	cred := issue(t, newAuthority(t), "str:alice", false)
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(cred.Certificate, &signed); err != nil {
		t.Fatal(err)
	}
	signed.PrivateKeyData = cred.PrivateKey.Seed()
	blob, _ := proto.Marshal(&signed)
	s, err := New(Config{Identity: strIdentity(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetCertificateWithKey(blob, cred.PrivateKey); err == nil {
		t.Error("SetCertificateWithKey took a blob with a key of its own")
	}
	signed.PrivateKeyData = []byte{1, 2, 3}
	short, _ := proto.Marshal(&signed)
	if err := s.SetCertificate(short); err == nil {
		t.Error("3-byte private key accepted")
	}
	if err := s.SetCertificate(blob); err != nil {
		t.Fatal(err)
	}
	local := s.local.Load()
	if !local.Key.Equal(cred.PrivateKey) || len(local.Signed.PrivateKeyData) != 0 {
		t.Errorf("installed key %x, presented private_key_data %x", local.Key, local.Signed.PrivateKeyData)
	}
}

// InitAuthentication reaches Current without a certificate only when
// IP_AllowWithoutAuth lets connections use self-signed ones; otherwise it
// says CannotTry until a certificate is installed.
func TestInitAuthenticationNeedsCertificateWhenRequired(t *testing.T) {
	open, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if avail := open.InitAuthentication(); avail != AvailabilityCurrent {
		t.Errorf("default settings: %v, want Current (self-signed allowed)", avail)
	}

	var auth []*AuthStatus
	strict, err := New(Config{Identity: strIdentity(t, "alice"), RequireAuthentication: true,
		OnAuthenticationStatus: func(a *AuthStatus) { auth = append(auth, a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if avail := strict.InitAuthentication(); avail != AvailabilityCannotTry {
		t.Errorf("required without a certificate: %v, want CannotTry", avail)
	}
	if _, debug := strict.AuthenticationStatus(); !strings.Contains(debug, "IP_AllowWithoutAuth") {
		t.Errorf("debug text %q does not say why", debug)
	}
	cred := issue(t, newAuthority(t), "str:alice", false)
	if err := strict.SetCertificateWithKey(cred.Certificate, cred.PrivateKey); err != nil {
		t.Fatal(err)
	}
	if avail := strict.InitAuthentication(); avail != AvailabilityCurrent {
		t.Errorf("with a certificate: %v, want Current", avail)
	}
	strict.RunCallbacks()
	if len(auth) != 2 || auth[0].Avail != AvailabilityCannotTry || auth[1].Avail != AvailabilityCurrent {
		t.Errorf("callbacks %+v, want CannotTry then Current", auth)
	}
}

func strIdentity(t testing.TB, s string) Identity {
	t.Helper()
	id, ok := GenericStringIdentity(s)
	if !ok {
		t.Fatalf("identity str:%s", s)
	}
	return id
}

// FuzzCertificateWithKey feeds arbitrary certificates to the paths that
// take a certificate with its key: errors, never panics; whatever is
// installed is for the key given.
func FuzzCertificateWithKey(f *testing.F) {
	cred := issue(f, newAuthority(f), "str:alice", false)
	var signed pb.CertificateSigned
	proto.Unmarshal(cred.Certificate, &signed)
	signed.PrivateKeyData = cred.PrivateKey.Seed()
	withKey, _ := proto.Marshal(&signed)
	f.Add(cred.Certificate)
	f.Add(withKey)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		certificateIdentity(b)
		s, err := New(Config{Identity: strIdentity(t, "alice")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.SetCertificateWithKey(b, cred.PrivateKey) == nil && !s.local.Load().Key.Equal(cred.PrivateKey) {
			t.Fatal("installed with another key")
		}
		s.SetCertificate(b)
		if s2, err := New(Config{Certificate: b, CertificateKey: cred.PrivateKey}); err == nil {
			s2.Close()
			var got pb.CertificateSigned
			if proto.Unmarshal(b, &got) != nil {
				t.Fatal("undecodable certificate accepted")
			}
		}
	})
}

// An expired certificate does not make authentication current where one is
// required.
func TestInitAuthenticationExpiredCertificate(t *testing.T) {
	cred := issue(t, newAuthority(t), "str:alice", true)
	s, err := New(Config{Certificate: cred.Certificate, CertificateKey: cred.PrivateKey, RequireAuthentication: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if avail := s.InitAuthentication(); avail != AvailabilityCannotTry {
		t.Errorf("InitAuthentication = %v with an expired certificate, want CannotTry", avail)
	}
	if _, debug := s.AuthenticationStatus(); !strings.Contains(debug, "Certificate expired at") {
		t.Errorf("debug text %q", debug)
	}
	fresh := issue(t, newAuthority(t), "str:alice", false)
	if err := s.SetCertificateWithKey(fresh.Certificate, fresh.PrivateKey); err != nil {
		t.Fatal(err)
	}
	if avail := s.InitAuthentication(); avail != AvailabilityCurrent {
		t.Errorf("after a new certificate: %v, want Current", avail)
	}
}
