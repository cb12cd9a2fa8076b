package ca

import (
	"bytes"
	"encoding/binary"
	"encoding/pem"
	"testing"
)

// TestPrivateKeyLayoutIsWhatGNSParses checks the CA key file against the
// layout GNS's key loader requires: an unencrypted openssh-key-v1 blob with
// exactly one Ed25519 key, matching check words, and the public key in the
// private section as well.
func TestPrivateKeyLayoutIsWhatGNSParses(t *testing.T) {
	a, _ := New()
	text, err := a.MarshalPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(text)
	if block == nil || block.Type != "OPENSSH PRIVATE KEY" {
		t.Fatalf("PEM block %v", block)
	}
	b := block.Bytes
	head := []byte("openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01")
	if !bytes.HasPrefix(b, head) {
		t.Fatalf("header %q", b[:min(len(b), len(head))])
	}
	b = b[len(head):]
	pubBlob := b[4 : 4+binary.BigEndian.Uint32(b)]
	b = b[4+len(pubBlob):]
	priv := b[4 : 4+binary.BigEndian.Uint32(b)]
	if binary.BigEndian.Uint32(priv) != binary.BigEndian.Uint32(priv[4:]) {
		t.Fatal("check words differ")
	}
	pub := a.PublicKey()
	if !bytes.HasSuffix(pubBlob, pub) || !bytes.Contains(priv, append(append([]byte(nil), a.key.Seed()...), pub...)) {
		t.Fatal("public key or secret||public not where GNS reads them")
	}
	// And the public key line is "ssh-ed25519 BASE64 comment".
	if line := a.MarshalPublicKey(); !bytes.HasPrefix(line, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")) {
		t.Fatalf("public key line %q", line)
	}
}
