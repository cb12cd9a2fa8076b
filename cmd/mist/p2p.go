package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/internal/p2p/trivial"
)

func init() {
	register("p2p", command{
		summary: "does P2P work from my network? connect two peers by identity (GNS's test_p2p traffic)",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runP2P(interruptContext(), args, stdout, stderr)
		},
	})
}

const p2pUsage = `Usage:
  mist p2p listen  --identity ID [--once] [options]
  mist p2p connect --identity ID [--ticks N] [options] REMOTE_ID

Tests a peer-to-peer connection between two machines, found by identity
through a signaling server, across NATs and firewalls: the crypto
handshake goes through the signaling server, ICE finds a route (direct,
or through a TURN relay), and the two sides then exchange the traffic of
GameNetworkingSockets' test_p2p for a while, so either side can also face
a GNS test_p2p peer.

Every 50 ms each side sends 0 to 4 messages, each reliable or unreliable
at random, 8 to 10,240 bytes, starting with a 4-byte little-endian counter
of its kind; every reliable counter must arrive in order. connect closes
the connection with end reason 1000 after --ticks ticks; listen --once
exits after its first connection ends. Both print

  TEST ROUTE: addr=<ip:port> type=<local|udp|relay>

(local: same network; udp: direct across the Internet; relay: through
the TURN server), and exit 0 only if the connection worked, messages
flowed both ways and every reliable counter was in order; otherwise 1,
saying what failed (no route, timed out, refused, ...).

Identities look like str:alice or steamid:76561198000000001. Without
--stun and --turn no server other than the signaling server is contacted:
only the machines' own addresses are tried. With --cert the identity is
the certificate's (--identity may be left out); with --trust only peers
holding a certificate from that CA are accepted (see 'mist ca').

Options:
`

type p2pOptions struct {
	identity  string
	signaling string
	stun      string
	turn      string
	turnUser  string
	turnPass  string
	vport     int
	relayOnly bool
	once      bool
	ticks     int
	timeout   time.Duration
	creds     credentialFlags
}

func runP2P(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "listen" && args[0] != "connect") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, p2pUsage)
			return 0
		}
		fmt.Fprint(stderr, p2pUsage)
		return 2
	}
	mode := args[0]
	var o p2pOptions
	fs := flag.NewFlagSet("mist p2p "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.identity, "identity", "", "local identity (required), e.g. str:alice")
	fs.StringVar(&o.signaling, "signaling", "localhost:10000", "trivial signaling server HOST:PORT, or a comma-separated list to fail over along")
	fs.StringVar(&o.stun, "stun", "", "STUN servers HOST:PORT[,...]")
	fs.StringVar(&o.turn, "turn", "", "TURN server HOST:PORT")
	fs.StringVar(&o.turnUser, "turn-user", "", "TURN user name")
	fs.StringVar(&o.turnPass, "turn-pass", "", "TURN password")
	fs.IntVar(&o.vport, "vport", 0, "virtual port (0 to 65535)")
	o.creds.register(fs)
	fs.BoolVar(&o.relayOnly, "relay-only", false, "use TURN relays only, so neither side learns the other's address")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long connecting and finding a route may each take")
	if mode == "listen" {
		fs.BoolVar(&o.once, "once", false, "exit after the first connection ends")
	} else {
		fs.IntVar(&o.ticks, "ticks", 40, "50 ms ticks of traffic before closing")
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, p2pUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mist p2p %s: "+format+"\n", append([]any{mode}, a...)...)
		return 2
	}
	if msg := o.creds.load(); msg != "" {
		return bad("%s", msg)
	}
	if o.identity == "" && o.creds.cred != nil {
		o.identity = o.creds.cred.Identity
	}
	local, ok := mist.ParseIdentity(o.identity)
	if !ok {
		return bad("--identity %q is not an identity (str:NAME, steamid:N, ...)", o.identity)
	}
	if c := o.creds.cred; c != nil && c.Identity != local.String() {
		return bad("--identity %s differs from the certificate's identity %s (--cert %s)", local, c.Identity, o.creds.certFile)
	}
	if strings.ContainsAny(o.identity, " \t") {
		return bad("--identity may not contain spaces")
	}
	if _, err := trivial.ServerAddrs(o.signaling); err != nil {
		return bad("--signaling %q: %v", o.signaling, err)
	}
	if o.vport < 0 || o.vport > 0xffff {
		return bad("--vport %d is out of range (0 to 65535)", o.vport)
	}
	if o.relayOnly && o.turn == "" {
		return bad("--relay-only needs --turn")
	}
	if (o.turnUser != "" || o.turnPass != "") && o.turn == "" {
		return bad("--turn-user and --turn-pass need --turn")
	}
	if o.timeout <= 0 || o.timeout > time.Hour {
		return bad("--timeout %v is out of range", o.timeout)
	}
	var remote mist.Identity
	switch {
	case mode == "connect" && fs.NArg() != 1:
		return bad("expected one REMOTE_ID")
	case mode == "connect":
		if remote, ok = mist.ParseIdentity(fs.Arg(0)); !ok {
			return bad("REMOTE_ID %q is not an identity", fs.Arg(0))
		}
		if o.ticks < 1 {
			return bad("--ticks must be at least 1")
		}
	case fs.NArg() != 0:
		return bad("unexpected arguments %q", fs.Args())
	}

	opts := []mist.ConfigValue{
		mist.Int32Value(mist.OptTimeoutInitial, int32(o.timeout.Milliseconds())),
		mist.StringValue(mist.OptP2PSTUNServerList, o.stun),
		mist.StringValue(mist.OptP2PTURNServerList, o.turn),
		mist.StringValue(mist.OptP2PTURNUserList, o.turnUser),
		mist.StringValue(mist.OptP2PTURNPassList, o.turnPass),
	}
	if o.relayOnly {
		opts = append(opts, mist.Int32Value(mist.OptP2PTransportICEEnable, 1))
	}
	cfg := o.creds.config()
	cfg.Identity, cfg.SignalingServer, cfg.Options = local, o.signaling, opts
	s, err := mist.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mist p2p %s: %v\n", mode, err)
		return 1
	}
	defer s.Close()
	t := &p2pTest{s: s, out: stdout, errOut: stderr, ticks: o.ticks, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	if mode == "listen" {
		return t.listen(ctx, o)
	}
	return t.connect(ctx, remote, o)
}

// p2pTest runs one side of GNS's test_p2p traffic on one connection at a
// time.
type p2pTest struct {
	s      *mist.Sockets
	out    io.Writer
	errOut io.Writer
	ticks  int
	rng    *rand.Rand

	conn               mist.Conn
	connected          bool
	sentRel, sentUnrel int32
	wantRel, wantUnrel int32
	received           int
	orderErr           string
	ticksDone          int
	ended              *mist.ConnectionInfo
	lastRoute          string
	listenSock         mist.ListenSocket
	failed             bool
	connections        int
}

// testSendLimit pauses sending while this much is queued, as test_p2p.
const testSendLimit = 32 << 10

func (t *p2pTest) reset(h mist.Conn) {
	*t = p2pTest{s: t.s, out: t.out, errOut: t.errOut, ticks: t.ticks, rng: t.rng, listenSock: t.listenSock,
		connections: t.connections}
	t.conn = h
}

// onStatus follows the connection's states (inside RunCallbacks).
func (t *p2pTest) onStatus(ev *mist.ConnStatusChanged) {
	switch ev.Info.State {
	case mist.StateConnecting:
		if t.listenSock != 0 && ev.Info.ListenSocket == t.listenSock {
			if t.conn != 0 {
				fmt.Fprintln(t.out, "New connection while the previous one is active: closing the previous one")
				t.s.CloseConnection(t.conn, 0, "", false)
			}
			t.reset(ev.Conn)
			fmt.Fprintf(t.out, "[%s] Accepting\n", ev.Info.Description)
			if r := t.s.AcceptConnection(ev.Conn); r != mist.ResultOK {
				fmt.Fprintf(t.out, "Accept failed: %v\n", r)
			}
		}
	case mist.StateFindingRoute:
		if ev.Conn == t.conn {
			fmt.Fprintf(t.out, "[%s] Finding route\n", ev.Info.Description)
		}
	case mist.StateConnected:
		if ev.Conn == t.conn {
			t.connected = true
			fmt.Fprintf(t.out, "[%s] Connected\n", ev.Info.Description)
		}
	case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
		if ev.Conn != t.conn {
			t.s.CloseConnection(ev.Conn, 0, "", false)
			return
		}
		how := "closed by peer"
		if ev.Info.State == mist.StateProblemDetectedLocally {
			how = "problem detected locally"
		}
		fmt.Fprintf(t.out, "[%s] %s, reason %d: %s\n", ev.Info.Description, how, ev.Info.EndReason, ev.Info.EndDebug)
		if t.connected {
			t.printRoute(ev.Info)
		}
		info := ev.Info
		t.ended = &info
		t.s.CloseConnection(ev.Conn, 0, "", false)
	}
}

func routeType(info mist.ConnectionInfo) string {
	switch {
	case info.Flags&mist.ConnInfoRelayed != 0:
		return "relay"
	case info.Flags&mist.ConnInfoFast != 0:
		return "local"
	}
	return "udp"
}

func (t *p2pTest) printRoute(info mist.ConnectionInfo) {
	t.lastRoute = routeType(info)
	fmt.Fprintf(t.out, "TEST ROUTE: addr=%s type=%s\n", mist.FormatIPAddr(info.RemoteAddr), t.lastRoute)
}

// tick receives and checks messages, then sends this tick's messages.
func (t *p2pTest) tick() {
	msgs := make([]*mist.Message, 16)
	for {
		n := t.s.ReceiveMessagesOnConnection(t.conn, msgs)
		if n <= 0 {
			break
		}
		for _, m := range msgs[:n] {
			t.check(m)
			m.Release()
		}
	}
	st, r := t.s.ConnectionRealTimeStatus(t.conn, nil)
	if r != mist.ResultOK || st.PendingReliable+st.PendingUnreliable >= testSendLimit {
		return
	}
	for range t.rng.IntN(5) {
		reliable := t.rng.IntN(2) == 1
		// Sizes 8 to 10,240 bytes, exponentially distributed: mostly small.
		size := min(8+int(math.Exp(t.rng.Float64()*math.Log(10232))), 10240)
		buf := make([]byte, size)
		counter, flags := t.sentUnrel, mist.SendUnreliable
		if reliable {
			counter, flags = t.sentRel, mist.SendReliable
		}
		binary.LittleEndian.PutUint32(buf, uint32(counter))
		if _, r := t.s.SendMessageToConnection(t.conn, buf, flags); r != mist.ResultOK {
			break
		}
		if reliable {
			t.sentRel++
		} else {
			t.sentUnrel++
		}
	}
	t.ticksDone++
}

func (t *p2pTest) check(m *mist.Message) {
	t.received++
	if len(m.Data) < 4 {
		t.orderErr = fmt.Sprintf("received a message of %d bytes, too short for its counter", len(m.Data))
		return
	}
	n := int32(binary.LittleEndian.Uint32(m.Data))
	if m.Flags&mist.SendReliable != 0 {
		if n != t.wantRel && t.orderErr == "" {
			t.orderErr = fmt.Sprintf("reliable message counter mismatch: expected %d, got %d", t.wantRel, n)
		}
		t.wantRel = n + 1
		return
	}
	t.wantUnrel = n + 1
}

// verdict says whether the connection that ended worked; closedOK is the
// end this side expects (ClosedByPeer 1000 for the listener).
func (t *p2pTest) verdict(closedOK bool) (bool, string) {
	switch {
	case !t.connected && t.ended != nil:
		return false, "the connection never got through: " + endExplanation(*t.ended)
	case !t.connected:
		return false, "the connection never got through"
	case t.orderErr != "":
		return false, t.orderErr
	case t.received == 0:
		return false, "no message arrived from the peer"
	case t.sentRel+t.sentUnrel == 0:
		return false, "no message was sent to the peer"
	case !closedOK && t.ended != nil:
		return false, "the connection failed after connecting: " + endExplanation(*t.ended)
	}
	return true, ""
}

// endExplanation puts an end reason in words a user can act on.
func endExplanation(info mist.ConnectionInfo) string {
	var what string
	switch r := info.EndReason; {
	case r == mist.EndMiscP2PRendezvous:
		what = "no route found (both sides exchanged addresses but no candidate pair worked: NATs or firewalls block direct UDP; a TURN relay (--turn) gets through)"
	case r == mist.EndMiscTimeout:
		what = "timed out (the peer never answered through the signaling server: is it running, registered under that identity, listening on that virtual port?)"
	case r == 3998:
		what = "ICE is disabled by the settings, or --relay-only has no usable TURN server"
	case r == 4999:
		what = "the peer has ICE disabled"
	case r >= 4000 && r < 5000:
		what = "refused by the peer's crypto or certificate checks"
	case r == mist.EndMiscInternalError:
		what = "the signaling server refused the signal"
	case r == mist.EndMiscPeerSentNoConnection:
		what = "the peer has no such connection"
	case r >= 1000 && r < 3000:
		what = "closed by the application"
	default:
		what = "failed"
	}
	return fmt.Sprintf("%s (end reason %d: %s)", what, info.EndReason, info.EndDebug)
}

func (t *p2pTest) listen(ctx context.Context, o p2pOptions) int {
	t.s.OnConnectionStatusChanged(t.onStatus)
	ls, err := t.s.CreateListenSocketP2P(o.vport)
	if err != nil {
		fmt.Fprintf(t.errOut, "mist p2p listen: %v\n", err)
		return 1
	}
	t.listenSock = ls
	id, _ := t.s.Identity()
	fmt.Fprintf(t.out, "Listening as %s on virtual port %d through %s\n", id, o.vport, o.signaling)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(t.out, "Interrupted")
			if t.connections == 0 || t.failed {
				return 1
			}
			return 0
		case <-tick.C:
		}
		t.s.RunCallbacks()
		if t.conn != 0 && t.connected && t.ended == nil {
			t.tick()
		}
		if t.ended == nil {
			continue
		}
		closedOK := t.ended.State == mist.StateClosedByPeer && t.ended.EndReason == mist.EndAppGeneric
		ok, why := t.verdict(closedOK)
		t.connections++
		if ok {
			fmt.Fprintf(t.out, "OK: %d reliable and %d unreliable messages sent, %d received, every reliable one in order\n",
				t.sentRel, t.sentUnrel, t.received)
		} else {
			t.failed = true
			fmt.Fprintf(t.out, "FAILED: %s\n", why)
		}
		t.reset(0)
		if o.once {
			if ok {
				return 0
			}
			return 1
		}
	}
}

func (t *p2pTest) connect(ctx context.Context, remote mist.Identity, o p2pOptions) int {
	t.s.OnConnectionStatusChanged(t.onStatus)
	h, err := t.s.ConnectP2P(remote, o.vport)
	if err != nil {
		fmt.Fprintf(t.errOut, "mist p2p connect: %v\n", err)
		return 1
	}
	t.conn = h
	id, _ := t.s.Identity()
	fmt.Fprintf(t.out, "Connecting as %s to %s on virtual port %d through %s\n", id, remote, o.vport, o.signaling)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(t.out, "Interrupted")
			return 1
		case <-tick.C:
		}
		t.s.RunCallbacks()
		if t.ended != nil {
			_, why := t.verdict(false)
			fmt.Fprintf(t.out, "FAILED: %s\n", why)
			return 1
		}
		if !t.connected {
			continue
		}
		t.tick()
		if t.ticksDone < t.ticks {
			continue
		}
		info, _ := t.s.ConnectionInfo(t.conn)
		t.printRoute(info)
		ok, why := t.verdict(true)
		fmt.Fprintf(t.out, "Closing connection after %d ticks (%d reliable, %d unreliable sent)\n", t.ticksDone, t.sentRel, t.sentUnrel)
		t.s.CloseConnection(t.conn, mist.EndAppGeneric, "Test completed OK", true)
		t.lingerOut()
		if !ok {
			fmt.Fprintf(t.out, "FAILED: %s\n", why)
			return 1
		}
		fmt.Fprintf(t.out, "OK: %d reliable and %d unreliable messages sent, %d received, every reliable one in order\n",
			t.sentRel, t.sentUnrel, t.received)
		return 0
	}
}

// lingerOut keeps the instance up briefly after the close so that queued
// reliable data and the close itself reach the peer.
func (t *p2pTest) lingerOut() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		t.s.RunCallbacks()
		time.Sleep(20 * time.Millisecond)
	}
}
