package ca

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// validateAsPeer runs the handshake's certificate validation, with
// IP_AllowWithoutAuth=0, on a credential as a peer that trusts caPub and
// expects peerID would.
func validateAsPeer(t *testing.T, cred *Credential, caPub ed25519.PublicKey, peerID string, now time.Time) error {
	t.Helper()
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(cred.Certificate, &signed); err != nil {
		t.Fatal(err)
	}
	x := make([]byte, 32)
	rand.Read(x)
	crypt, err := cert.SignCryptInfo(cred.PrivateKey, cert.NewCryptInfo(x, 1, cert.CipherList(0)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.Parse(peerID)
	if err != nil {
		t.Fatal(err)
	}
	var trust cert.TrustStore
	trust.Add(caPub)
	peer, err := cert.ValidatePeer(&signed, crypt, &cert.Policy{AllowWithoutAuth: 0, Trusted: &trust, Now: now, PeerIdentity: id})
	if err == nil && !peer.CASigned {
		t.Fatal("validation passed without a CA signature")
	}
	return err
}

func TestIssuedCertificatePassesHandshakeValidation(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := a.Issue("str:alice", t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Identity != "str:alice" || !cred.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("credential %q expires %v", cred.Identity, cred.Expires)
	}
	if err := validateAsPeer(t, cred, a.PublicKey(), "str:alice", t0.Add(time.Minute)); err != nil {
		t.Fatalf("valid certificate refused: %v", err)
	}

	var ce *cert.Error
	// Expired.
	err = validateAsPeer(t, cred, a.PublicKey(), "str:alice", t0.Add(2*time.Hour))
	if !errors.As(err, &ce) || ce.Reason != cert.ReasonBadCert || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: %v", err)
	}
	// Presented by someone claiming another identity.
	err = validateAsPeer(t, cred, a.PublicKey(), "str:mallory", t0)
	if !errors.As(err, &ce) || ce.Reason != cert.ReasonBadCert || ce.Msg != "Cert was issued to str:alice, not str:mallory" {
		t.Fatalf("wrong identity: %v", err)
	}
	// Another CA.
	other, _ := New()
	err = validateAsPeer(t, cred, other.PublicKey(), "str:alice", t0)
	if !errors.As(err, &ce) || ce.Reason != cert.ReasonBadCert || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("other CA: %v", err)
	}
}

func TestTrustVerify(t *testing.T) {
	a, _ := New()
	other, _ := New()
	cred, err := a.Issue("steamid:76561197960287930", t0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	trust := NewTrust(a.PublicKey())
	c, err := trust.Verify(cred.Certificate, "steamid:76561197960287930", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !c.PublicKey.Equal(cred.PrivateKey.Public()) || c.CAKeyID != a.KeyID() || c.Identity != cred.Identity {
		t.Fatalf("verified %+v", c)
	}
	cases := []struct {
		name  string
		trust *Trust
		want  string
		now   time.Time
		err   error
	}{
		{"expired", trust, "", t0.Add(25 * time.Hour), ErrExpired},
		{"wrong identity", trust, "steamid:76561197960287931", t0, ErrWrongIdentity},
		{"other CA", NewTrust(other.PublicKey()), "", t0, ErrUntrusted},
		{"expired and other CA", NewTrust(other.PublicKey()), "", t0.Add(25 * time.Hour), ErrUntrusted},
		{"no CA at all", nil, "", t0, ErrUntrusted},
	}
	for _, tc := range cases {
		if _, err := tc.trust.Verify(cred.Certificate, tc.want, tc.now); !errors.Is(err, tc.err) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
		}
	}
	// A certificate tampered with after signing.
	bad := append([]byte(nil), cred.Certificate...)
	var signed pb.CertificateSigned
	proto.Unmarshal(bad, &signed)
	signed.Cert[len(signed.Cert)-1] ^= 1
	bad, _ = proto.Marshal(&signed)
	if _, err := trust.Verify(bad, "", t0); err == nil {
		t.Error("tampered certificate verified")
	}
	if _, err := trust.Verify([]byte{0xff, 0xff}, "", t0); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	a, _ := New()
	for _, id := range []string{"", "alice", "steamid:12", "ip:127.0.0.1"} {
		if _, err := a.Issue(id, t0, time.Hour); !errors.Is(err, ErrBadIdentity) {
			t.Errorf("Issue(%q): %v", id, err)
		}
	}
	if _, err := a.Issue("str:a", t0, 0); err == nil {
		t.Error("zero validity accepted")
	}
}

func TestSignRequest(t *testing.T) {
	a, _ := New()
	_, key, _ := ed25519.GenerateKey(nil)
	request := func(id string) []byte {
		msg := &pb.Certificate{KeyType: pb.Certificate_ED25519.Enum(), KeyData: key.Public().(ed25519.PublicKey), AppIds: []uint32{7}}
		if id != "" {
			s := id
			msg.IdentityString = &s
		}
		raw, _ := proto.Marshal(msg)
		// field 1, bytes
		return append([]byte{0x0a, byte(len(raw))}, raw...)
	}
	trust := NewTrust(a.PublicKey())
	for _, asked := range []string{"str:bob", ""} {
		blob, err := a.SignRequest(request(asked), "str:bob", t0, time.Hour)
		if err != nil {
			t.Fatalf("request for %q: %v", asked, err)
		}
		c, err := trust.Verify(blob, "str:bob", t0)
		if err != nil {
			t.Fatal(err)
		}
		if !c.PublicKey.Equal(key.Public()) {
			t.Fatal("signed certificate carries another key")
		}
		cred := &Credential{Identity: "str:bob", Certificate: blob, PrivateKey: key}
		if err := validateAsPeer(t, cred, a.PublicKey(), "str:bob", t0); err != nil {
			t.Fatalf("AppIDs are the authority's ([0]), not the request's: %v", err)
		}
	}
	if _, err := a.SignRequest(request("str:mallory"), "str:bob", t0, time.Hour); err == nil {
		t.Fatal("request for another identity signed")
	}
	if _, err := a.SignRequest([]byte{0x0a, 0x05, 1}, "str:bob", t0, time.Hour); err == nil {
		t.Fatal("truncated request signed")
	}
}

func TestFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	a, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v, mode %v", err, st.Mode())
	}
	if _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Init: %v", err)
	}
	loaded, err := Load(dir)
	if err != nil || !loaded.PublicKey().Equal(a.PublicKey()) {
		t.Fatalf("Load: %v", err)
	}
	trust, err := LoadTrust(filepath.Join(dir, PublicFile))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := loaded.Issue("str:carol", t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	text, err := cred.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), "-----BEGIN STEAMDATAGRAM CERT-----\n") || !strings.Contains(string(text), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Fatalf("credential file:\n%s", text)
	}
	back, err := ParseCredential(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.Identity != "str:carol" || !back.PrivateKey.Equal(cred.PrivateKey) || !back.Expires.Equal(cred.Expires) {
		t.Fatalf("round trip: %+v", back)
	}
	if _, err := trust.Verify(back.Certificate, "str:carol", t0); err != nil {
		t.Fatal(err)
	}
	if keys := trust.Keys(); len(keys) != 1 || !keys[0].Equal(a.PublicKey()) {
		t.Fatalf("trusted keys %x, want the CA's", keys)
	}
	credPath := filepath.Join(dir, "carol.cred")
	if err := os.WriteFile(credPath, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if read, err := ReadCredential(credPath); err != nil || !read.PrivateKey.Equal(cred.PrivateKey) {
		t.Fatalf("ReadCredential: %v", err)
	}
	if _, err := ReadCredential(filepath.Join(dir, PublicFile)); err == nil || !strings.Contains(err.Error(), PublicFile) {
		t.Fatalf("ReadCredential of a public key: %v, want an error naming the file", err)
	}
	// A key that is not the certificate's.
	other, _ := a.Issue("str:carol", t0, time.Hour)
	otherText, _ := other.MarshalPEM()
	mixed := append(cred.CertificatePEM(), otherText[len(other.CertificatePEM()):]...)
	if _, err := ParseCredential(mixed); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
	if _, err := LoadTrust(filepath.Join(dir, KeyFile)); err == nil {
		t.Fatal("a private key file loaded as trust")
	}
}
