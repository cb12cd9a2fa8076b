package rendezvous

import (
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

var t0 = time.Unix(1_700_000_000, 0)

func mustIdentity(t testing.TB, s string) identity.Identity {
	t.Helper()
	id, err := identity.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func seededRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

func mustCrypto(t testing.TB, id identity.Identity, ciphers []pb.Cipher, seed uint64) *LocalCrypto {
	t.Helper()
	lc, err := NewLocalCrypto(id, 0, ciphers, seededRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

func encode(t testing.TB, m *pb.Rendezvous) []byte {
	t.Helper()
	b, err := Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func authMsg(pwd string) *pb.ICERendezvous {
	return &pb.ICERendezvous{Auth: &pb.ICERendezvous_Auth{PwdFrag: proto.String(pwd)}}
}

func candidateMsg(c string) *pb.ICERendezvous {
	return &pb.ICERendezvous{AddCandidate: &pb.ICECandidate{Candidate: proto.String(c)}}
}

// iceText names an ICE message for comparisons.
func iceText(m *pb.ICERendezvous) string {
	if m.Auth != nil {
		return "auth " + m.Auth.GetPwdFrag()
	}
	return m.GetAddCandidate().GetCandidate()
}

// peerPolicy is what a standalone GNS peer applies: unsigned certificates
// allowed, AppID 0.
func peerPolicy(peer identity.Identity) *cert.Policy {
	return &cert.Policy{AllowWithoutAuth: 1, PeerIdentity: peer, Now: t0}
}

// pair is an initiator "str:alice" (id 0x1111) wanting an acceptor
// "str:bob" (id 0x2222), neither acting yet.
type pair struct {
	alice, bob       identity.Identity
	aliceCrypto      *LocalCrypto
	initiator        *Session
	bobRouter        *Router
	acceptor         *Session
	acceptorCrypto   *LocalCrypto
	initiatorCiphers []pb.Cipher
}

func newPair(t testing.TB, cfg Config) *pair {
	t.Helper()
	p := &pair{alice: mustIdentity(t, "str:alice"), bob: mustIdentity(t, "str:bob"), bobRouter: NewRouter(Limits{})}
	p.initiatorCiphers = cert.CipherList(0)
	p.aliceCrypto = mustCrypto(t, p.alice, p.initiatorCiphers, 1)
	cfg.LocalIdentity, cfg.RemoteIdentity, cfg.LocalConnID = p.alice, p.bob, 0x1111
	cfg.Cert, cfg.Crypt = p.aliceCrypto.Cert.Signed, p.aliceCrypto.Signed
	s, err := NewInitiator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	p.initiator = s
	return p
}

// acceptRequest plays bob's side of a connect request: validation,
// session, acceptance.
func (p *pair) acceptRequest(t testing.TB, now time.Time, req *Request, cfg Config) Inbound {
	t.Helper()
	peer, err := cert.ValidatePeer(req.Cert, req.Crypt, peerPolicy(req.Identity))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LocalIdentity, cfg.LocalConnID = p.bob, 0x2222
	s, in, err := NewAcceptor(cfg, req, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.bobRouter.Add(s); err != nil {
		t.Fatal(err)
	}
	cipher, ok := AcceptCipher(cert.CipherList(0), peer)
	if !ok {
		t.Fatal("no common cipher")
	}
	p.acceptorCrypto = mustCrypto(t, p.bob, []pb.Cipher{cipher}, 2)
	if err := s.Accept(now, p.acceptorCrypto.Cert.Signed, p.acceptorCrypto.Signed); err != nil {
		t.Fatal(err)
	}
	p.acceptor = s
	return in
}
