package crypto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mistnet/mist/internal/pb"
)

func TestNonceCarries(t *testing.T) {
	iv := [IVSize]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 9, 9, 9, 9}
	got := Nonce(iv, 2)
	want := [IVSize]byte{0x01, 0, 0, 0, 0, 0, 0, 0xff, 9, 9, 9, 9}
	if got != want {
		t.Fatalf("got %x want %x", got, want)
	}
	// Wraps modulo 2^64 and leaves the last 4 bytes alone.
	iv = [IVSize]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
	if got := Nonce(iv, 1); got != ([IVSize]byte{8: 1, 9: 2, 10: 3, 11: 4}) {
		t.Fatalf("wrap: %x", got)
	}
}

func TestCipherRoundTripInPlace(t *testing.T) {
	var key [KeySize]byte
	var iv [IVSize]byte
	key[0], iv[0] = 1, 2
	c, err := NewCipher(pb.Cipher_CIPHER_AES_256_GCM, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Overhead() != TagSize || c.Suite() != pb.Cipher_CIPHER_AES_256_GCM {
		t.Fatal("AES-GCM metadata")
	}
	msg := []byte("some SNP frames")
	sealed := c.Seal(nil, msg, 1<<40)
	if len(sealed) != len(msg)+TagSize {
		t.Fatalf("sealed %d bytes", len(sealed))
	}
	plain, err := c.Open(sealed[:0], sealed, 1<<40)
	if err != nil || !bytes.Equal(plain, msg) {
		t.Fatalf("open in place: %q %v", plain, err)
	}
	if _, err := c.Open(nil, sealed[:TagSize-1], 1); !errors.Is(err, ErrAuth) {
		t.Fatalf("short chunk: %v", err)
	}
	if _, err := NewCipher(pb.Cipher(3), key, iv); err == nil {
		t.Fatal("unknown cipher accepted")
	}
}

func TestNullCipher(t *testing.T) {
	c, err := NewCipher(pb.Cipher_CIPHER_NULL, [KeySize]byte{}, [IVSize]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Overhead() != 0 {
		t.Fatal("NULL overhead")
	}
	out := c.Seal([]byte{0xaa}, []byte("plain"), 5)
	if string(out) != "\xaaplain" {
		t.Fatalf("seal %q", out)
	}
	got, err := c.Open(nil, []byte("plain"), 5)
	if err != nil || string(got) != "plain" {
		t.Fatalf("open %q %v", got, err)
	}
}

func TestKeyExchangeRejectsBadKeys(t *testing.T) {
	kp, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.SharedSecret(make([]byte, 31)); !errors.Is(err, ErrKeyExchange) {
		t.Fatalf("short key: %v", err)
	}
	// The all-zero point gives the all-zero secret, which must be refused.
	if _, err := kp.SharedSecret(make([]byte, 32)); !errors.Is(err, ErrKeyExchange) {
		t.Fatalf("low-order key: %v", err)
	}
	if _, err := GenerateKeyPair(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("short randomness accepted")
	}
	det, err := GenerateKeyPair(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil || !bytes.Equal(det.Private(), bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("deterministic key: %v", err)
	}
}

func newBenchCipher(b *testing.B) (*Cipher, []byte, []byte) {
	var key [KeySize]byte
	var iv [IVSize]byte
	c, err := NewCipher(pb.Cipher_CIPHER_AES_256_GCM, key, iv)
	if err != nil {
		b.Fatal(err)
	}
	plain := make([]byte, 1200-TagSize)
	sealed := c.Seal(nil, plain, 77)
	return c, sealed, make([]byte, 0, 1300)
}

func BenchmarkOpen1200(b *testing.B) {
	c, sealed, buf := newBenchCipher(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(sealed)))
	for b.Loop() {
		if _, err := c.Open(buf[:0], sealed, 77); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal1200(b *testing.B) {
	c, _, buf := newBenchCipher(b)
	plain := make([]byte, 1200-TagSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	n := uint64(0)
	for b.Loop() {
		n++
		buf = c.Seal(buf[:0], plain, n)
	}
}

func TestSealOpenAllocateNothing(t *testing.T) {
	var key [KeySize]byte
	var iv [IVSize]byte
	c, _ := NewCipher(pb.Cipher_CIPHER_AES_256_GCM, key, iv)
	plain := make([]byte, 1184)
	buf := make([]byte, 0, 1300)
	out := make([]byte, 0, 1300)
	w := NewRecvWindow(13)
	next := uint64(2)
	allocs := testing.AllocsPerRun(100, func() {
		sealed := c.Seal(buf[:0], plain, next)
		n, err := w.Expand(uint16(next))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Open(out[:0], sealed, n); err != nil {
			t.Fatal(err)
		}
		w.MarkReceived(n)
		if _, err := w.Expand(uint16(n)); err != ErrDuplicate {
			t.Fatal(err)
		}
		next++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
