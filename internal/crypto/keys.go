package crypto

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sizes of the session key material.
const (
	KeySize       = 32 // AES-256 key
	IVSize        = 12 // GCM base IV
	TagSize       = 16 // GCM tag
	PublicKeySize = 32 // X25519 public key
)

// KeyPair is an ephemeral X25519 key pair, one per connection.
type KeyPair struct {
	priv *ecdh.PrivateKey
}

// GenerateKeyPair makes a key pair from rand (crypto/rand.Reader if nil).
func GenerateKeyPair(rand io.Reader) (*KeyPair, error) {
	if rand == nil {
		k, err := ecdh.X25519().GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		return &KeyPair{priv: k}, nil
	}
	var seed [32]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading X25519 private key: %w", err)
	}
	return NewKeyPair(seed[:])
}

// NewKeyPair wraps a 32-byte X25519 private key (unclamped; clamping happens
// inside X25519).
func NewKeyPair(private []byte) (*KeyPair, error) {
	k, err := ecdh.X25519().NewPrivateKey(private)
	if err != nil {
		return nil, fmt.Errorf("crypto: X25519 private key: %w", err)
	}
	return &KeyPair{priv: k}, nil
}

// Public returns the 32-byte public key sent in the crypt info.
func (k *KeyPair) Public() []byte { return k.priv.PublicKey().Bytes() }

// Private returns the 32-byte private key.
func (k *KeyPair) Private() []byte { return k.priv.Bytes() }

// ErrKeyExchange means the peer's X25519 key is malformed or yields the
// all-zero shared secret; GNS ends the connection with Remote_BadCrypt.
var ErrKeyExchange = errors.New("crypto: X25519 key exchange failed")

// SharedSecret returns the raw X25519 result with the peer's public key.
func (k *KeyPair) SharedSecret(peerPublic []byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peerPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: peer public key: %v", ErrKeyExchange, err)
	}
	s, err := k.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	return s, nil
}

// Handshake is the material both sides feed into the key derivation. Cert
// and crypt-info bytes are the inner serialized messages exactly as they
// travelled (CertificateSigned.cert and CryptInfoSigned.info).
type Handshake struct {
	// IsServer: this side accepted the connection.
	IsServer bool
	// Local is this side's ephemeral key pair; PeerPublic the peer's key.
	Local      *KeyPair
	PeerPublic []byte

	ClientNonce, ServerNonce   uint64
	ClientConnID, ServerConnID uint32
	ClientCert, ServerCert     []byte
	ClientInfo, ServerInfo     []byte
}

// SessionKeys are one side's keys: send with SendKey/SendIV, open received
// packets with RecvKey/RecvIV.
type SessionKeys struct {
	SendKey, RecvKey [KeySize]byte
	SendIV, RecvIV   [IVSize]byte
}

// Schedule is the whole key derivation, intermediates included (for tests
// and capture decoding).
type Schedule struct {
	Premaster [32]byte // SHA-256 of the X25519 output
	Salt      [16]byte // le64(server nonce) || le64(client nonce)
	PRK       [32]byte // HMAC-SHA256(key = premaster, message = salt)
	Info      []byte   // expand context, without the counter byte

	ClientToServerKey, ServerToClientKey [KeySize]byte
	ClientToServerIV, ServerToClientIV   [IVSize]byte
}

// contextLabel sits between the connection ids and the signed blobs in the
// expand context.
const contextLabel = "Steam datagram"

// DeriveSchedule runs the GNS key derivation.
func DeriveSchedule(h *Handshake) (*Schedule, error) {
	if h.Local == nil {
		return nil, errors.New("crypto: no local key pair")
	}
	shared, err := h.Local.SharedSecret(h.PeerPublic)
	if err != nil {
		return nil, err
	}
	s := &Schedule{Premaster: sha256.Sum256(shared)}
	binary.LittleEndian.PutUint64(s.Salt[0:], h.ServerNonce)
	binary.LittleEndian.PutUint64(s.Salt[8:], h.ClientNonce)
	// hkdf.Extract(hash, secret, salt) computes HMAC(key = salt, secret):
	// passing the premaster as "salt" gives GNS's reversed extract.
	prk, err := hkdf.Extract(sha256.New, s.Salt[:], s.Premaster[:])
	if err != nil {
		return nil, err
	}
	copy(s.PRK[:], prk)

	info := make([]byte, 0, 8+len(contextLabel)+len(h.ServerCert)+len(h.ClientCert)+len(h.ServerInfo)+len(h.ClientInfo))
	info = binary.LittleEndian.AppendUint32(info, h.ClientConnID)
	info = binary.LittleEndian.AppendUint32(info, h.ServerConnID)
	info = append(info, contextLabel...)
	info = append(info, h.ServerCert...)
	info = append(info, h.ClientCert...)
	info = append(info, h.ServerInfo...)
	info = append(info, h.ClientInfo...)
	s.Info = info

	okm, err := hkdf.Expand(sha256.New, prk, string(info), 4*sha256.Size)
	if err != nil {
		return nil, err
	}
	copy(s.ClientToServerKey[:], okm[0:32])
	copy(s.ServerToClientKey[:], okm[32:64])
	copy(s.ClientToServerIV[:], okm[64:64+IVSize])
	copy(s.ServerToClientIV[:], okm[96:96+IVSize])
	return s, nil
}

// Keys returns the keys of one side of the schedule.
func (s *Schedule) Keys(isServer bool) SessionKeys {
	if isServer {
		return SessionKeys{
			SendKey: s.ServerToClientKey, SendIV: s.ServerToClientIV,
			RecvKey: s.ClientToServerKey, RecvIV: s.ClientToServerIV,
		}
	}
	return SessionKeys{
		SendKey: s.ClientToServerKey, SendIV: s.ClientToServerIV,
		RecvKey: s.ServerToClientKey, RecvIV: s.ServerToClientIV,
	}
}

// DeriveKeys derives this side's session keys.
func DeriveKeys(h *Handshake) (SessionKeys, error) {
	s, err := DeriveSchedule(h)
	if err != nil {
		return SessionKeys{}, err
	}
	return s.Keys(h.IsServer), nil
}
