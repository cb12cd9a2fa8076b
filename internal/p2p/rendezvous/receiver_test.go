package rendezvous

import (
	"errors"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/p2p/signaling"
	"github.com/mistnet/mist/internal/pb"
)

type fakeContext struct {
	offered    []string
	give       signaling.ConnectionSignaling
	rejections [][]byte
}

func (c *fakeContext) OnConnectRequest(conn uint32, peer string, port int) signaling.ConnectionSignaling {
	c.offered = append(c.offered, peer)
	return c.give
}

func (c *fakeContext) SendRejectionSignal(peer string, blob []byte) {
	c.rejections = append(c.rejections, append([]byte(nil), blob...))
}

// recorder is a ConnectionSignaling that keeps what it was given.
type recorder struct {
	headers  []signaling.Header
	blobs    [][]byte
	refuse   bool
	released int
}

func (r *recorder) SendSignal(h signaling.Header, blob []byte) bool {
	if r.refuse {
		return false
	}
	r.headers = append(r.headers, h)
	r.blobs = append(r.blobs, append([]byte(nil), blob...))
	return true
}

func (r *recorder) Release() { r.released++ }

func newReceiver(p *pair, newInbound NewInbound, abandon func(uint32) *Refusal) *Receiver {
	return &Receiver{
		Router: p.bobRouter, Local: p.bob, NewInbound: newInbound, Abandon: abandon,
		RejectionConnID: func() uint32 { return 0x4444 },
	}
}

func TestReceiverNewConnection(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 5, RemoteVirtualPort: 5})
	out := &recorder{}
	h := signaling.Header{Conn: 1, LocalIdentity: "str:alice", RemoteIdentity: "str:bob", LocalVirtualPort: 5, RemoteVirtualPort: 5}
	if err := Flush(t0, p.initiator, out, h); err != nil || len(out.blobs) != 1 || out.headers[0] != h {
		t.Fatalf("initiator flush: %v, %d signals", err, len(out.blobs))
	}
	var peer *cert.Peer
	recv := newReceiver(p, func(now time.Time, req *Request, cfg *Config) (uint32, error) {
		var err error
		if peer, err = cert.ValidatePeer(req.Cert, req.Crypt, peerPolicy(req.Identity)); err != nil {
			return 0, &Refusal{Reason: err.(*cert.Error).Reason, Debug: err.Error()}
		}
		cfg.LocalConnID = 0x2222
		return 77, nil
	}, nil)
	bobSig := &recorder{}
	ctx := &fakeContext{give: bobSig}
	d, err := recv.Receive(t0, out.blobs[0], ctx)
	if err != nil || !d.New || d.Handle != 77 || d.Signaling != bobSig || d.Session == nil || len(ctx.offered) != 1 || ctx.offered[0] != "str:alice" {
		t.Fatalf("delivery %+v, %v, offered %v", d, err, ctx.offered)
	}
	a := d.Session
	if a.LocalVirtualPort() != 5 || a.RemoteVirtualPort() != 5 || p.bobRouter.Session(0x2222) != a {
		t.Fatal("session not set up from the request")
	}
	bh := signaling.Header{Conn: 77, LocalIdentity: "str:bob", RemoteIdentity: "str:alice", LocalVirtualPort: 5, RemoteVirtualPort: 5}
	if err := Flush(t0.Add(time.Second), a, bobSig, bh); err != nil || len(bobSig.blobs) != 0 {
		t.Fatal("acceptor signalled before accepting")
	}
	cipher, _ := AcceptCipher(cert.CipherList(0), peer)
	lc := mustCrypto(t, p.bob, []pb.Cipher{cipher}, 3)
	a.Accept(t0, lc.Cert.Signed, lc.Signed)
	Flush(t0.Add(SignalDelay), a, bobSig, bh)
	if len(bobSig.blobs) != 1 {
		t.Fatal("no connect OK after accept")
	}
	// The same request again reaches the same session.
	d, err = recv.Receive(t0.Add(time.Second), out.blobs[0], ctx)
	if err != nil || d.New || d.Session != a || !d.Inbound.RepeatedRequest || len(ctx.offered) != 1 {
		t.Fatalf("repeat: %+v %v", d, err)
	}
	// A refused SendSignal is fatal for the connection.
	bobSig.refuse = true
	if err := Flush(t0.Add(2*time.Second), a, bobSig, bh); !errors.Is(err, ErrSignalRefused) || a.End().Reason != ReasonInternalError {
		t.Fatalf("refused send: %v, end %+v", err, a.End())
	}
}

func TestReceiverIgnoresAndRejects(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	request := encode(t, p.initiator.Poll(t0))
	accept := func(now time.Time, req *Request, cfg *Config) (uint32, error) {
		cfg.LocalConnID = 0x2222
		return 9, nil
	}

	// The context takes no interest: silence.
	ctx := &fakeContext{}
	recv := newReceiver(p, accept, func(uint32) *Refusal { return nil })
	if _, err := recv.Receive(t0, request, ctx); !errors.Is(err, ErrIgnored) || len(ctx.rejections) != 0 || p.bobRouter.Len() != 0 {
		t.Fatalf("ignored request: %v, %d rejections, %d sessions", err, len(ctx.rejections), p.bobRouter.Len())
	}

	// The application closed it inside OnConnectRequest: a rejection the
	// initiator acts on.
	recv = newReceiver(p, accept, func(uint32) *Refusal { return &Refusal{Reason: 1001, Debug: "go away"} })
	if _, err := recv.Receive(t0, request, ctx); err == nil || len(ctx.rejections) != 1 {
		t.Fatalf("closed in callback: %v, %d rejections", err, len(ctx.rejections))
	}
	in, err := p.initiator.Receive(t0, mustParse(t, ctx.rejections[0]))
	if err != nil || in.Closed == nil || in.Closed.Reason != 1001 || p.initiator.State() != StateClosedByPeer {
		t.Fatalf("initiator on rejection: %+v %v", in.Closed, err)
	}

	// The engine refuses (bad certificate): rejection, and the application
	// is never asked.
	ctx = &fakeContext{give: &recorder{}}
	recv = newReceiver(p, func(time.Time, *Request, *Config) (uint32, error) {
		return 0, &Refusal{Reason: cert.ReasonBadCert, Debug: "bad cert"}
	}, nil)
	if _, err := recv.Receive(t0, request, ctx); err == nil || len(ctx.rejections) != 1 || len(ctx.offered) != 0 {
		t.Fatalf("engine refusal: %v, %d rejections, offered %v", err, len(ctx.rejections), ctx.offered)
	}
	if m := mustParse(t, ctx.rejections[0]); m.GetConnectionClosed().GetReasonCode() != cert.ReasonBadCert ||
		m.GetFromConnectionId() != 0x4444 || m.GetFromIdentity() != "str:bob" {
		t.Fatalf("rejection %v", m)
	}

	// Any other engine error: silence.
	ctx = &fakeContext{give: &recorder{}}
	recv = newReceiver(p, func(time.Time, *Request, *Config) (uint32, error) { return 0, errors.New("no listen socket") }, nil)
	if _, err := recv.Receive(t0, request, ctx); err == nil || len(ctx.rejections) != 0 || len(ctx.offered) != 0 {
		t.Fatalf("engine drop: %v", err)
	}
}

// TestReceiverCertificateIdentityMismatch: a connect request whose
// certificate names someone other than the signal's sender is refused
// with 4003, like GNS does.
func TestReceiverCertificateIdentityMismatch(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	mallory := mustCrypto(t, mustIdentity(t, "str:mallory"), cert.CipherList(0), 9)
	m := p.initiator.Poll(t0)
	m.ConnectRequest.Cert, m.ConnectRequest.Crypt = mallory.Cert.Signed, mallory.Signed
	ctx := &fakeContext{give: &recorder{}}
	recv := newReceiver(p, func(now time.Time, req *Request, cfg *Config) (uint32, error) {
		if _, err := cert.ValidatePeer(req.Cert, req.Crypt, peerPolicy(req.Identity)); err != nil {
			var ce *cert.Error
			if errors.As(err, &ce) {
				return 0, &Refusal{Reason: ce.Reason, Debug: ce.Msg}
			}
			return 0, err
		}
		cfg.LocalConnID = 0x2222
		return 1, nil
	}, nil)
	_, err := recv.Receive(t0, encode(t, m), ctx)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != cert.ReasonBadCert || len(ctx.offered) != 0 || p.bobRouter.Len() != 0 {
		t.Fatalf("got %v, offered %v, %d sessions", err, ctx.offered, p.bobRouter.Len())
	}
	if r := mustParse(t, ctx.rejections[0]); r.GetConnectionClosed().GetReasonCode() != cert.ReasonBadCert || r.GetToConnectionId() != 0x1111 {
		t.Fatalf("rejection %v", r)
	}
}
