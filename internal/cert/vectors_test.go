package cert

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"github.com/mistnet/mist/internal/wire/vectortest"
)

type capturedSide struct {
	name  string
	cert  *pb.CertificateSigned
	crypt *pb.CryptInfoSigned
	keys  *vectortest.Side
}

func capturedHandshake(t *testing.T, sc *vectortest.Scenario) []capturedSide {
	t.Helper()
	var sides []capturedSide
	for _, p := range sc.Packets {
		switch p.Type {
		case "ConnectRequest":
			m, err := wire.ParseConnectRequest(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			sides = append(sides, capturedSide{"client", m.Cert, m.Crypt, &sc.Keys.Client})
		case "ConnectOK":
			m, err := wire.ParseConnectOK(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			sides = append(sides, capturedSide{"server", m.Cert, m.Crypt, &sc.Keys.Server})
		}
	}
	if len(sides) < 2 {
		t.Fatal("capture lacks the handshake")
	}
	return sides
}

func TestVectorsCertificatesAndCryptInfo(t *testing.T) {
	all, err := vectortest.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			for _, s := range capturedHandshake(t, sc) {
				// GNS peers here run IP_AllowWithoutAuth=1, standalone AppID 0.
				peer, err := ValidatePeer(s.cert, s.crypt, &Policy{AllowWithoutAuth: 1, AppID: 0, Now: time.Now()})
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if !peer.Cert.Identity.IsLocalHost() || peer.Cert.Identity.String() != "ip:::1" || peer.CASigned {
					t.Fatalf("%s: identity %v, CA-signed %v", s.name, peer.Cert.Identity, peer.CASigned)
				}
				if !bytes.Equal(peer.Cert.Raw, s.keys.CertLocal) || !bytes.Equal(peer.CryptRaw, s.keys.CryptInfoLocal) {
					t.Fatalf("%s: raw bytes differ from keys.json", s.name)
				}
				if !bytes.Equal(peer.Crypt.KeyData, s.keys.X25519Public) || peer.Crypt.GetProtocolVersion() != 13 {
					t.Fatalf("%s: crypt info %v", s.name, peer.Crypt)
				}
				// A flipped bit in the signed bytes must break the signature.
				bad := proto.Clone(s.crypt).(*pb.CryptInfoSigned)
				bad.Info[len(bad.Info)-1] ^= 1
				if _, err := VerifyCryptInfo(peer.Cert, bad); err == nil {
					t.Fatalf("%s: tampered crypt info verified", s.name)
				}
				// Requiring authentication rejects GNS's self-signed certs.
				if _, err := ValidatePeer(s.cert, s.crypt, &Policy{AllowWithoutAuth: 0}); reasonOf(err) != ReasonBadCert {
					t.Fatalf("%s: E=0 gave %v", s.name, err)
				}

				// Our builders produce GNS's exact bytes for the same inputs.
				msg, err := newCertMsg(ed25519.PublicKey(peer.Cert.Msg.KeyData), identity.LocalHost())
				if err != nil {
					t.Fatal(err)
				}
				msg.AppIds = []uint32{0}
				if raw, _ := proto.Marshal(msg); !bytes.Equal(raw, s.keys.CertLocal) {
					t.Fatalf("%s: self-signed cert layout\n got %x\nwant %x", s.name, raw, []byte(s.keys.CertLocal))
				}
				info := NewCryptInfo(peer.Crypt.KeyData, peer.Crypt.GetNonce(), peer.Crypt.Ciphers)
				if raw, _ := proto.Marshal(info); !bytes.Equal(raw, s.keys.CryptInfoLocal) {
					t.Fatalf("%s: crypt info layout\n got %x\nwant %x", s.name, raw, []byte(s.keys.CryptInfoLocal))
				}
			}
		})
	}
}
