// Package ca is a certificate authority for mist and GameNetworkingSockets
// peers that run without Steam: it makes CA keys and issues certificates in
// GNS's signed-certificate format (CMsgSteamDatagramCertificateSigned),
// which peers that trust the CA's public key accept.
//
// A game backend that authenticates its players its own way issues each one
// a certificate for the identity it logged in:
//
//	authority, err := ca.Load("/etc/mygame/ca")
//	...
//	// after the backend's own login check succeeded for "str:alice":
//	cred, err := authority.Issue("str:alice", time.Now(), 24*time.Hour)
//	pemText, err := cred.MarshalPEM() // hand this to the player
//
// or signs the certificate request a player made with
// Sockets.GetCertificateRequest, keeping the player's private key on the
// player's machine ([Authority.SignRequest]).
//
// # File formats
//
// All are text, and the same as GNS's certificate tool reads and writes:
//
//   - ca.key: the CA's Ed25519 private key as an OpenSSH private key
//     ("-----BEGIN OPENSSH PRIVATE KEY-----"), mode 0600.
//   - ca.pub: the CA's public key as one OpenSSH authorized_keys line
//     ("ssh-ed25519 AAAA... mist-ca-ID<key id>"), the form GNS takes for a
//     trusted CA key.
//   - a credential (what [Credential.MarshalPEM] writes and `mist ca
//     issue` saves): a "STEAMDATAGRAM CERT" PEM block holding the signed
//     certificate (base64 of CMsgSteamDatagramCertificateSigned), followed
//     by the peer's Ed25519 private key as an OpenSSH private key block.
//     Keep it private: the key is the peer's proof of identity.
package ca

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// Authority holds a CA private key and issues certificates with it.
type Authority struct {
	key ed25519.PrivateKey
	// AppIDs are the AppIDs issued certificates are valid for (default
	// [0], standalone GNS's AppID). A peer accepts a certificate only if
	// it lists the peer's own AppID.
	AppIDs []uint32
}

// New makes an authority with a fresh key.
func New() (*Authority, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("ca: making a key: %w", err)
	}
	return FromKey(key), nil
}

// FromKey makes an authority of an existing Ed25519 private key.
func FromKey(key ed25519.PrivateKey) *Authority { return &Authority{key: key} }

// PublicKey is the key peers trust.
func (a *Authority) PublicKey() ed25519.PublicKey { return a.key.Public().(ed25519.PublicKey) }

// KeyID is GNS's id of the CA key, carried in every certificate it signs.
func (a *Authority) KeyID() uint64 { return cert.KeyID(a.PublicKey()) }

func (a *Authority) appIDs() []uint32 {
	if len(a.AppIDs) == 0 {
		return []uint32{0}
	}
	return append([]uint32(nil), a.AppIDs...)
}

// Credential is an issued certificate with the private key of its holder.
type Credential struct {
	// Identity is the certificate's identity in GNS's text form.
	Identity string
	// Certificate is the serialized CMsgSteamDatagramCertificateSigned,
	// the blob SetCertificate takes.
	Certificate []byte
	// PrivateKey is the holder's Ed25519 key, which the certificate vouches for.
	PrivateKey ed25519.PrivateKey
	// Expires is when peers stop accepting the certificate.
	Expires time.Time
}

// ErrBadIdentity is returned for an identity that does not parse or that
// a certificate cannot carry.
var ErrBadIdentity = errors.New("ca: bad identity")

func parseIdentity(s string) (identity.Identity, error) {
	id, err := identity.Parse(s)
	if err != nil {
		return identity.Identity{}, fmt.Errorf("%w %q: %v (use a form such as str:alice or steamid:76561197960287930)", ErrBadIdentity, s, err)
	}
	if id.IsLocalHost() {
		return identity.Identity{}, fmt.Errorf("%w %q: localhost identities are not certified", ErrBadIdentity, s)
	}
	return id, nil
}

// Issue makes a key pair and a certificate for id (GNS's text form, e.g.
// "str:alice"), valid from now for validFor.
func (a *Authority) Issue(id string, now time.Time, validFor time.Duration) (*Credential, error) {
	ident, err := parseIdentity(id)
	if err != nil {
		return nil, err
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("ca: validity %v must be positive", validFor)
	}
	local, err := cert.NewCASigned(a.key, ident, a.appIDs(), now, validFor)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	blob, err := proto.Marshal(local.Signed)
	if err != nil {
		return nil, err
	}
	return &Credential{Identity: ident.String(), Certificate: blob, PrivateKey: local.Key,
		Expires: time.Unix(int64(local.Cert.Msg.GetTimeExpiry()), 0)}, nil
}

// SignRequest signs the certificate request a peer made
// (GetCertificateRequest) for the identity the backend has authenticated.
// A request naming another identity is refused; one naming none gets id.
// The certificate's AppIDs are the authority's, whatever the request asked.
func (a *Authority) SignRequest(request []byte, id string, now time.Time, validFor time.Duration) ([]byte, error) {
	ident, err := parseIdentity(id)
	if err != nil {
		return nil, err
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("ca: validity %v must be positive", validFor)
	}
	raw, err := certFromRequest(request)
	if err != nil {
		return nil, err
	}
	var msg pb.Certificate
	if err := proto.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("ca: certificate request does not decode: %w", err)
	}
	if msg.GetKeyType() != pb.Certificate_ED25519 || len(msg.KeyData) != ed25519.PublicKeySize {
		return nil, errors.New("ca: certificate request without an Ed25519 key")
	}
	asked, err := identity.FromFields(msg.IdentityString, msg.LegacyIdentityBinary, msg.LegacySteamId)
	if err != nil {
		return nil, fmt.Errorf("ca: certificate request identity: %w", err)
	}
	if asked.IsValid() && asked != ident {
		return nil, fmt.Errorf("ca: certificate request is for %v, the authenticated identity is %v", asked, ident)
	}
	// Only the key is taken from the request; everything else is the
	// authority's.
	out := &pb.Certificate{KeyType: pb.Certificate_ED25519.Enum(), KeyData: msg.KeyData, AppIds: a.appIDs()}
	s, legacy, steamID, err := ident.Fields()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadIdentity, err)
	}
	out.IdentityString, out.LegacyIdentityBinary, out.LegacySteamId = &s, legacy, steamID
	out.TimeCreated = proto.Uint32(uint32(now.Unix()))
	out.TimeExpiry = proto.Uint32(uint32(now.Add(validFor).Unix()))
	signed, err := cert.Issue(a.key, out)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(signed)
}
