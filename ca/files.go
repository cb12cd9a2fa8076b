package ca

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

// File names inside a CA directory.
const (
	KeyFile    = "ca.key"
	PublicFile = "ca.pub"
)

// certPEMType is the PEM type GNS uses for a signed certificate.
const certPEMType = "STEAMDATAGRAM CERT"

// MarshalPrivateKey returns the CA key as an OpenSSH private key.
func (a *Authority) MarshalPrivateKey() ([]byte, error) {
	return marshalKey(a.key, fmt.Sprintf("mist-ca-ID%d", a.KeyID()))
}

// MarshalPublicKey returns the CA public key as an authorized_keys line.
func (a *Authority) MarshalPublicKey() []byte { return MarshalPublicKey(a.PublicKey()) }

// MarshalPublicKey renders an Ed25519 public key as an authorized_keys
// line commented with its GNS key id.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err) // an ed25519.PublicKey always converts
	}
	line := bytes.TrimRight(ssh.MarshalAuthorizedKey(sshPub), "\n")
	return fmt.Appendf(line, " mist-ca-ID%d\n", cert.KeyID(pub))
}

// ParsePublicKey reads an Ed25519 public key in authorized_keys form.
func ParsePublicKey(text []byte) (ed25519.PublicKey, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey(text)
	if err != nil {
		return nil, fmt.Errorf("ca: public key: %w (want one 'ssh-ed25519 AAAA...' line)", err)
	}
	cp, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return nil, errors.New("ca: public key is not usable")
	}
	ed, ok := cp.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("ca: public key is %s, want ssh-ed25519", pub.Type())
	}
	return ed, nil
}

// ParsePrivateKey reads an Ed25519 private key in OpenSSH (or PKCS#8) PEM
// form.
func ParsePrivateKey(text []byte) (ed25519.PrivateKey, error) {
	k, err := ssh.ParseRawPrivateKey(text)
	if err != nil {
		return nil, fmt.Errorf("ca: private key: %w", err)
	}
	switch k := k.(type) {
	case *ed25519.PrivateKey:
		return *k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("ca: private key is %T, want Ed25519", k)
}

func marshalKey(key ed25519.PrivateKey, comment string) ([]byte, error) {
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// MarshalPEM returns the credential file: the certificate block, then the
// private key block.
func (c *Credential) MarshalPEM() ([]byte, error) {
	certBlock := pem.EncodeToMemory(&pem.Block{Type: certPEMType, Bytes: c.Certificate})
	key, err := marshalKey(c.PrivateKey, c.Identity)
	if err != nil {
		return nil, err
	}
	return append(certBlock, key...), nil
}

// ParseCredential reads a credential file and checks that its key is the
// one its certificate vouches for. It does not check the CA signature or
// expiry: that is the peer's decision ([Trust.Verify]).
func ParseCredential(text []byte) (*Credential, error) {
	var certDER, keyPEM []byte
	for rest := text; ; {
		var block *pem.Block
		start := rest
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case certPEMType:
			certDER = block.Bytes
		case "OPENSSH PRIVATE KEY", "PRIVATE KEY":
			keyPEM = start[:len(start)-len(rest)]
		}
	}
	if certDER == nil {
		return nil, fmt.Errorf("ca: credential holds no %q block", certPEMType)
	}
	if keyPEM == nil {
		return nil, errors.New("ca: credential holds no private key block")
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(certDER, &signed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := cert.Parse(&signed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.PublicKey == nil || !c.PublicKey.Equal(key.Public()) {
		return nil, errors.New("ca: the private key does not match the certificate's key")
	}
	out := &Credential{Identity: c.Identity.String(), Certificate: certDER, PrivateKey: key}
	if exp := c.Msg.TimeExpiry; exp != nil {
		out.Expires = time.Unix(int64(*exp), 0)
	}
	return out, nil
}

// ReadCredential reads a credential file (what `mist ca issue` writes);
// see [ParseCredential]. Errors name the file.
func ReadCredential(name string) (*Credential, error) {
	text, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	c, err := ParseCredential(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// CertificatePEM returns only the certificate block, the form GNS's
// certificate tool prints.
func (c *Credential) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: certPEMType, Bytes: c.Certificate})
}

// Init writes a new authority's ca.key (mode 0600) and ca.pub into dir,
// creating dir if needed. It refuses to overwrite an existing ca.key.
func Init(dir string) (*Authority, error) {
	a, err := New()
	if err != nil {
		return nil, err
	}
	keyText, err := a.MarshalPrivateKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	keyPath := filepath.Join(dir, KeyFile)
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("ca: %s already exists; choose another directory or remove it first", keyPath)
		}
		return nil, fmt.Errorf("ca: %w", err)
	}
	if _, err := f.Write(keyText); err != nil {
		f.Close()
		os.Remove(keyPath)
		return nil, fmt.Errorf("ca: writing %s: %w", keyPath, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(keyPath)
		return nil, fmt.Errorf("ca: writing %s: %w", keyPath, err)
	}
	if err := os.WriteFile(filepath.Join(dir, PublicFile), a.MarshalPublicKey(), 0o644); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return a, nil
}

// Load reads the authority in dir (its ca.key).
func Load(dir string) (*Authority, error) {
	text, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	key, err := ParsePrivateKey(text)
	if err != nil {
		return nil, err
	}
	return FromKey(key), nil
}

// LoadTrust reads CA public keys, one authorized_keys line each, from the
// given files (each may hold several lines).
func LoadTrust(files ...string) (*Trust, error) {
	t := new(Trust)
	for _, name := range files {
		text, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		for line := range strings.Lines(string(text)) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			pub, err := ParsePublicKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			t.Add(pub)
		}
	}
	if len(t.keys) == 0 {
		return nil, fmt.Errorf("ca: no public key in %s", strings.Join(files, ", "))
	}
	return t, nil
}
