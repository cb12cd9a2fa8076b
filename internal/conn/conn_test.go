package conn

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
)

// fakeSession carries each message as one payload: 'M' + data; a packet
// with nothing else to say is 'K'. Enough to drive the connection logic.
type fakeSession struct {
	queue    [][]byte
	got      [][]byte
	acks     int
	mustAck  bool
	failWith error
	lastData bool // the last packet built carried a message
}

func (s *fakeSession) Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error) {
	s.queue = append(s.queue, append([]byte(nil), data...))
	return int64(len(s.queue)), nil
}
func (s *fakeSession) Flush(time.Time)                       {}
func (s *fakeSession) ConfigureLanes([]int, []uint16) error  { return nil }
func (s *fakeSession) TimeUntilSend(time.Time) time.Duration { return 0 }
func (s *fakeSession) NextDeadline(time.Time) time.Time {
	return time.Time{}
}
func (s *fakeSession) ReliableDone() bool                      { return len(s.queue) == 0 }
func (s *fakeSession) Status(now time.Time, st *SessionStatus) {}
func (s *fakeSession) AckRequestDue() bool                     { return false }
func (s *fakeSession) AckRequestSent()                         {}
func (s *fakeSession) LastPacketReliable() bool                { return s.lastData }

func (s *fakeSession) NoteAckRequest(now time.Time, pkt int64, immediate bool) {
	s.acks++
	s.mustAck = true
}
func (s *fakeSession) Receive(now time.Time, pkt int64, p []byte) error {
	if s.failWith != nil {
		return s.failWith
	}
	if len(p) > 0 && p[0] == 'M' {
		s.got = append(s.got, append([]byte(nil), p[1:]...))
	}
	return nil
}
func (s *fakeSession) AppendPacket(dst []byte, now time.Time, pkt int64, max int, allowData, force bool) ([]byte, bool) {
	if len(s.queue) > 0 && allowData {
		m := s.queue[0]
		s.queue = s.queue[1:]
		s.lastData = true
		return append(append(dst, 'M'), m...), true
	}
	if force || s.mustAck {
		s.mustAck = false
		s.lastData = false
		return append(dst, 'K'), true
	}
	return dst, false
}

var (
	clientAddr = netip.MustParseAddrPort("127.0.0.1:50000")
	serverAddr = netip.MustParseAddrPort("127.0.0.1:27015")
	t0         = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

type pairHarness struct {
	t              testing.TB
	now            time.Time
	l              *Listener
	client, server *Conn
	cs, ss         *fakeSession
	serverCfg      Config
	toServer       [][]byte // datagrams in flight
	toClient       [][]byte
}

func testConfig(id uint32, remote netip.AddrPort, sess **fakeSession) Config {
	return Config{
		LocalID:          id,
		Identity:         identity.LocalHost(),
		AllowWithoutAuth: 2,
		TimeoutInitial:   10 * time.Second,
		TimeoutConnected: 10 * time.Second,
		Remote:           remote,
		NewSession: func(uint32, int) Session {
			*sess = &fakeSession{}
			return *sess
		},
	}
}

func newPairHarness(t testing.TB, clientUnenc, serverUnenc int) *pairHarness {
	t.Helper()
	h := &pairHarness{t: t, now: t0}
	var err error
	if h.l, err = NewListener(nil); err != nil {
		t.Fatal(err)
	}
	ccfg := testConfig(0x11112222, serverAddr, &h.cs)
	ccfg.Unencrypted = clientUnenc
	h.serverCfg = testConfig(0x33334444, clientAddr, &h.ss)
	h.serverCfg.Unencrypted = serverUnenc
	if h.client, err = NewClient(h.now, &ccfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// pump moves datagrams both ways until nothing is in flight. Datagrams to
// the server go through the listener until the server connection exists.
func (h *pairHarness) pump() {
	for i := 0; i < 100; i++ {
		h.client.Drain(func(b []byte) { h.toServer = append(h.toServer, bytes.Clone(b)) })
		if h.server != nil {
			h.server.Drain(func(b []byte) { h.toClient = append(h.toClient, bytes.Clone(b)) })
		}
		if len(h.toServer) == 0 && len(h.toClient) == 0 {
			return
		}
		in := h.toServer
		h.toServer = nil
		for _, b := range in {
			h.deliverToServer(b)
		}
		in = h.toClient
		h.toClient = nil
		for _, b := range in {
			h.client.Receive(h.now, b)
			h.client.Service(h.now)
		}
	}
	h.t.Fatal("pump did not settle")
}

func (h *pairHarness) deliverToServer(b []byte) {
	if h.server != nil {
		h.server.Receive(h.now, b)
		h.server.Service(h.now)
		return
	}
	reply, req := h.l.Receive(h.now, clientAddr, b, nil)
	if len(reply) > len(b) {
		h.t.Fatalf("listener reply of %d bytes to a %d-byte datagram", len(reply), len(b))
	}
	if len(reply) > 0 {
		h.toClient = append(h.toClient, reply)
	}
	if req == nil {
		return
	}
	id, err := RequestIdentity(req, clientAddr, h.serverCfg.AllowWithoutAuth)
	if err != nil {
		h.t.Fatalf("RequestIdentity: %v", err)
	}
	if h.server, err = NewServer(h.now, &h.serverCfg, req, id); err != nil {
		h.t.Fatalf("NewServer: %v", err)
	}
}

func (h *pairHarness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.client.Service(h.now)
	if h.server != nil {
		h.server.Service(h.now)
	}
}

func (h *pairHarness) connect() {
	h.t.Helper()
	h.pump()
	if h.server == nil || h.server.State() != StateConnecting {
		h.t.Fatalf("server not connecting")
	}
	if err := h.server.Accept(h.now); err != nil {
		h.t.Fatalf("Accept: %v", err)
	}
	h.pump()
	if h.client.State() != StateConnected || h.server.State() != StateConnected {
		h.t.Fatalf("states client=%d server=%d", h.client.State(), h.server.State())
	}
}

func TestHandshakeAndData(t *testing.T) {
	for _, tc := range []struct {
		client, server int
		encrypted      bool
	}{{0, 0, true}, {1, 2, false}, {2, 1, true}, {3, 3, false}, {2, 2, false}} {
		h := newPairHarness(t, tc.client, tc.server)
		h.connect()
		if h.client.Encrypted() != tc.encrypted || h.server.Encrypted() != tc.encrypted {
			t.Errorf("Unencrypted %d/%d: encrypted = %v/%v, want %v", tc.client, tc.server, h.client.Encrypted(), h.server.Encrypted(), tc.encrypted)
		}
		if got := h.server.RemoteIdentity().String(); got != "ip:"+clientAddr.String() {
			t.Errorf("server sees client as %s", got)
		}
		if h.client.RemoteID() != h.server.LocalID() || h.server.RemoteID() != h.client.LocalID() {
			t.Errorf("connection ids do not match")
		}
		if _, err := h.client.Send(h.now, 0, []byte("ping"), true, true); err != nil {
			t.Fatal(err)
		}
		h.server.Send(h.now, 0, []byte("pong"), true, true)
		h.advance(0)
		h.pump()
		if len(h.ss.got) != 1 || string(h.ss.got[0]) != "ping" || len(h.cs.got) != 1 || string(h.cs.got[0]) != "pong" {
			t.Errorf("delivered: server %q client %q", h.ss.got, h.cs.got)
		}
	}
}

func TestCipherMismatchFailsAccept(t *testing.T) {
	h := newPairHarness(t, 3, 0)
	h.pump()
	if err := h.server.Accept(h.now); err != ErrHandshakeFailed {
		t.Fatalf("Accept = %v, want ErrHandshakeFailed", err)
	}
	if h.server.State() != StateProblemDetectedLocally || h.server.EndReason() != ReasonRemoteBadCrypt {
		t.Fatalf("server state %d reason %d", h.server.State(), h.server.EndReason())
	}
	h.pump()
	if h.client.State() != StateClosedByPeer || h.client.EndReason() != ReasonRemoteBadCrypt {
		t.Fatalf("client state %d reason %d", h.client.State(), h.client.EndReason())
	}
}

func TestClientRetriesThenTimesOut(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	sent := 0
	for h.client.State() == StateConnecting {
		h.client.Drain(func(b []byte) {
			if wire.MsgID(b[0]) != wire.MsgChallengeRequest || len(b) < 512 {
				t.Fatalf("unexpected datagram %x (len %d)", b[0], len(b))
			}
			sent++
		})
		next := h.client.NextDeadline(h.now)
		if next.Sub(h.now) > ConnectRetryInterval {
			t.Fatalf("deadline %v ahead", next.Sub(h.now))
		}
		h.now = next
		h.client.Service(h.now)
	}
	if h.now.Sub(t0) != 10*time.Second {
		t.Errorf("timed out after %v", h.now.Sub(t0))
	}
	if sent != 20 {
		t.Errorf("sent %d ChallengeRequests, want 20 (one every 500 ms)", sent)
	}
	if h.client.State() != StateProblemDetectedLocally || h.client.EndReason() != ReasonMiscTimeout || h.client.EndDebug() != "Timed out attempting to connect" {
		t.Errorf("state %d reason %d %q", h.client.State(), h.client.EndReason(), h.client.EndDebug())
	}
	var closed bool
	h.client.Drain(func(b []byte) {
		id, body, err := wire.ParseControl(b)
		closed = err == nil && id == wire.MsgConnectionClosed && len(body) > 0
	})
	if !closed {
		t.Error("no ConnectionClosed after the timeout")
	}
}

func TestServerAppTimeout(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.pump()
	h.advance(10 * time.Second)
	if h.server.State() != StateProblemDetectedLocally || h.server.EndReason() != ReasonMiscTimeout ||
		h.server.EndDebug() != "App didn't accept or close incoming connection in time." {
		t.Fatalf("server state %d reason %d %q", h.server.State(), h.server.EndReason(), h.server.EndDebug())
	}
}

func TestCloseAndFinWait(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.client.Close(h.now, 1234, "bye", false)
	h.pump()
	if h.server.State() != StateClosedByPeer || h.server.EndReason() != 1234 || h.server.EndDebug() != "bye" {
		t.Fatalf("server state %d reason %d %q", h.server.State(), h.server.EndReason(), h.server.EndDebug())
	}
	if h.client.State() != StateFinWait {
		t.Fatalf("client state %d", h.client.State())
	}
	h.server.Close(h.now, 1000, "", false)
	h.pump()
	if h.server.State() != StateFinWait {
		t.Fatalf("server state %d", h.server.State())
	}
	h.now = h.client.NextDeadline(h.now)
	if h.now.Sub(t0) != FinWaitTime {
		t.Errorf("FinWait deadline after %v", h.now.Sub(t0))
	}
	h.advance(0)
	if !h.client.Dead() || !h.server.Dead() {
		t.Errorf("not dead after FinWait: %d %d", h.client.State(), h.server.State())
	}
}

func TestKeepaliveAndTimeoutConnected(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	start := h.now
	// The server goes silent: drop everything it would send.
	keepalives := 0
	for h.client.State() == StateConnected {
		h.now = h.client.NextDeadline(h.now)
		h.client.Service(h.now)
		h.client.Drain(func(b []byte) {
			hd, _, err := wire.ParseDataHeader(b)
			if err == nil && hd.Stats != nil {
				keepalives++
			}
		})
		if h.now.Sub(start) > time.Minute {
			t.Fatal("never timed out")
		}
	}
	idle := h.now.Sub(start)
	if idle < 20*time.Second || idle > 22*time.Second {
		t.Errorf("timed out after %v, want about 20.5-21.5 s", idle)
	}
	if keepalives < 4 {
		t.Errorf("%d keepalive/urgent pings", keepalives)
	}
	if h.client.EndReason() != ReasonMiscTimeout {
		t.Errorf("reason %d", h.client.EndReason())
	}
}

func TestPeerNoConnectionAndReplies(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	// The server vanishes (no close message); the client's next data gets
	// NoConnection from a listener-less peer? Simulate the reply GNS sends.
	h.server.Destroy()
	nc := []byte{}
	nc, _ = wire.AppendNoConnection(nc, &pb.NoConnection{FromConnectionId: ptr(h.client.RemoteID()), ToConnectionId: ptr(h.client.LocalID())})
	h.client.Receive(h.now, nc)
	if h.client.State() != StateClosedByPeer || h.client.EndReason() != ReasonMiscPeerSentNoConnection {
		t.Fatalf("client state %d reason %d", h.client.State(), h.client.EndReason())
	}
	// Data for a ClosedByPeer connection is answered with NoConnection.
	h.client.Drain(func([]byte) {})
	h.client.Close(h.now, 0, "", false)
	var replies int
	h.client.Drain(func(b []byte) {
		if id, _, err := wire.ParseControl(b); err == nil && id == wire.MsgNoConnection {
			replies++
		}
	})
	if replies != 1 {
		t.Errorf("closing a ClosedByPeer connection sent %d NoConnection", replies)
	}
}

func ptr(v uint32) *uint32 { return &v }

func TestLingerDeliversThenCloses(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.client.Send(h.now, 0, []byte("one"), true, false)
	h.client.Send(h.now, 0, []byte("two"), true, false)
	h.client.Close(h.now, 1001, "bye", true)
	if h.client.State() != StateLinger {
		t.Fatalf("state %d, want Linger", h.client.State())
	}
	h.client.Drain(func([]byte) {
		t.Error("close sent while lingering")
	})
	for i := 0; i < 10 && h.client.State() == StateLinger; i++ {
		h.advance(0)
		h.pump()
	}
	if h.client.State() != StateFinWait {
		t.Fatalf("state %d, want FinWait", h.client.State())
	}
	if len(h.ss.got) != 2 || h.server.State() != StateClosedByPeer || h.server.EndReason() != 1001 {
		t.Errorf("server got %d messages, state %d reason %d", len(h.ss.got), h.server.State(), h.server.EndReason())
	}
}

func TestLingerCutShortByPeerClose(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.cs.queue = [][]byte{[]byte("stuck")}
	h.client.Close(h.now, 1000, "", true)
	h.server.Close(h.now, 1002, "me too", false)
	h.server.Drain(func(b []byte) { h.client.Receive(h.now, b) })
	if h.client.State() != StateFinWait {
		t.Errorf("state %d after the peer closed during linger", h.client.State())
	}
}

func TestLurchEndsConnection(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	// Jump the client's packet numbers far ahead: the server sees a lurch.
	h.client.nextPktNum += 0x5000
	h.client.Send(h.now, 0, []byte("far"), true, true)
	h.advance(0)
	h.pump()
	if h.server.State() != StateProblemDetectedLocally || h.server.EndReason() != ReasonMiscGeneric ||
		!strings.HasPrefix(h.server.EndDebug(), "Pkt number lurch by ") {
		t.Errorf("server state %d reason %d %q", h.server.State(), h.server.EndReason(), h.server.EndDebug())
	}
}

func TestSessionProtocolErrorEndsConnection(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.ss.failWith = &ProtocolError{Reason: ReasonMiscInternalError, Debug: "message too large"}
	h.client.Send(h.now, 0, []byte("x"), true, true)
	h.advance(0)
	h.pump()
	if h.server.State() != StateProblemDetectedLocally || h.server.EndReason() != ReasonMiscInternalError {
		t.Errorf("server state %d reason %d", h.server.State(), h.server.EndReason())
	}
	if h.client.State() != StateClosedByPeer || h.client.EndReason() != ReasonMiscInternalError || h.client.EndDebug() != "message too large" {
		t.Errorf("client state %d reason %d %q", h.client.State(), h.client.EndReason(), h.client.EndDebug())
	}
}

func TestHandshakeRetryResendsConnectOK(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.pump()
	h.server.Accept(h.now)
	// The ConnectOK is lost.
	h.server.Discard()
	h.advance(ConnectRetryInterval)
	h.pump()
	if h.client.State() != StateConnected {
		t.Fatalf("client state %d after a lost ConnectOK", h.client.State())
	}
}

func TestQualityReports(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	start := h.now
	var instant, lifetime int
	for h.now.Sub(start) < 140*time.Second {
		next := h.client.NextDeadline(h.now)
		if s := h.server.NextDeadline(h.now); s.Before(next) {
			next = s
		}
		h.now = next
		h.client.Service(h.now)
		h.server.Service(h.now)
		h.client.Drain(func(b []byte) {
			if hd, _, err := wire.ParseDataHeader(b); err == nil && hd.Stats != nil {
				if m, err := wire.ParseStats(hd.Stats); err == nil && m.Stats != nil {
					if m.Stats.Instantaneous != nil {
						instant++
					}
					if m.Stats.Lifetime != nil {
						lifetime++
					}
				}
			}
			h.toServer = append(h.toServer, bytes.Clone(b))
		})
		h.pump()
		if h.client.State() != StateConnected || h.server.State() != StateConnected {
			t.Fatalf("connection lost at %v", h.now.Sub(start))
		}
	}
	if instant < 4 || lifetime != 1 {
		t.Errorf("%d instantaneous and %d lifetime reports in 140 s", instant, lifetime)
	}
}
