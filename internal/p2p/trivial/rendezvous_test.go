package trivial

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/p2p/rendezvous"
	"github.com/mistnet/mist/internal/p2p/signaling"
	"github.com/mistnet/mist/internal/pb"
)

// side is one peer: its sessions behind a lock, fed by the client's
// handler and flushed by a ticker.
type side struct {
	mu     sync.Mutex
	id     identity.Identity
	recv   *rendezvous.Receiver
	client *Client
	sess   *rendezvous.Session
	sig    signaling.ConnectionSignaling
	crypto *rendezvous.LocalCrypto
	peer   *cert.Peer
	ice    []string
	err    error
}

func (s *side) handle(_ string, blob []byte, ctx signaling.RecvContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	d, err := s.recv.Receive(now, blob, ctx)
	if err != nil {
		s.err = err
		return
	}
	if d.New {
		// The application accepts at once.
		s.sess, s.sig = d.Session, d.Signaling
		cipher, ok := rendezvous.AcceptCipher(cert.CipherList(0), s.peer)
		if !ok {
			s.err = &rendezvous.Refusal{Reason: cert.ReasonBadCrypt}
			return
		}
		if s.crypto, err = rendezvous.NewLocalCrypto(s.id, 0, []pb.Cipher{cipher}, rand.Reader); err != nil {
			s.err = err
			return
		}
		s.sess.Accept(now, s.crypto.Cert.Signed, s.crypto.Signed)
		s.sess.QueueICE(now, &pb.ICERendezvous{Auth: &pb.ICERendezvous_Auth{PwdFrag: proto.String("bob-pw")}})
	}
	if d.Inbound.ConnectOK != nil {
		c, cr := s.sess.PeerCrypto()
		if s.peer, err = cert.ValidatePeer(c, cr, &cert.Policy{AllowWithoutAuth: 1, PeerIdentity: s.sess.RemoteIdentity(), Now: now}); err != nil {
			s.err = err
		}
	}
	for _, m := range d.Inbound.ICE {
		s.ice = append(s.ice, m.GetAuth().GetPwdFrag())
	}
}

func (s *side) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		rendezvous.Flush(time.Now(), s.sess, s.sig, signaling.Header{})
	}
}

// TestRendezvousOverTrivialSignaling: a whole signaling handshake between
// two peers through real TCP and a trivial signaling server.
func TestRendezvousOverTrivialSignaling(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	alice := &side{}
	bob := &side{}
	var err error
	if alice.id, err = identity.Parse("str:alice"); err != nil {
		t.Fatal(err)
	}
	if bob.id, err = identity.Parse("str:bob"); err != nil {
		t.Fatal(err)
	}
	alice.recv = &rendezvous.Receiver{Router: rendezvous.NewRouter(rendezvous.Limits{}), Local: alice.id,
		NewInbound: func(time.Time, *rendezvous.Request, *rendezvous.Config) (uint32, error) {
			return 0, rendezvous.ErrIgnored
		}}
	bob.recv = &rendezvous.Receiver{Router: rendezvous.NewRouter(rendezvous.Limits{}), Local: bob.id,
		NewInbound: func(now time.Time, req *rendezvous.Request, cfg *rendezvous.Config) (uint32, error) {
			p, err := cert.ValidatePeer(req.Cert, req.Crypt, &cert.Policy{AllowWithoutAuth: 1, PeerIdentity: req.Identity, Now: now})
			if err != nil {
				return 0, &rendezvous.Refusal{Reason: err.(*cert.Error).Reason, Debug: err.Error()}
			}
			bob.peer = p
			cfg.LocalConnID = 0xb0b
			return 1, nil
		}}
	for _, s := range []*side{alice, bob} {
		if s.client, err = New(srv.addr(), s.id.String(), s.handle, Options{}); err != nil {
			t.Fatal(err)
		}
		defer s.client.Close()
	}
	waitFor(t, "registration", func() bool { return srv.registered("str:alice") && srv.registered("str:bob") })

	alice.mu.Lock()
	if alice.crypto, err = rendezvous.NewLocalCrypto(alice.id, 0, cert.CipherList(0), rand.Reader); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	alice.sess, err = rendezvous.NewInitiator(rendezvous.Config{
		LocalIdentity: alice.id, RemoteIdentity: bob.id, LocalConnID: 0xa11ce,
		LocalVirtualPort: 0, RemoteVirtualPort: 0,
		Cert: alice.crypto.Cert.Signed, Crypt: alice.crypto.Signed,
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	alice.sess.QueueICE(now, &pb.ICERendezvous{Auth: &pb.ICERendezvous_Auth{PwdFrag: proto.String("alice-pw")}})
	alice.recv.Router.Add(alice.sess)
	alice.sig = alice.client.Signaling("str:bob")
	alice.mu.Unlock()

	start := time.Now()
	waitFor(t, "both sides to finish the handshake", func() bool {
		alice.flush()
		bob.flush()
		alice.mu.Lock()
		defer alice.mu.Unlock()
		bob.mu.Lock()
		defer bob.mu.Unlock()
		if alice.err != nil || bob.err != nil {
			t.Fatalf("alice: %v, bob: %v", alice.err, bob.err)
		}
		return alice.peer != nil && len(alice.ice) == 1 && len(bob.ice) == 1
	})
	t.Logf("handshake over TCP signaling in %v", time.Since(start))
	if alice.ice[0] != "bob-pw" || bob.ice[0] != "alice-pw" {
		t.Fatalf("ICE passwords %v %v", alice.ice, bob.ice)
	}
	ka, err := rendezvous.DeriveKeys(rendezvous.Initiator, alice.crypto, alice.peer, 0xa11ce, alice.sess.RemoteConnID())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := rendezvous.DeriveKeys(rendezvous.Acceptor, bob.crypto, bob.peer, 0xb0b, bob.sess.RemoteConnID())
	if err != nil || ka.SendKey != kb.RecvKey || ka.RecvKey != kb.SendKey {
		t.Fatalf("keys differ: %v", err)
	}
}
