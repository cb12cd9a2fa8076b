package cert

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// ProtocolVersion is the protocol version mist speaks; MinProtocolVersion
// the oldest peer version GNS accepts.
const (
	ProtocolVersion    = 13
	MinProtocolVersion = 8
)

// NewCryptInfo builds the session parameters of one side: X25519 public
// key, nonce, protocol version and ciphers (the client's preference list or
// the server's single choice).
func NewCryptInfo(x25519Public []byte, nonce uint64, ciphers []pb.Cipher) *pb.CryptInfo {
	return &pb.CryptInfo{
		KeyType:         pb.CryptInfo_CURVE25519.Enum(),
		KeyData:         x25519Public,
		Nonce:           proto.Uint64(nonce),
		ProtocolVersion: proto.Uint32(ProtocolVersion),
		Ciphers:         ciphers,
	}
}

// SignCryptInfo serializes info once and signs those bytes with the
// certificate key.
func SignCryptInfo(key ed25519.PrivateKey, info *pb.CryptInfo) (*pb.CryptInfoSigned, error) {
	raw, err := proto.Marshal(info)
	if err != nil {
		return nil, err
	}
	return &pb.CryptInfoSigned{Info: raw, Signature: ed25519.Sign(key, raw)}, nil
}

// VerifyCryptInfo checks the signature over the received info bytes with
// the certificate's key and decodes them. The key type must be Curve25519
// with a 32-byte key.
func VerifyCryptInfo(c *Cert, signed *pb.CryptInfoSigned) (*pb.CryptInfo, error) {
	if signed == nil || signed.Info == nil {
		return nil, errors.New("cert: no crypt info")
	}
	if c.PublicKey == nil {
		return nil, errors.New("cert: certificate has no Ed25519 key")
	}
	if len(signed.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("cert: crypt info signature is %d bytes, want %d", len(signed.Signature), ed25519.SignatureSize)
	}
	if !ed25519.Verify(c.PublicKey, signed.Info, signed.Signature) {
		return nil, errors.New("cert: crypt info signature does not verify with the certificate's key (the peer does not hold its private key)")
	}
	info := new(pb.CryptInfo)
	if err := proto.Unmarshal(signed.Info, info); err != nil {
		return nil, fmt.Errorf("cert: crypt info does not decode: %w", err)
	}
	if info.GetKeyType() != pb.CryptInfo_CURVE25519 || len(info.KeyData) != 32 {
		return nil, fmt.Errorf("cert: crypt info key is type %v with %d bytes, want a 32-byte Curve25519 key", info.GetKeyType(), len(info.KeyData))
	}
	return info, nil
}

// Ciphers returns the cipher list of info, reading an empty list as
// [AES-256-GCM].
func Ciphers(info *pb.CryptInfo) []pb.Cipher {
	if len(info.Ciphers) == 0 {
		return []pb.Cipher{pb.Cipher_CIPHER_AES_256_GCM}
	}
	return info.Ciphers
}

// CipherList maps the Unencrypted setting (0..3) to the local cipher
// preference list; other values behave like 0.
func CipherList(unencrypted int) []pb.Cipher {
	const aes, null = pb.Cipher_CIPHER_AES_256_GCM, pb.Cipher_CIPHER_NULL
	switch unencrypted {
	case 1:
		return []pb.Cipher{aes, null}
	case 2:
		return []pb.Cipher{null, aes}
	case 3:
		return []pb.Cipher{null}
	}
	return []pb.Cipher{aes}
}

// SelectCipher is the server's choice: the first of its own ciphers that
// the client also lists.
func SelectCipher(own []pb.Cipher, client *pb.CryptInfo) (pb.Cipher, bool) {
	theirs := Ciphers(client)
	for _, c := range own {
		for _, t := range theirs {
			if c == t {
				return c, true
			}
		}
	}
	return pb.Cipher_CIPHER_INVALID, false
}
