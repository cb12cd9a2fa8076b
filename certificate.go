package mist

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

// A certificate request (CMsgSteamDatagramCertificateRequest) holds one
// field: the unsigned certificate, number 1.
const certRequestCertField = 1

// GetCertificateRequest returns a certificate request for a certificate
// authority to sign (GetCertificateRequest): an unsigned certificate with a
// fresh Ed25519 public key, this instance's identity (unless localhost)
// and AppID. The private key stays here until SetCertificate installs the
// signed certificate; each call makes a new key only if none is pending.
func (s *Sockets) GetCertificateRequest() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certKey == nil {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, fmt.Errorf("mist: making a key: %w", err)
		}
		s.certKey = key
	}
	msg := &pb.Certificate{
		KeyType: pb.Certificate_ED25519.Enum(),
		KeyData: s.certKey.Public().(ed25519.PublicKey),
		AppIds:  []uint32{s.appID},
	}
	if s.identity.IsValid() && !s.identity.IsLocalhost() {
		str, legacy, steamID, err := s.identity.wire().Fields()
		if err != nil {
			return nil, fmt.Errorf("mist: identity in the request: %w", err)
		}
		msg.IdentityString, msg.LegacyIdentityBinary, msg.LegacySteamId = &str, legacy, steamID
	}
	raw, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	req := protowire.AppendTag(nil, certRequestCertField, protowire.BytesType)
	return protowire.AppendBytes(req, raw), nil
}

// SignCertificateRequest is the certificate authority's side: it signs the
// certificate in request with caKey, valid from now for lifetime, and
// returns the signed certificate (CMsgSteamDatagramCertificateSigned) for
// SetCertificate.
func SignCertificateRequest(caKey ed25519.PrivateKey, request []byte, now time.Time, lifetime time.Duration) ([]byte, error) {
	raw, err := certFromRequest(request)
	if err != nil {
		return nil, err
	}
	var msg pb.Certificate
	if err := proto.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("mist: certificate request does not decode: %w", err)
	}
	if msg.GetKeyType() != pb.Certificate_ED25519 || len(msg.KeyData) != ed25519.PublicKeySize {
		return nil, errors.New("mist: certificate request without an Ed25519 key")
	}
	msg.TimeCreated = proto.Uint32(uint32(now.Unix()))
	msg.TimeExpiry = proto.Uint32(uint32(now.Add(lifetime).Unix()))
	signed, err := cert.Issue(caKey, &msg)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(signed)
}

// certFromRequest returns the certificate bytes of a request.
func certFromRequest(b []byte) ([]byte, error) {
	var found []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errors.New("mist: certificate request does not decode")
		}
		b = b[n:]
		if num == certRequestCertField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, errors.New("mist: certificate request does not decode")
			}
			found, b = v, b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, errors.New("mist: certificate request does not decode")
		}
		b = b[m:]
	}
	if found == nil {
		return nil, errors.New("mist: certificate request holds no certificate")
	}
	return found, nil
}

// SetCertificate installs a certificate signed by a certificate authority
// (SetCertificate). The private key is the one of the last
// GetCertificateRequest, or, as in GNS, the blob's private_key_data field
// when no request is pending. New connections present the certificate; the
// authentication status becomes Current, with a callback. A certificate no
// trusted CA vouches for is still installed, as GNS does: peers decide
// whether they trust it.
func (s *Sockets) SetCertificate(blob []byte) error {
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(blob, &signed); err != nil {
		return fmt.Errorf("mist: certificate does not decode: %w", err)
	}
	var key ed25519.PrivateKey
	if raw := signed.PrivateKeyData; len(raw) > 0 {
		if len(raw) != ed25519.SeedSize {
			return fmt.Errorf("mist: certificate's private key is %d bytes, want an Ed25519 seed of %d", len(raw), ed25519.SeedSize)
		}
		key = ed25519.NewKeyFromSeed(raw)
		// The key is kept apart from the certificate peers are shown.
		signed.PrivateKeyData = nil
	}
	return s.installCertificate(&signed, key)
}

// SetCertificateWithKey installs a certificate a certificate authority
// signed together with the private key it vouches for, as GNS's
// SetCertificateAndPrivateKey: the form a credential issued by package ca
// takes ([ca.Credential] Certificate and PrivateKey). Otherwise it is
// [Sockets.SetCertificate]. [Config.Certificate] does the same at New,
// and also takes the certificate's identity as the instance's.
func (s *Sockets) SetCertificateWithKey(certificate []byte, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("mist: private key is %d bytes, want an Ed25519 key of %d", len(key), ed25519.PrivateKeySize)
	}
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(certificate, &signed); err != nil {
		return fmt.Errorf("mist: certificate does not decode: %w", err)
	}
	if len(signed.PrivateKeyData) > 0 {
		return errors.New("mist: certificate carries a private key of its own; use SetCertificate")
	}
	return s.installCertificate(&signed, key)
}

// installCertificate checks a signed certificate against key (nil: the
// pending request's key) and this instance, then makes it the one new
// connections present.
func (s *Sockets) installCertificate(signed *pb.CertificateSigned, key ed25519.PrivateKey) error {
	c, err := cert.Parse(signed)
	if err != nil {
		return fmt.Errorf("mist: %w", err)
	}
	if c.PublicKey == nil {
		return errors.New("mist: certificate key is not Ed25519")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == nil {
		key = s.certKey
	}
	if key == nil {
		return errors.New("mist: no private key: call GetCertificateRequest first, or give the key (SetCertificateWithKey)")
	}
	if !bytes.Equal(c.PublicKey, key.Public().(ed25519.PublicKey)) {
		return errors.New("mist: certificate is for another public key than the private key's")
	}
	if c.Identity.IsValid() && c.Identity != s.identity.wire() {
		return fmt.Errorf("mist: certificate is for %v, this instance is %v (an instance made with Config.Certificate takes the certificate's identity)", c.Identity, s.identity)
	}
	if len(c.Msg.AppIds) > 0 && !slices.Contains(c.Msg.AppIds, s.appID) {
		return fmt.Errorf("mist: certificate AppIDs %v do not include %d", c.Msg.AppIds, s.appID)
	}
	s.local.Store(&cert.Local{Signed: signed, Cert: c, Key: key})
	s.cbMu.Lock()
	s.setAuthLocked(AvailabilityCurrent, "OK")
	s.cbMu.Unlock()
	return nil
}

// certificateIdentity returns the identity a serialized signed certificate
// names, for Config.Certificate.
func certificateIdentity(blob []byte) (Identity, error) {
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(blob, &signed); err != nil {
		return Identity{}, fmt.Errorf("mist: certificate does not decode: %w", err)
	}
	c, err := cert.Parse(&signed)
	if err != nil {
		return Identity{}, fmt.Errorf("mist: %w", err)
	}
	return Identity{c.Identity}, nil
}

// noCertificateDebug is the authentication status text while no
// certificate is installed and IP_AllowWithoutAuth 0 rules out self-signed
// ones.
const noCertificateDebug = "No certificate authority: IP_AllowWithoutAuth is 0 and no certificate is installed (SetCertificate)"

// InitAuthentication starts obtaining what authenticated connections need
// and returns the current status. It is Current when IP_AllowWithoutAuth
// at interface scope lets connections use a self-signed certificate, which
// GNS then makes per connection, or else once an unexpired certificate is
// installed (Config.Certificate, Config.CertificateAuthority,
// SetCertificate); otherwise CannotTry, as GNS without a certificate
// authority.
// A change is delivered, like in Steam, at the next RunCallbacks.
func (s *Sockets) InitAuthentication() Availability {
	avail, debug := AvailabilityCurrent, "OK"
	if s.cfg.int(OptIPAllowWithoutAuth) < 1 {
		local := s.local.Load()
		switch {
		case local == nil:
			avail, debug = AvailabilityCannotTry, noCertificateDebug
		case local.Cert.Msg.TimeExpiry != nil && s.now().Unix() > int64(local.Cert.Msg.GetTimeExpiry()):
			// GNS does not present an expired certificate; peers that
			// require one refuse it.
			avail = AvailabilityCannotTry
			debug = fmt.Sprintf("Certificate expired at %v; install a new one (SetCertificate)",
				time.Unix(int64(local.Cert.Msg.GetTimeExpiry()), 0).UTC())
		}
	}
	s.cbMu.Lock()
	defer s.cbMu.Unlock()
	s.setAuthLocked(avail, debug)
	return s.authAvail
}

// setAuthLocked sets the authentication status, posting a callback if the
// availability changed (GNS posts none for a change of text alone). Called
// with cbMu held.
func (s *Sockets) setAuthLocked(avail Availability, debug string) {
	changed := s.authAvail != avail
	s.authAvail, s.authDebug = avail, debug
	if changed {
		s.postAuthLocked()
	}
}
