package rendezvous

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

func TestRouteRejectsBadSignals(t *testing.T) {
	p, now := established(t)
	r := p.bobRouter
	valid := &pb.Rendezvous{
		ToConnectionId: proto.Uint32(0x2222), FromIdentity: proto.String("str:alice"), FromConnectionId: proto.Uint32(0x1111),
		IceEnabled: proto.Bool(true), AckReliableMsg: proto.Uint32(0),
	}
	with := func(f func(m *pb.Rendezvous)) []byte {
		m := proto.Clone(valid).(*pb.Rendezvous)
		f(m)
		return encode(t, m)
	}
	for _, tc := range []struct {
		name string
		blob []byte
		want error
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, ErrMalformed},
		{"oversized", make([]byte, MaxSignalSize+1), ErrTooLarge},
		{"no identity", with(func(m *pb.Rendezvous) { m.FromIdentity = nil }), ErrNoIdentity},
		{"bad identity", with(func(m *pb.Rendezvous) { m.FromIdentity = proto.String("steamid:x") }), ErrNoIdentity},
		{"unknown connection", with(func(m *pb.Rendezvous) { m.ToConnectionId = proto.Uint32(0x9999) }), ErrUnknownConnection},
		{"identity mismatch", with(func(m *pb.Rendezvous) { m.FromIdentity = proto.String("str:mallory") }), ErrIdentityMismatch},
		{"connection id mismatch", with(func(m *pb.Rendezvous) { m.FromConnectionId = proto.Uint32(0x1112) }), ErrConnectionMismatch},
		{"no connection ids", with(func(m *pb.Rendezvous) { m.ToConnectionId = nil; m.FromConnectionId = nil }), ErrConnectionMismatch},
		{"unknown remote, no request", with(func(m *pb.Rendezvous) { m.ToConnectionId = nil; m.FromConnectionId = proto.Uint32(5) }), ErrUnknownConnection},
		{"request without crypt", with(func(m *pb.Rendezvous) {
			m.ToConnectionId = nil
			m.FromConnectionId = proto.Uint32(5)
			m.ConnectRequest = &pb.Rendezvous_ConnectRequest{Cert: &pb.CertificateSigned{Cert: []byte{1}}}
		}), ErrIncompleteRequest},
		{"connect OK to the acceptor", with(func(m *pb.Rendezvous) { m.ConnectOk = &pb.Rendezvous_ConnectOK{} }), ErrUnexpected},
	} {
		if _, _, req, err := r.Route(now, tc.blob); !errors.Is(err, tc.want) || req != nil {
			t.Errorf("%s: got %v (request %v), want %v", tc.name, err, req, tc.want)
		}
	}
	if p.acceptor.State() != StateFindingRoute || p.acceptor.RemoteConnID() != 0x1111 {
		t.Fatalf("rejected signals changed the session: %v", p.acceptor.State())
	}
}

// TestImpostorCannotTouchSession: signals naming an established
// connection but from another identity or connection id close nothing,
// deliver nothing and ack nothing.
func TestImpostorCannotTouchSession(t *testing.T) {
	p, now := established(t)
	a := p.acceptor
	a.QueueICE(now, candidateMsg("c"))
	for _, from := range []struct {
		id     string
		connID uint32
	}{{"str:mallory", 0x1111}, {"str:alice", 0x7777}} {
		m := &pb.Rendezvous{
			ToConnectionId: proto.Uint32(0x2222), FromIdentity: proto.String(from.id), FromConnectionId: proto.Uint32(from.connID),
			IceEnabled: proto.Bool(true), AckReliableMsg: proto.Uint32(100), FirstReliableMsg: proto.Uint32(1),
			ReliableMessages: []*pb.Rendezvous_ReliableMessage{{Ice: candidateMsg("evil")}},
			ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(1000)},
		}
		if _, _, _, err := p.bobRouter.Route(now, encode(t, m)); err == nil {
			t.Fatalf("%v accepted", from)
		}
		m.ConnectionClosed = nil
		if _, in, _, err := p.bobRouter.Route(now, encode(t, m)); err == nil || len(in.ICE) != 0 {
			t.Fatalf("%v delivered %v", from, in.ICE)
		}
	}
	if a.State() != StateFindingRoute || len(a.unacked) != 1 || a.lastRecv != 0 {
		t.Fatalf("impostor changed the session: %v, %d unacked, lastRecv %d", a.State(), len(a.unacked), a.lastRecv)
	}
}

// TestConnectRequestFlood: requests from ever new connection ids fill at
// most MaxPending sessions; the established connection keeps working.
func TestConnectRequestFlood(t *testing.T) {
	p, now := established(t)
	r := p.bobRouter
	lc := p.aliceCrypto
	refused := 0
	for i := range 10_000 {
		m := &pb.Rendezvous{
			FromIdentity: proto.String("str:flood"), FromConnectionId: proto.Uint32(uint32(0x10000 + i)), IceEnabled: proto.Bool(true),
			ConnectRequest: &pb.Rendezvous_ConnectRequest{Cert: lc.Cert.Signed, Crypt: lc.Signed, ToVirtualPort: proto.Uint32(0)},
		}
		_, _, rq, err := r.Route(now, encode(t, m))
		if errors.Is(err, ErrTooManyPending) {
			refused++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := NewAcceptor(Config{LocalIdentity: p.bob, LocalConnID: uint32(0x20000 + i)}, rq, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != 1+DefaultMaxPending || refused != 10_000-DefaultMaxPending {
		t.Fatalf("router holds %d sessions, refused %d", r.Len(), refused)
	}
	// Unanswered requests time out; the router then forgets them.
	later := now.Add(DefaultTimeoutInitial + FinWait)
	for id := range uint32(DefaultMaxPending) {
		if s := r.Session(0x20000 + id); s != nil {
			if m := s.Poll(later); m != nil {
				t.Fatalf("unaccepted session signalled on timeout: %v", m)
			}
		}
	}
	r.Expire(later.Add(FinWait))
	if r.Len() > 1 {
		t.Fatalf("%d sessions left after expiry", r.Len())
	}
	// The established connection was not affected.
	p.initiator.QueueICE(now, candidateMsg("still here"))
	_, in, _, err := r.Route(now, encode(t, p.initiator.Poll(now.Add(time.Second))))
	if err != nil || len(in.ICE) != 1 {
		t.Fatalf("established connection after the flood: %v %v", in.ICE, err)
	}
}

// TestSignalFloodIsPaced: however many signals arrive, a session answers
// at most once per MinSignalInterval.
func TestSignalFloodIsPaced(t *testing.T) {
	p, now := established(t)
	a := p.acceptor
	m := &pb.Rendezvous{
		FromIdentity: proto.String("str:alice"), FromConnectionId: proto.Uint32(0x1111),
		IceEnabled: proto.Bool(true), FirstReliableMsg: proto.Uint32(1),
		ConnectRequest: &pb.Rendezvous_ConnectRequest{Cert: p.aliceCrypto.Cert.Signed, Crypt: p.aliceCrypto.Signed},
	}
	blob := encode(t, m)
	replies := 0
	start := now
	for i := range 10_000 {
		now = start.Add(time.Duration(i) * 100 * time.Microsecond) // 10,000 per second
		if _, _, _, err := p.bobRouter.Route(now, blob); err != nil {
			t.Fatal(err)
		}
		if a.Poll(now) != nil {
			replies++
		}
	}
	if replies > 11 {
		t.Fatalf("%d replies to a one-second flood", replies)
	}
}

func TestUnackedBound(t *testing.T) {
	p, now := established(t)
	s := p.initiator
	for i := range DefaultMaxUnacked {
		if err := s.QueueICE(now, candidateMsg("c")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := s.QueueICE(now, candidateMsg("c")); !errors.Is(err, ErrTooManyUnacked) {
		t.Fatalf("over the bound: %v", err)
	}
	big := make([]byte, maxReliableSize)
	if err := s.QueueICE(now, candidateMsg(string(big))); err == nil {
		t.Fatal("oversized reliable message queued")
	}
	// Signals stay below the size limit however much is queued.
	m := s.Poll(now.Add(time.Second))
	if _, err := Append(nil, m); err != nil {
		t.Fatal(err)
	}
	if len(m.ReliableMessages) == DefaultMaxUnacked && proto.Size(m) > maxReliableBytesPerSignal+1024 {
		t.Fatal("signal not split")
	}
}

// FuzzRoute feeds arbitrary signals to a router holding an established
// session, checking that state stays bounded and consistent.
func FuzzRoute(f *testing.F) {
	p, now := established(f)
	p.initiator.QueueICE(now, candidateMsg("c1"))
	f.Add(encode(f, p.initiator.Poll(now)))
	p.initiator.Close(now, ReasonAppGeneric, "x")
	f.Add(encode(f, p.initiator.Poll(now)))
	q := newPair(f, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	f.Add(encode(f, q.initiator.Poll(t0)))
	for _, g := range goldenSignals {
		f.Add(unhex(f, stripComments(g.hex)))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, now := established(t)
		r := p.bobRouter
		for range 3 {
			s, _, req, err := r.Route(now, blob)
			if err != nil && (s != nil && s != p.acceptor) {
				t.Fatalf("error %v with session", err)
			}
			if req != nil {
				a, _, err := NewAcceptor(Config{LocalIdentity: p.bob, LocalConnID: 0x5555 + uint32(r.Len())}, req, now)
				if err == nil {
					r.Add(a)
				}
			}
			for _, s := range []*Session{p.acceptor, r.Session(0x5555 + 1)} {
				if s == nil {
					continue
				}
				if m := s.Poll(now.Add(time.Second)); m != nil {
					if _, err := Append(nil, m); err != nil {
						t.Fatalf("session produced an unencodable signal: %v", err)
					}
				}
				if len(s.unacked) > DefaultMaxUnacked {
					t.Fatal("unacked bound broken")
				}
			}
			now = now.Add(time.Second)
		}
		if r.Len() > 3 {
			t.Fatalf("router grew to %d sessions", r.Len())
		}
	})
}
