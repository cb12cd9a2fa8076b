package rendezvous

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
)

// TestHandshakeHelpers: the keys both sides derive through the helpers
// seal and open each other's packets with the chosen cipher.
func TestHandshakeHelpers(t *testing.T) {
	for _, tc := range []struct {
		name                string
		initiator, acceptor int // Unencrypted settings
		want                pb.Cipher
		wantReason          int
	}{
		{"both encrypt", 0, 0, pb.Cipher_CIPHER_AES_256_GCM, 0},
		{"acceptor prefers null", 1, 2, pb.Cipher_CIPHER_NULL, 0},
		{"no common cipher", 0, 3, 0, cert.ReasonBadCrypt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
			own := cert.CipherList(tc.initiator)
			p.aliceCrypto = mustCrypto(t, p.alice, own, 11)
			p.initiator.cfg.Cert, p.initiator.cfg.Crypt = p.aliceCrypto.Cert.Signed, p.aliceCrypto.Signed
			_, _, req, err := p.bobRouter.Route(t0, encode(t, p.initiator.Poll(t0)))
			if err != nil {
				t.Fatal(err)
			}
			policy := cert.Policy{AllowWithoutAuth: 1, Now: t0}
			peer, err := ValidateRequest(req, policy)
			if err != nil {
				t.Fatal(err)
			}
			a, _, err := NewAcceptor(Config{LocalIdentity: p.bob, LocalConnID: 0x2222}, req, t0)
			if err != nil {
				t.Fatal(err)
			}
			_, eb, err := AcceptSession(t0, a, peer, 0, cert.CipherList(tc.acceptor), rand.Reader)
			if tc.wantReason != 0 {
				var ce *cert.Error
				if !errors.As(err, &ce) || ce.Reason != tc.wantReason || a.State() != StateConnecting {
					t.Fatalf("got %v, state %v", err, a.State())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.initiator.Receive(t0, a.Poll(t0.Add(SignalDelay))); err != nil {
				t.Fatal(err)
			}
			ea, err := FinishInitiator(p.initiator, p.aliceCrypto, own, policy)
			if err != nil {
				t.Fatal(err)
			}
			if ea.Cipher != tc.want || eb.Cipher != tc.want || ea.PeerProtocolVersion != cert.ProtocolVersion {
				t.Fatalf("ciphers %v/%v, version %d", ea.Cipher, eb.Cipher, ea.PeerProtocolVersion)
			}
			send, err := crypto.NewCipher(ea.Cipher, ea.Keys.SendKey, ea.Keys.SendIV)
			if err != nil {
				t.Fatal(err)
			}
			recv, err := crypto.NewCipher(eb.Cipher, eb.Keys.RecvKey, eb.Keys.RecvIV)
			if err != nil {
				t.Fatal(err)
			}
			sealed := send.Seal(nil, []byte("hello"), 2)
			if got, err := recv.Open(nil, sealed, 2); err != nil || string(got) != "hello" {
				t.Fatalf("open: %q %v", got, err)
			}
		})
	}
}

// TestFinishInitiatorRejectsBadConnectOK: a connect OK whose certificate
// is for someone else, or which lists several ciphers, fails the
// handshake with the GNS end reason.
func TestFinishInitiatorRejectsBadConnectOK(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signer string
		ciph   []pb.Cipher
		reason int
	}{
		{"certificate for another identity", "str:mallory", []pb.Cipher{pb.Cipher_CIPHER_AES_256_GCM}, cert.ReasonBadCert},
		{"two ciphers", "str:bob", cert.CipherList(1), cert.ReasonBadCrypt},
	} {
		p, now := established(t)
		bad := mustCrypto(t, mustIdentity(t, tc.signer), tc.ciph, 4)
		p.initiator.peerCert, p.initiator.peerCrypt = bad.Cert.Signed, bad.Signed
		_, err := FinishInitiator(p.initiator, p.aliceCrypto, cert.CipherList(1), cert.Policy{AllowWithoutAuth: 1, Now: now})
		var ce *cert.Error
		if !errors.As(err, &ce) || ce.Reason != tc.reason {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
