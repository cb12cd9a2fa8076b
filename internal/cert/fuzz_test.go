package cert

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire/vectortest"
)

// seedSigned adds the captured signed certificate and crypt info blobs.
func seedSigned(f *testing.F, pick func(s *vectortest.Side) []byte) {
	all, err := vectortest.LoadAll()
	if err != nil {
		f.Fatal(err)
	}
	for _, sc := range all {
		f.Add(pick(&sc.Keys.Client))
		f.Add(pick(&sc.Keys.Server))
	}
}

func FuzzParseCertificate(f *testing.F) {
	seedSigned(f, func(s *vectortest.Side) []byte { return s.CertSignedLocal })
	f.Fuzz(func(t *testing.T, b []byte) {
		var signed pb.CertificateSigned
		if proto.Unmarshal(b, &signed) != nil {
			return
		}
		c, err := Parse(&signed)
		if err != nil {
			return
		}
		// The identity survives a trip through its own carriers.
		if c.Identity.IsValid() {
			s, legacy, steamID, err := c.Identity.Fields()
			if err == nil {
				var m pb.Certificate
				m.IdentityString, m.LegacyIdentityBinary, m.LegacySteamId = &s, legacy, steamID
				raw, _ := proto.Marshal(&m)
				c2, err := Parse(&pb.CertificateSigned{Cert: raw})
				if err != nil || c2.Identity != c.Identity {
					t.Fatalf("identity %v did not survive: %v", c.Identity, err)
				}
			}
		}
		_ = c.VerifyCA(nil, time.Unix(0, 0))
	})
}

func FuzzCryptInfo(f *testing.F) {
	all, err := vectortest.LoadAll()
	if err != nil {
		f.Fatal(err)
	}
	for _, sc := range all {
		for _, s := range []*vectortest.Side{&sc.Keys.Client, &sc.Keys.Server} {
			f.Add([]byte(s.CertSignedLocal), []byte(s.CryptInfoSignedLocal))
		}
	}
	f.Fuzz(func(t *testing.T, certBytes, cryptBytes []byte) {
		var c pb.CertificateSigned
		var s pb.CryptInfoSigned
		if proto.Unmarshal(certBytes, &c) != nil || proto.Unmarshal(cryptBytes, &s) != nil {
			return
		}
		peer, err := ValidatePeer(&c, &s, &Policy{AllowWithoutAuth: 2})
		if err != nil {
			if reasonOf(err) == 0 {
				t.Fatalf("rejection without an end reason: %v", err)
			}
			return
		}
		if len(peer.Crypt.KeyData) != 32 || peer.Crypt.GetProtocolVersion() < MinProtocolVersion {
			t.Fatalf("accepted %v", peer.Crypt)
		}
	})
}
