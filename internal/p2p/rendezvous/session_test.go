package rendezvous

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

const ms = time.Millisecond

func TestInitiatorConnectRequest(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 7, RemoteVirtualPort: 0})
	s := p.initiator
	if err := s.QueueICE(t0, authMsg("pass1")); err != nil {
		t.Fatal(err)
	}
	m := s.Poll(t0)
	if m == nil {
		t.Fatal("no first signal")
	}
	cr := m.ConnectRequest
	switch {
	case cr == nil:
		t.Fatal("first signal lacks the connect request")
	case !proto.Equal(cr.Cert, p.aliceCrypto.Cert.Signed) || !proto.Equal(cr.Crypt, p.aliceCrypto.Signed):
		t.Error("connect request does not carry the certificate and crypt info")
	case cr.ToVirtualPort == nil || cr.GetToVirtualPort() != 0 || cr.GetFromVirtualPort() != 7:
		t.Errorf("virtual ports to=%v from=%v, want 0 (present) and 7", cr.ToVirtualPort, cr.FromVirtualPort)
	case m.ToConnectionId != nil:
		t.Error("connect request carries to_connection_id")
	case m.GetFromIdentity() != "str:alice" || m.GetToIdentity() != "str:bob" || m.GetFromConnectionId() != 0x1111:
		t.Errorf("addressing: %v", m)
	case !m.GetIceEnabled():
		t.Error("ice_enabled missing")
	case m.AckReliableMsg == nil || m.GetAckReliableMsg() != 0:
		t.Error("ack 0 must be present")
	case m.GetFirstReliableMsg() != 1 || len(m.ReliableMessages) != 1 || iceText(m.ReliableMessages[0].Ice) != "auth pass1":
		t.Errorf("reliable part: first=%v %v", m.FirstReliableMsg, m.ReliableMessages)
	}
	if m := s.Poll(t0.Add(50 * ms)); m != nil {
		t.Fatalf("signal before the retry interval: %v", m)
	}
	if d := s.Deadline(); !d.Equal(t0.Add(ConnectRetryInterval)) {
		t.Fatalf("deadline %v after start, want the 500 ms retry", d.Sub(t0))
	}
	m = s.Poll(t0.Add(ConnectRetryInterval))
	if m == nil || m.ConnectRequest == nil {
		t.Fatal("connect request not repeated at 500 ms")
	}
	// A handshake signal starts the reliable run at the oldest message even
	// though its retransmission is not due yet.
	if m.GetFirstReliableMsg() != 1 || len(m.ReliableMessages) != 1 {
		t.Fatalf("repeated request's reliable part: %v", m)
	}
}

func TestHandshakeThroughSignals(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: -1, RemoteVirtualPort: 3})
	s := p.initiator
	s.QueueICE(t0, authMsg("alicepw"))
	first := encode(t, s.Poll(t0))

	now := t0.Add(20 * ms)
	sess, _, req, err := p.bobRouter.Route(now, first)
	if err != nil || sess != nil || req == nil {
		t.Fatalf("Route: %v %v %v", sess, req, err)
	}
	if req.LocalVirtualPort != 3 || req.RemoteVirtualPort != 3 || req.ConnID != 0x1111 || req.Identity != p.alice {
		t.Fatalf("request %+v", req)
	}
	in := p.acceptRequest(t, now, req, Config{})
	if got := slices.Collect(func(yield func(string) bool) {
		for _, m := range in.ICE {
			yield(iceText(m))
		}
	}); !slices.Equal(got, []string{"auth alicepw"}) {
		t.Fatalf("acceptor got ICE %v", got)
	}
	a := p.acceptor
	if m := a.Poll(now); m != nil {
		t.Fatal("acceptor signal before the 10 ms scheduling delay")
	}
	if d := a.Deadline(); !d.Equal(now.Add(SignalDelay)) {
		t.Fatalf("connect OK scheduled %v later", d.Sub(now))
	}
	// A newly queued reliable message is due at once, as in GNS.
	now = now.Add(ms)
	a.QueueICE(now, authMsg("bobpw"))
	ok := a.Poll(now)
	switch {
	case ok == nil || ok.ConnectOk == nil:
		t.Fatalf("no connect OK: %v", ok)
	case ok.ConnectRequest != nil || ok.GetToConnectionId() != 0x1111 || ok.GetFromConnectionId() != 0x2222:
		t.Fatalf("connect OK addressing: %v", ok)
	case ok.GetAckReliableMsg() != 1 || ok.GetFirstReliableMsg() != 1:
		t.Fatalf("connect OK reliable part: %v", ok)
	}
	okBlob := encode(t, ok)

	in, err = s.Receive(now, mustParse(t, okBlob))
	if err != nil || in.ConnectOK == nil || s.State() != StateFindingRoute || s.RemoteConnID() != 0x2222 {
		t.Fatalf("initiator after connect OK: %v %v %v", in, err, s.State())
	}
	if len(s.unacked) != 0 {
		t.Fatalf("ack 1 left %d unacked", len(s.unacked))
	}
	// A duplicate connect OK is harmless.
	in, err = s.Receive(now, mustParse(t, okBlob))
	if err != nil || in.ConnectOK != nil || len(in.ICE) != 0 {
		t.Fatalf("duplicate connect OK: %+v %v", in, err)
	}

	// Crypto: both sides derive matching keys from what the signals carried.
	pc, pcr := s.PeerCrypto()
	peerOfAlice, err := cert.ValidatePeer(pc, pcr, peerPolicy(p.bob))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckAcceptorCipher(p.initiatorCiphers, peerOfAlice); err != nil {
		t.Fatal(err)
	}
	ac, acr := a.PeerCrypto()
	peerOfBob, err := cert.ValidatePeer(ac, acr, peerPolicy(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	ka, err := DeriveKeys(Initiator, p.aliceCrypto, peerOfAlice, s.LocalConnID(), s.RemoteConnID())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := DeriveKeys(Acceptor, p.acceptorCrypto, peerOfBob, a.LocalConnID(), a.RemoteConnID())
	if err != nil {
		t.Fatal(err)
	}
	if ka.SendKey != kb.RecvKey || ka.RecvKey != kb.SendKey || ka.SendIV != kb.RecvIV || ka.SendKey == ka.RecvKey {
		t.Fatal("derived keys do not pair up")
	}

	// The connect request repeated (the connect OK was lost) makes the
	// acceptor send connect OK again, routed by the initiator's id.
	now = now.Add(time.Second)
	_, in, _, err = p.bobRouter.Route(now, first)
	if err != nil || !in.RepeatedRequest {
		t.Fatalf("repeated request: %+v %v", in, err)
	}
	if m := a.Poll(now.Add(SignalDelay)); m == nil || m.ConnectOk == nil {
		t.Fatalf("connect OK not repeated: %v", m)
	}
	if m := a.Poll(now.Add(2 * time.Second)); m != nil && m.ConnectOk != nil {
		t.Fatal("connect OK sent again without a new request")
	}
}

func mustParse(t testing.TB, b []byte) *pb.Rendezvous {
	t.Helper()
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// established returns a pair past the handshake, at time now, with no
// signals pending.
func established(t testing.TB) (*pair, time.Time) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	now := t0
	_, _, req, err := p.bobRouter.Route(now, encode(t, p.initiator.Poll(now)))
	if err != nil {
		t.Fatal(err)
	}
	p.acceptRequest(t, now, req, Config{})
	now = now.Add(SignalDelay)
	if _, err := p.initiator.Receive(now, p.acceptor.Poll(now)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	return p, now
}

func TestReliableRetransmitAndAck(t *testing.T) {
	p, now := established(t)
	a, s := p.acceptor, p.initiator
	for _, c := range []string{"c1", "c2", "c3"} {
		a.QueueICE(now, candidateMsg(c))
	}
	m := a.Poll(now.Add(SignalDelay))
	if m.GetFirstReliableMsg() != 1 || len(m.ReliableMessages) != 3 || m.ConnectOk != nil {
		t.Fatalf("first send: %v", m)
	}
	if d := a.Deadline(); !d.Equal(now.Add(SignalDelay + ReliableRTO)) {
		t.Fatalf("retransmission due after %v, want 1 s", d.Sub(now))
	}
	// Lost. After the RTO all three go again.
	now = now.Add(SignalDelay + ReliableRTO)
	m = a.Poll(now)
	if m.GetFirstReliableMsg() != 1 || len(m.ReliableMessages) != 3 {
		t.Fatalf("retransmission: %v", m)
	}
	// The peer got only the first two (a shortened copy of the signal).
	part := proto.Clone(m).(*pb.Rendezvous)
	part.ReliableMessages = part.ReliableMessages[:2]
	in, err := s.Receive(now, part)
	if err != nil || len(in.ICE) != 2 {
		t.Fatalf("delivered %v, %v", in.ICE, err)
	}
	ack := s.Poll(now.Add(SignalDelay))
	if ack == nil || ack.GetAckReliableMsg() != 2 || ack.FirstReliableMsg != nil {
		t.Fatalf("ack signal: %v", ack)
	}
	if _, err := a.Receive(now, ack); err != nil {
		t.Fatal(err)
	}
	now = now.Add(ReliableRTO)
	m = a.Poll(now)
	if m.GetFirstReliableMsg() != 3 || len(m.ReliableMessages) != 1 || iceText(m.ReliableMessages[0].Ice) != "c3" {
		t.Fatalf("after ack 2: %v", m)
	}
	// The complete earlier signal arriving late delivers only c3, once.
	in, _ = s.Receive(now, m)
	in2, _ := s.Receive(now, m)
	if len(in.ICE) != 1 || iceText(in.ICE[0]) != "c3" || len(in2.ICE) != 0 {
		t.Fatalf("late delivery: %v then %v", in.ICE, in2.ICE)
	}
}

func TestReliableGapDiscarded(t *testing.T) {
	p, now := established(t)
	s := p.initiator
	m := &pb.Rendezvous{
		ToConnectionId: proto.Uint32(0x1111), FromIdentity: proto.String("str:bob"), FromConnectionId: proto.Uint32(0x2222),
		IceEnabled: proto.Bool(true), FirstReliableMsg: proto.Uint32(3),
		ReliableMessages: []*pb.Rendezvous_ReliableMessage{{Ice: candidateMsg("c3")}},
	}
	in, err := s.Receive(now, m)
	if err != nil || len(in.ICE) != 0 {
		t.Fatalf("gap delivered %v (%v)", in.ICE, err)
	}
	if ack := s.Poll(now.Add(SignalDelay)); ack == nil || ack.GetAckReliableMsg() != 0 {
		t.Fatalf("a gap still gets an ack of what we have: %v", ack)
	}
}

func TestSignalSpacing(t *testing.T) {
	p, now := established(t)
	s := p.initiator
	s.QueueICE(now, candidateMsg("a"))
	if s.Poll(now) == nil {
		t.Fatal("a queued message is due at once after a quiet period")
	}
	s.QueueICE(now.Add(ms), candidateMsg("b"))
	if d := s.Deadline(); !d.Equal(now.Add(MinSignalInterval)) {
		t.Fatalf("next signal after %v, want %v", d.Sub(now), MinSignalInterval)
	}
	if s.Poll(now.Add(99*ms)) != nil {
		t.Fatal("two signals less than 100 ms apart")
	}
	if m := s.Poll(now.Add(MinSignalInterval)); m == nil || m.GetFirstReliableMsg() != 2 {
		t.Fatalf("second signal: %v", m)
	}
}

func TestInitialRoutingWait(t *testing.T) {
	p := newPair(t, Config{InitialRoutingWait: 100 * ms, LocalVirtualPort: -1, RemoteVirtualPort: -1})
	s := p.initiator
	if s.Poll(t0) != nil {
		t.Fatal("first signal did not wait for candidates")
	}
	if d := s.Deadline(); !d.Equal(t0.Add(100 * ms)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	s.RoutingReady()
	m := s.Poll(t0.Add(ms))
	if m == nil || m.ConnectRequest == nil {
		t.Fatal("no signal once routing is ready")
	}
	if m.ConnectRequest.ToVirtualPort != nil || m.ConnectRequest.FromVirtualPort != nil {
		t.Fatal("negative virtual ports were sent")
	}
}

func TestCloseExchange(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	s := p.initiator
	now := t0
	_, _, req, _ := p.bobRouter.Route(now, encode(t, s.Poll(now)))
	p.acceptRequest(t, now, req, Config{})
	a := p.acceptor
	a.QueueICE(now, authMsg("x"))

	// The initiator gives up before seeing connect OK.
	now = now.Add(200 * ms)
	s.Close(now, ReasonAppGeneric, "bye")
	m := s.Poll(now)
	cc := m.GetConnectionClosed()
	if cc == nil || cc.GetReasonCode() != ReasonAppGeneric || cc.GetDebug() != "bye" || m.ConnectRequest != nil ||
		m.AckReliableMsg != nil || len(m.ReliableMessages) != 0 || m.ToConnectionId != nil {
		t.Fatalf("close signal: %v", m)
	}
	if err := s.QueueICE(now, candidateMsg("late")); !errors.Is(err, ErrState) {
		t.Fatalf("queue after close: %v", err)
	}
	_, in, _, err := p.bobRouter.Route(now, encode(t, m))
	if err != nil || in.Closed == nil || in.Closed.Reason != ReasonAppGeneric || in.Closed.Debug != "bye" {
		t.Fatalf("acceptor saw %+v %v", in.Closed, err)
	}
	if a.State() != StateClosedByPeer || len(a.unacked) != 0 {
		t.Fatalf("acceptor state %v, %d unacked", a.State(), len(a.unacked))
	}
	reply := a.Poll(now)
	if reply.GetConnectionClosed().GetReasonCode() != ReasonNoConnection || reply.GetToConnectionId() != 0x1111 {
		t.Fatalf("acceptor reply: %v", reply)
	}
	in, err = s.Receive(now, reply)
	if err != nil || in.Closed != nil || s.End().Reason != ReasonAppGeneric {
		t.Fatalf("initiator after no-connection: %+v %v %+v", in, err, s.End())
	}
	if m := s.Poll(now.Add(time.Second)); m != nil {
		t.Fatalf("a no-connection signal was answered: %v", m)
	}
	if s.Done(now.Add(FinWait-ms)) || !s.Done(now.Add(FinWait)) {
		t.Fatal("closed session lifetime is not FinWait")
	}
	if gone := p.bobRouter.Expire(now.Add(FinWait)); len(gone) != 1 || p.bobRouter.Len() != 0 {
		t.Fatalf("router kept %d sessions", p.bobRouter.Len())
	}
}

func TestNoConnectionFromPeer(t *testing.T) {
	p, now := established(t)
	s := p.initiator
	m := &pb.Rendezvous{
		ToConnectionId: proto.Uint32(0x1111), FromIdentity: proto.String("str:bob"), FromConnectionId: proto.Uint32(0x2222),
		ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(ReasonNoConnection)},
	}
	in, err := s.Receive(now, m)
	if err != nil || in.Closed == nil || in.Closed.Reason != ReasonPeerSentNoConnection {
		t.Fatalf("%+v %v", in.Closed, err)
	}
	if r := s.Poll(now.Add(time.Second)); r != nil {
		t.Fatalf("answered a no-connection signal: %v", r)
	}
	// A stray signal after that gets a no-connection answer.
	stray := proto.Clone(m).(*pb.Rendezvous)
	stray.ConnectionClosed = nil
	s.Receive(now, stray)
	if r := s.Poll(now.Add(time.Second)); r.GetConnectionClosed().GetReasonCode() != ReasonNoConnection {
		t.Fatalf("stray signal answer: %v", r)
	}
}

func TestTimeouts(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	s := p.initiator
	now := t0
	n := 0
	for ; now.Before(t0.Add(DefaultTimeoutInitial)); now = s.Deadline() {
		if m := s.Poll(now); m != nil && m.ConnectRequest != nil {
			n++
		}
	}
	if n != 20 {
		t.Errorf("%d connect requests in 10 s, want 20", n)
	}
	m := s.Poll(now)
	if s.State() != StateClosedLocally || s.End().Reason != ReasonTimeout || m.GetConnectionClosed().GetReasonCode() != ReasonTimeout {
		t.Fatalf("after 10 s: %v %+v %v", s.State(), s.End(), m)
	}

	p, now = established(t)
	s = p.initiator
	start := s.stateSince
	s.Poll(start.Add(DefaultTimeoutInitial - ms))
	if s.State() != StateFindingRoute {
		t.Fatal("finding route timed out early")
	}
	m = s.Poll(start.Add(DefaultTimeoutInitial))
	if s.End().Reason != ReasonP2PRendezvous || m.GetConnectionClosed().GetReasonCode() != ReasonP2PRendezvous || m.GetToConnectionId() != 0x2222 {
		t.Fatalf("finding route timeout: %+v %v", s.End(), m)
	}

	// Connected sessions have no signaling timeout and close silently.
	p, now = established(t)
	if err := p.initiator.MarkConnected(now); err != nil {
		t.Fatal(err)
	}
	if m := p.initiator.Poll(now.Add(time.Hour)); m != nil || p.initiator.State() != StateConnected {
		t.Fatalf("connected session: %v %v", m, p.initiator.State())
	}
	p.initiator.Close(now, ReasonAppGeneric, "")
	if m := p.initiator.Poll(now); m != nil {
		t.Fatalf("close after connected used signaling: %v", m)
	}
}

func TestAcceptorSilentUntilAccepted(t *testing.T) {
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0})
	_, _, req, _ := p.bobRouter.Route(t0, encode(t, p.initiator.Poll(t0)))
	a, _, err := NewAcceptor(Config{LocalIdentity: p.bob, LocalConnID: 0x2222}, req, t0)
	if err != nil {
		t.Fatal(err)
	}
	a.QueueICE(t0, authMsg("early"))
	for now := t0; now.Before(t0.Add(9 * time.Second)); now = now.Add(100 * ms) {
		if m := a.Poll(now); m != nil {
			t.Fatalf("acceptor sent before accepting: %v", m)
		}
	}
	// Closing without accepting stays silent too.
	a.Close(t0.Add(9*time.Second), ReasonAppGeneric, "no")
	if m := a.Poll(t0.Add(9 * time.Second)); m != nil {
		t.Fatalf("unaccepted close was signalled: %v", m)
	}
	rej := Rejection(p.bob, 0x3333, req, ReasonAppGeneric, "no")
	in, err := p.initiator.Receive(t0, rej)
	if err != nil || in.Closed == nil || in.Closed.Reason != ReasonAppGeneric {
		t.Fatalf("initiator ignored the rejection: %+v %v", in, err)
	}
}

func TestCompareSymmetric(t *testing.T) {
	for _, ids := range [][2]uint32{{1, 2}, {2, 4}, {7, 3}, {0xffffffff, 0}} {
		a := CompareSymmetric(ids[0], nil, ids[1], nil)
		b := CompareSymmetric(ids[1], nil, ids[0], nil)
		if a == 0 || a != -b {
			t.Errorf("%v: %d and %d", ids, a, b)
		}
	}
	// Lowest bits differ: the comparison flips.
	if CompareSymmetric(1, nil, 2, nil) != 1 || CompareSymmetric(2, nil, 4, nil) != -1 {
		t.Error("tie-break direction")
	}
	if CompareSymmetric(5, []byte{1, 2}, 5, []byte{1, 3}) != -1 {
		t.Error("certificate tie-break")
	}
}

// TestSymmetricConnect: both peers connect to each other at once; the
// tie-break makes exactly one of them the acceptor, and one connection
// results.
func TestSymmetricConnect(t *testing.T) {
	for _, ids := range [][2]uint32{{0x1000, 0x2001}, {0x1001, 0x2001}, {0x3000, 0x2000}, {0x3001, 0x2000}} {
		type peer struct {
			id     string
			s      *Session
			r      *Router
			crypto *LocalCrypto
		}
		mk := func(local, remote string, connID uint32, seed uint64) *peer {
			li, ri := mustIdentity(t, local), mustIdentity(t, remote)
			lc := mustCrypto(t, li, cert.CipherList(0), seed)
			s, err := NewInitiator(Config{LocalIdentity: li, RemoteIdentity: ri, LocalConnID: connID,
				LocalVirtualPort: 0, RemoteVirtualPort: 0, Cert: lc.Cert.Signed, Crypt: lc.Signed}, t0)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRouter(Limits{})
			r.Add(s)
			return &peer{local, s, r, lc}
		}
		a, b := mk("str:alice", "str:bob", ids[0], 1), mk("str:bob", "str:alice", ids[1], 2)
		reqA, reqB := encode(t, a.s.Poll(t0)), encode(t, b.s.Poll(t0))
		now := t0.Add(50 * ms)
		roleChanges := 0
		// Each side receives the other's crossing request.
		for _, x := range []struct {
			me   *peer
			blob []byte
		}{{a, reqB}, {b, reqA}} {
			_, _, req, err := x.me.r.Route(now, x.blob)
			if err != nil || req == nil {
				t.Fatalf("crossing request: %v %v", req, err)
			}
			cmp := CompareSymmetric(x.me.s.LocalConnID(), x.me.crypto.Cert.Signed.Cert, req.ConnID, req.Cert.Cert)
			if cmp <= 0 {
				continue // keep being the initiator; drop the request
			}
			roleChanges++
			if _, err := x.me.s.BecomeAcceptor(now, req); err != nil {
				t.Fatal(err)
			}
			x.me.r.Reindex(x.me.s)
			lc := mustCrypto(t, x.me.s.cfg.LocalIdentity, cert.CipherList(0)[:1], 5)
			if err := x.me.s.Accept(now, lc.Cert.Signed, lc.Signed); err != nil {
				t.Fatal(err)
			}
		}
		if roleChanges != 1 {
			t.Fatalf("ids %x: %d sides changed role", ids, roleChanges)
		}
		server, client := a, b
		if b.s.Role() == Acceptor {
			server, client = b, a
		}
		ok := server.s.Poll(t0.Add(MinSignalInterval)) // paced after its own request
		if ok.GetConnectOk() == nil || ok.GetToConnectionId() != client.s.LocalConnID() || ok.ConnectRequest != nil {
			t.Fatalf("winner's signal: %v", ok)
		}
		_, in, _, err := client.r.Route(now, encode(t, ok))
		if err != nil || in.ConnectOK == nil || client.s.State() != StateFindingRoute || client.s.RemoteConnID() != server.s.LocalConnID() {
			t.Fatalf("client after connect OK: %+v %v %v", in, err, client.s.State())
		}
		// The client's requests still in flight reach the server's session
		// through the re-indexed remote id.
		late := reqA
		if client == b {
			late = reqB
		}
		sess, in, _, err := server.r.Route(now, late)
		if err != nil || sess != server.s || !in.RepeatedRequest {
			t.Fatalf("client's late request at the winner: %v %+v", err, in)
		}
	}
}
