package ca

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

// Trust is a set of CA public keys whose certificates are accepted.
type Trust struct {
	store cert.TrustStore
	keys  []ed25519.PublicKey
}

// NewTrust trusts the given CA keys.
func NewTrust(keys ...ed25519.PublicKey) *Trust {
	t := new(Trust)
	for _, k := range keys {
		t.Add(k)
	}
	return t
}

// Add trusts one more CA key.
func (t *Trust) Add(pub ed25519.PublicKey) {
	t.store.Add(pub)
	t.keys = append(t.keys, append(ed25519.PublicKey(nil), pub...))
}

// Keys returns the trusted CA keys, for mist.Config.TrustedCAs.
func (t *Trust) Keys() []ed25519.PublicKey {
	if t == nil {
		return nil
	}
	out := make([]ed25519.PublicKey, len(t.keys))
	copy(out, t.keys)
	return out
}

// Certificate is a certificate that passed verification.
type Certificate struct {
	// Identity is the certified identity in GNS's text form.
	Identity string
	// PublicKey is the holder's key: what the holder signs with.
	PublicKey ed25519.PublicKey
	// CAKeyID names the CA key that signed it.
	CAKeyID uint64
	// Expires is the certificate's end of validity (zero if it has none).
	Expires time.Time
}

// Verification errors, for errors.Is.
var (
	ErrUntrusted     = errors.New("ca: certificate is not signed by a trusted CA")
	ErrExpired       = errors.New("ca: certificate has expired")
	ErrWrongIdentity = errors.New("ca: certificate is for another identity")
	ErrMalformed     = errors.New("ca: certificate does not decode")
)

// Verify checks a serialized CMsgSteamDatagramCertificateSigned: signed by
// a trusted CA over the received bytes, not expired at now, an Ed25519
// key, and an identity. If wantIdentity is not empty the certificate must
// be for it (compared in canonical form).
func (t *Trust) Verify(certificate []byte, wantIdentity string, now time.Time) (*Certificate, error) {
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(certificate, &signed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := cert.Parse(&signed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !c.HasCASignature() {
		return nil, fmt.Errorf("%w: it carries no CA signature", ErrUntrusted)
	}
	// Expiry is checked here, before VerifyCA, to tell it apart.
	if exp := c.Msg.TimeExpiry; exp != nil && now.Unix() > int64(*exp) {
		if err := c.VerifyCA(t.storeOrNil(), time.Unix(int64(*exp), 0)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
		}
		return nil, fmt.Errorf("%w at %v", ErrExpired, time.Unix(int64(*exp), 0).UTC())
	}
	if err := c.VerifyCA(t.storeOrNil(), now); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if c.PublicKey == nil {
		return nil, fmt.Errorf("%w: key is not a 32-byte Ed25519 key", ErrMalformed)
	}
	if !c.Identity.IsValid() {
		return nil, fmt.Errorf("%w: it names no identity", ErrWrongIdentity)
	}
	got := c.Identity.String()
	if wantIdentity != "" {
		want, err := parseIdentity(wantIdentity)
		if err != nil {
			return nil, err
		}
		if want != c.Identity {
			return nil, fmt.Errorf("%w: it is for %s, not %s", ErrWrongIdentity, got, want)
		}
	}
	out := &Certificate{Identity: got, PublicKey: c.PublicKey, CAKeyID: c.CAKeyID}
	if exp := c.Msg.TimeExpiry; exp != nil {
		out.Expires = time.Unix(int64(*exp), 0)
	}
	return out, nil
}

func (t *Trust) storeOrNil() *cert.TrustStore {
	if t == nil {
		return nil
	}
	return &t.store
}

// certRequestCertField is the one field of CMsgSteamDatagramCertificateRequest:
// the unsigned certificate.
const certRequestCertField = 1

// certFromRequest returns the certificate bytes of a certificate request.
func certFromRequest(b []byte) ([]byte, error) {
	var found []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errors.New("ca: certificate request does not decode")
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, errors.New("ca: certificate request does not decode")
		}
		if num == certRequestCertField && typ == protowire.BytesType {
			found, _ = protowire.ConsumeBytes(b)
		}
		b = b[m:]
	}
	if found == nil {
		return nil, errors.New("ca: certificate request holds no certificate")
	}
	return found, nil
}
