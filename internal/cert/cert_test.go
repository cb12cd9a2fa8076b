package cert

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

func reasonOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func seedKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// TestSelfSignedGolden checks the layout against the protocol
// description's example for the anonymous identity and AppID 0.
func TestSelfSignedGolden(t *testing.T) {
	key := seedKey(1)
	local, err := NewSelfSigned(key, identity.LocalHost(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	want := "0801" + // key_type = ED25519
		"1220" + hex.EncodeToString(pub) + // key_data
		"5000" + // app_ids = [0]
		"5a14" + "2212" + "00000000000000000000000000000001" + "0000" + // legacy: ::1, port 0
		"6206" + hex.EncodeToString([]byte("ip:::1")) // identity_string
	if got := hex.EncodeToString(local.Signed.Cert); got != want {
		t.Fatalf("cert\n got %s\nwant %s", got, want)
	}
	wrapped, _ := proto.Marshal(local.Signed)
	if len(wrapped) != 70 || wrapped[0] != 0x22 || wrapped[1] != 0x44 {
		t.Fatalf("signed wrapper %x", wrapped)
	}
	if local.Signed.CaSignature != nil || local.Signed.PrivateKeyData != nil {
		t.Fatal("self-signed cert carries a signature or the private key")
	}
}

func TestCryptInfoSignAndVerify(t *testing.T) {
	local, err := NewSelfSigned(nil, identity.LocalHost(), 0)
	if err != nil {
		t.Fatal(err)
	}
	info := NewCryptInfo(bytes.Repeat([]byte{9}, 32), 0x0102030405060708, CipherList(0))
	signed, err := SignCryptInfo(local.Key, info)
	if err != nil {
		t.Fatal(err)
	}
	// 49 bytes of info: key type, key, nonce, version 13, ciphers [2].
	if len(signed.Info) != 49 || !bytes.HasSuffix(signed.Info, []byte{0x20, 0x0d, 0x28, 0x02}) {
		t.Fatalf("info %x", signed.Info)
	}
	if wrapped, _ := proto.Marshal(signed); len(wrapped) != 117 {
		t.Fatalf("signed crypt info is %d bytes, want 117", len(wrapped))
	}
	got, err := VerifyCryptInfo(local.Cert, signed)
	if err != nil || !proto.Equal(got, info) {
		t.Fatalf("verify: %v", err)
	}
	other, _ := NewSelfSigned(nil, identity.LocalHost(), 0)
	if _, err := VerifyCryptInfo(other.Cert, signed); err == nil {
		t.Fatal("verified with another certificate's key")
	}
	short := proto.Clone(signed).(*pb.CryptInfoSigned)
	short.Signature = short.Signature[:63]
	if _, err := VerifyCryptInfo(local.Cert, short); err == nil {
		t.Fatal("63-byte signature accepted")
	}
	// A signed info with the wrong key type is refused after the signature.
	wrong := NewCryptInfo(bytes.Repeat([]byte{9}, 31), 1, nil)
	ws, _ := SignCryptInfo(local.Key, wrong)
	if _, err := VerifyCryptInfo(local.Cert, ws); err == nil {
		t.Fatal("31-byte X25519 key accepted")
	}
}

func TestCipherNegotiation(t *testing.T) {
	names := map[pb.Cipher]string{pb.Cipher_CIPHER_AES_256_GCM: "AES", pb.Cipher_CIPHER_NULL: "NULL"}
	// Rows: server setting, columns: client setting (protocol table 4.5).
	want := [4][4]string{
		{"AES", "AES", "AES", "fail"},
		{"AES", "AES", "AES", "NULL"},
		{"AES", "NULL", "NULL", "NULL"},
		{"fail", "NULL", "NULL", "NULL"},
	}
	for s := range 4 {
		for c := range 4 {
			got := "fail"
			if sel, ok := SelectCipher(CipherList(s), &pb.CryptInfo{Ciphers: CipherList(c)}); ok {
				got = names[sel]
			}
			if got != want[s][c] {
				t.Errorf("server %d client %d: %s, want %s", s, c, got, want[s][c])
			}
		}
	}
	if sel, ok := SelectCipher(CipherList(0), &pb.CryptInfo{}); !ok || sel != pb.Cipher_CIPHER_AES_256_GCM {
		t.Error("empty client list must read as AES-GCM")
	}
	if l := CipherList(7); len(l) != 1 || l[0] != pb.Cipher_CIPHER_AES_256_GCM {
		t.Error("unknown Unencrypted value must behave like 0")
	}
}

func TestCASigned(t *testing.T) {
	ca := seedKey(2)
	var trust TrustStore
	trust.Add(ca.Public().(ed25519.PublicKey))
	now := time.Unix(1_800_000_000, 0)
	id, _ := identity.FromGenericString("server-1")
	local, err := NewCASigned(ca, id, []uint32{480}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := local.Signed.GetCaKeyId(); got != KeyID(ca.Public().(ed25519.PublicKey)) {
		t.Fatalf("key id %x", got)
	}
	if err := local.Cert.VerifyCA(&trust, now); err != nil {
		t.Fatal(err)
	}
	if err := local.Cert.VerifyCA(&trust, now.Add(2*time.Hour)); err == nil {
		t.Fatal("expired certificate verified")
	}
	if err := local.Cert.VerifyCA(&TrustStore{}, now); err == nil {
		t.Fatal("untrusted CA verified")
	}
	tampered := proto.Clone(local.Signed).(*pb.CertificateSigned)
	tampered.Cert[len(tampered.Cert)-1] ^= 1
	if c, err := Parse(tampered); err == nil {
		if err := c.VerifyCA(&trust, now); err == nil {
			t.Fatal("tampered certificate verified")
		}
	}

	crypt, _ := SignCryptInfo(local.Key, NewCryptInfo(bytes.Repeat([]byte{5}, 32), 1, nil))
	pol := &Policy{AllowWithoutAuth: 0, AppID: 480, Trusted: &trust, Now: now}
	peer, err := ValidatePeer(local.Signed, crypt, pol)
	if err != nil || !peer.CASigned || peer.Cert.Identity != id {
		t.Fatalf("CA-signed peer: %v", err)
	}
	pol.AppID = 481
	if _, err := ValidatePeer(local.Signed, crypt, pol); reasonOf(err) != ReasonBadCert {
		t.Fatalf("wrong AppID: %v", err)
	}
	// A failed CA check is forgiven when unauthenticated peers are allowed.
	pol = &Policy{AllowWithoutAuth: 2, AppID: 480, Now: now}
	if peer, err := ValidatePeer(local.Signed, crypt, pol); err != nil || peer.CASigned {
		t.Fatalf("E=2 with unknown CA: %v", err)
	}
	pol.AllowWithoutAuth = 0
	if _, err := ValidatePeer(local.Signed, crypt, pol); reasonOf(err) != ReasonBadCert {
		t.Fatalf("E=0 with unknown CA: %v", err)
	}
}

func TestValidatePeerRules(t *testing.T) {
	anon, _ := NewSelfSigned(nil, identity.LocalHost(), 0)
	named, _ := identity.FromGenericString("alice")
	alice, _ := NewSelfSigned(nil, named, 0)
	sign := func(l *Local, version uint32) *pb.CryptInfoSigned {
		info := NewCryptInfo(bytes.Repeat([]byte{5}, 32), 1, nil)
		info.ProtocolVersion = proto.Uint32(version)
		s, _ := SignCryptInfo(l.Key, info)
		return s
	}
	noApps := func() *pb.CertificateSigned {
		c := proto.Clone(alice.Cert.Msg).(*pb.Certificate)
		c.AppIds = nil
		raw, _ := proto.Marshal(c)
		return &pb.CertificateSigned{Cert: raw}
	}
	badIdentity := func() *pb.CertificateSigned {
		c := proto.Clone(anon.Cert.Msg).(*pb.Certificate)
		c.IdentityString = proto.String("steamid:0")
		raw, _ := proto.Marshal(c)
		return &pb.CertificateSigned{Cert: raw}
	}
	ok := &Policy{AllowWithoutAuth: 2}
	for _, tc := range []struct {
		name   string
		cert   *pb.CertificateSigned
		crypt  *pb.CryptInfoSigned
		policy *Policy
		want   int
	}{
		{"anonymous ok", anon.Signed, sign(anon, 13), ok, 0},
		{"named ok", alice.Signed, sign(alice, 13), ok, 0},
		{"version 8 ok", alice.Signed, sign(alice, 8), ok, 0},
		{"no cert", nil, sign(anon, 13), ok, ReasonBadCrypt},
		{"no crypt", anon.Signed, nil, ok, ReasonBadCrypt},
		{"garbage cert", &pb.CertificateSigned{Cert: []byte{0xff}}, sign(anon, 13), ok, ReasonBadCrypt},
		{"bad identity", badIdentity(), sign(anon, 13), ok, ReasonBadCert},
		{"named without AppIDs", noApps(), sign(alice, 13), ok, ReasonBadCert},
		{"AppID not listed", alice.Signed, sign(alice, 13), &Policy{AllowWithoutAuth: 2, AppID: 7}, ReasonBadCert},
		{"identity mismatch", alice.Signed, sign(alice, 13), &Policy{AllowWithoutAuth: 2, PeerIdentity: identity.LocalHost()}, ReasonBadCert},
		{"unsigned not allowed", anon.Signed, sign(anon, 13), &Policy{}, ReasonBadCert},
		{"signed by another key", anon.Signed, sign(alice, 13), ok, ReasonBadCrypt},
		{"version 7", anon.Signed, sign(anon, 7), ok, ReasonBadProtocolVersion},
		{"version changed", anon.Signed, sign(anon, 13), &Policy{AllowWithoutAuth: 2, PeerVersion: 12}, ReasonBadProtocolVersion},
	} {
		_, err := ValidatePeer(tc.cert, tc.crypt, tc.policy)
		if got := reasonOf(err); got != tc.want || (tc.want == 0) != (err == nil) {
			t.Errorf("%s: %v (reason %d), want reason %d", tc.name, err, got, tc.want)
		}
	}
}
