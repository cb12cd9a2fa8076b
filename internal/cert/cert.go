// Package cert handles the certificates and signed session parameters of
// the GameNetworkingSockets handshake.
//
// A certificate ([pb.Certificate]) binds an Ed25519 key to an identity and
// a set of AppIDs. GNS peers without a certificate authority make a fresh
// self-signed one per connection ([NewSelfSigned]); such a certificate
// carries no signature at all. A CA-issued certificate ([Issue]) is signed
// by a CA key named by its key id ([KeyID]) and checked against trusted CA
// public keys ([TrustStore]).
//
// Each side signs its crypt info (ephemeral X25519 key, nonce, protocol
// version, ciphers) with its certificate key ([SignCryptInfo],
// [VerifyCryptInfo]). [ValidatePeer] applies the full acceptance rules to a
// peer's certificate and crypt info and returns the GNS end reason on
// failure ([*Error]).
//
// Signatures are always made and checked over the exact bytes that travel
// (CertificateSigned.cert, CryptInfoSigned.info); decoded copies are never
// re-marshalled for that.
package cert

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// Cert is a decoded certificate together with the bytes it was decoded
// from.
type Cert struct {
	// Raw is the serialized Certificate exactly as sent (signed by the CA
	// and fed to the key derivation).
	Raw []byte
	// Msg is the decoded certificate.
	Msg *pb.Certificate
	// CAKeyID and CASignature are set on CA-issued certificates.
	CAKeyID     uint64
	CASignature []byte
	// PublicKey is the certificate's Ed25519 key (nil if the key type or
	// size is wrong).
	PublicKey ed25519.PublicKey
	// Identity is the identity the certificate carries; invalid if none.
	Identity identity.Identity
}

// HasCASignature reports whether the certificate claims a CA signature.
func (c *Cert) HasCASignature() bool { return c.CASignature != nil }

// Parse decodes a signed certificate. It fails when the cert bytes are
// missing or do not decode, or when a present identity is malformed.
func Parse(signed *pb.CertificateSigned) (*Cert, error) {
	if signed == nil || signed.Cert == nil {
		return nil, errors.New("cert: no certificate bytes")
	}
	c := &Cert{Raw: signed.Cert, Msg: new(pb.Certificate), CAKeyID: signed.GetCaKeyId(), CASignature: signed.CaSignature}
	if err := proto.Unmarshal(signed.Cert, c.Msg); err != nil {
		return nil, fmt.Errorf("cert: certificate does not decode: %w", err)
	}
	if c.Msg.GetKeyType() == pb.Certificate_ED25519 && len(c.Msg.KeyData) == ed25519.PublicKeySize {
		c.PublicKey = ed25519.PublicKey(c.Msg.KeyData)
	}
	id, err := identity.FromFields(c.Msg.IdentityString, c.Msg.LegacyIdentityBinary, c.Msg.LegacySteamId)
	if err != nil {
		return nil, fmt.Errorf("cert: certificate identity: %w", err)
	}
	c.Identity = id
	return c, nil
}

// Local is this side's certificate and its private key.
type Local struct {
	// Signed is what goes into ConnectRequest / ConnectOK.
	Signed *pb.CertificateSigned
	Cert   *Cert
	Key    ed25519.PrivateKey
}

// NewSelfSigned makes a certificate the way GNS does without a CA: key
// type Ed25519, the identity in all its carriers, app_ids = [appID] (0 for
// standalone GNS), no times and no signature. A nil key is generated.
func NewSelfSigned(key ed25519.PrivateKey, id identity.Identity, appID uint32) (*Local, error) {
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(nil); err != nil {
			return nil, err
		}
	}
	msg, err := newCertMsg(key.Public().(ed25519.PublicKey), id)
	if err != nil {
		return nil, err
	}
	msg.AppIds = []uint32{appID}
	raw, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	signed := &pb.CertificateSigned{Cert: raw}
	c, err := Parse(signed)
	if err != nil {
		return nil, err
	}
	return &Local{Signed: signed, Cert: c, Key: key}, nil
}

// newCertMsg fills key and identity fields, identity carriers as GNS
// writes them.
func newCertMsg(pub ed25519.PublicKey, id identity.Identity) (*pb.Certificate, error) {
	msg := &pb.Certificate{KeyType: pb.Certificate_ED25519.Enum(), KeyData: pub}
	if id.IsValid() {
		s, legacy, steamID, err := id.Fields()
		if err != nil {
			return nil, fmt.Errorf("cert: %w", err)
		}
		msg.IdentityString, msg.LegacyIdentityBinary, msg.LegacySteamId = &s, legacy, steamID
	}
	return msg, nil
}

// KeyID is GNS's id of a public key: the first 8 bytes of its SHA-256,
// little-endian.
func KeyID(pub ed25519.PublicKey) uint64 {
	sum := sha256.Sum256(pub)
	return binary.LittleEndian.Uint64(sum[:8])
}

// Issue signs msg with a CA key: the certificate is serialized once, and
// those bytes are signed and sent.
func Issue(caKey ed25519.PrivateKey, msg *pb.Certificate) (*pb.CertificateSigned, error) {
	raw, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return &pb.CertificateSigned{
		Cert:        raw,
		CaKeyId:     proto.Uint64(KeyID(caKey.Public().(ed25519.PublicKey))),
		CaSignature: ed25519.Sign(caKey, raw),
	}, nil
}

// NewCASigned makes a key pair and a CA-issued certificate for id, valid
// from now for lifetime, scoped to appIDs.
func NewCASigned(caKey ed25519.PrivateKey, id identity.Identity, appIDs []uint32, now time.Time, lifetime time.Duration) (*Local, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	msg, err := newCertMsg(key.Public().(ed25519.PublicKey), id)
	if err != nil {
		return nil, err
	}
	msg.AppIds = appIDs
	msg.TimeCreated = proto.Uint32(uint32(now.Unix()))
	msg.TimeExpiry = proto.Uint32(uint32(now.Add(lifetime).Unix()))
	signed, err := Issue(caKey, msg)
	if err != nil {
		return nil, err
	}
	c, err := Parse(signed)
	if err != nil {
		return nil, err
	}
	return &Local{Signed: signed, Cert: c, Key: key}, nil
}

// TrustStore holds the CA public keys certificates may be signed with.
type TrustStore struct {
	keys map[uint64]ed25519.PublicKey
}

// Add trusts pub as a CA key.
func (t *TrustStore) Add(pub ed25519.PublicKey) {
	if t.keys == nil {
		t.keys = make(map[uint64]ed25519.PublicKey)
	}
	t.keys[KeyID(pub)] = append(ed25519.PublicKey(nil), pub...)
}

// VerifyCA checks a CA-issued certificate: a trusted key id, a valid
// signature over the received bytes, and an expiry not before now.
func (c *Cert) VerifyCA(trust *TrustStore, now time.Time) error {
	if c.CASignature == nil {
		return errors.New("cert: certificate has no CA signature")
	}
	var pub ed25519.PublicKey
	if trust != nil {
		pub = trust.keys[c.CAKeyID]
	}
	if pub == nil {
		return fmt.Errorf("cert: CA key id %016x is not trusted (signed by another CA)", c.CAKeyID)
	}
	if len(c.CASignature) != ed25519.SignatureSize || !ed25519.Verify(pub, c.Raw, c.CASignature) {
		return errors.New("cert: CA signature does not verify")
	}
	if exp := c.Msg.TimeExpiry; exp != nil && now.Unix() > int64(*exp) {
		return fmt.Errorf("cert: certificate expired at %v", time.Unix(int64(*exp), 0).UTC())
	}
	return nil
}
