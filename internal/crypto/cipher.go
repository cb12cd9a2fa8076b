package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mistnet/mist/internal/pb"
)

// ErrAuth means a received chunk failed authentication: wrong key, wrong
// packet number or tampered bytes. GNS drops such packets silently.
var ErrAuth = errors.New("crypto: data chunk failed authentication")

// Cipher seals and opens the data chunks of one direction of a connection.
// Seal and Open write into the caller's buffer and allocate nothing. A
// Cipher is not safe for concurrent use: it keeps a nonce scratch buffer.
type Cipher struct {
	suite pb.Cipher
	aead  cipher.AEAD // nil for the NULL cipher
	iv    [IVSize]byte
	nonce [IVSize]byte
}

// NewCipher returns the cipher for suite (CIPHER_AES_256_GCM or
// CIPHER_NULL) with one direction's key and base IV. The NULL cipher
// ignores both.
func NewCipher(suite pb.Cipher, key [KeySize]byte, iv [IVSize]byte) (*Cipher, error) {
	switch suite {
	case pb.Cipher_CIPHER_NULL:
		return &Cipher{suite: suite}, nil
	case pb.Cipher_CIPHER_AES_256_GCM:
		block, err := aes.NewCipher(key[:])
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		return &Cipher{suite: suite, aead: aead, iv: iv}, nil
	}
	return nil, fmt.Errorf("crypto: unsupported cipher %v", suite)
}

// Suite returns the cipher suite.
func (c *Cipher) Suite() pb.Cipher { return c.suite }

// Overhead is how many bytes Seal adds: 16 for AES-GCM, 0 for NULL.
func (c *Cipher) Overhead() int {
	if c.aead == nil {
		return 0
	}
	return TagSize
}

// Nonce returns the per-packet nonce: iv with pktNum added to its first 8
// bytes as a little-endian integer (mod 2^64).
func Nonce(iv [IVSize]byte, pktNum uint64) [IVSize]byte {
	binary.LittleEndian.PutUint64(iv[:8], binary.LittleEndian.Uint64(iv[:8])+pktNum)
	return iv
}

func (c *Cipher) setNonce(pktNum uint64) {
	c.nonce = c.iv
	binary.LittleEndian.PutUint64(c.nonce[:8], binary.LittleEndian.Uint64(c.iv[:8])+pktNum)
}

// Seal appends the chunk for plaintext (ciphertext and tag, or the
// plaintext itself with NULL) to dst. Each pktNum must be used once.
func (c *Cipher) Seal(dst, plaintext []byte, pktNum uint64) []byte {
	if c.aead == nil {
		return append(dst, plaintext...)
	}
	c.setNonce(pktNum)
	return c.aead.Seal(dst, c.nonce[:], plaintext, nil)
}

// Open appends the plaintext of chunk, received with full packet number
// pktNum, to dst. With AES-GCM it fails with ErrAuth unless the tag
// verifies. dst may be chunk[:0] to decrypt in place.
func (c *Cipher) Open(dst, chunk []byte, pktNum uint64) ([]byte, error) {
	if c.aead == nil {
		return append(dst, chunk...), nil
	}
	if len(chunk) < TagSize {
		return nil, fmt.Errorf("%w: %d-byte chunk is shorter than the tag", ErrAuth, len(chunk))
	}
	c.setNonce(pktNum)
	out, err := c.aead.Open(dst, c.nonce[:], chunk, nil)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
