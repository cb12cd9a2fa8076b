package conn

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// hostileDatagrams are malformed, forged or misdirected datagrams for a
// connection whose local id is id.
func hostileDatagrams(id uint32) [][]byte {
	data := func(to uint32, n int) []byte {
		b := make([]byte, n)
		b[0] = 0x80
		binary.LittleEndian.PutUint32(b[1:], to)
		for i := 7; i < n; i++ {
			b[i] = byte(i * 7)
		}
		return b
	}
	padded := func(id byte, body []byte) []byte {
		b := make([]byte, 512)
		b[0] = id
		binary.LittleEndian.PutUint16(b[1:], uint16(len(body)))
		copy(b[3:], body)
		return b
	}
	return [][]byte{
		nil, {}, {0x80}, {0x80, 1, 2, 3}, // truncated
		data(id, 7), data(id, 8), data(id, 40), data(id, 1300), data(id, 2000), // forged data
		data(id^1, 100), // wrong connection id
		{0x81, 1, 2, 3, 4, 5, 6, 0xff, 0xff, 0xff}, // stats length past the end
		{0x22, 0xff, 0xff, 0xff, 0xff, 0xff},       // ConnectRequest with a bad protobuf
		{0x20, 1, 2, 3, 4, 5, 6},                   // ChallengeRequest not padded
		padded(0x24, []byte{0xff, 0xff}),           // ConnectionClosed with a bad protobuf
		{0x23, 0x0d, 1, 2, 3, 4},                   // ConnectOK for someone else
		{0x40, 0, 0, 0, 0, 0},                      // unknown control id
		{0xff, 0xff, 0xff, 0xff, 0x54},             // connectionless
		bytes.Repeat([]byte{0x25}, 64),             // NoConnection garbage
	}
}

func TestHostileDatagramsAreDropped(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	for _, c := range []*Conn{h.server, h.client} {
		before := c.Stats.Dropped
		bad := hostileDatagrams(c.LocalID())
		for _, b := range bad {
			c.Receive(h.now, b)
			c.Service(h.now)
			c.Drain(func(reply []byte) {
				// Replies to unauthenticated datagrams are never larger.
				if len(reply) > len(b) && len(b) > 0 {
					t.Errorf("reply of %d bytes to a %d-byte datagram %x", len(reply), len(b), b[:min(len(b), 8)])
				}
			})
		}
		if c.State() != StateConnected {
			t.Fatalf("hostile input changed state to %d", c.State())
		}
		if got := c.Stats.Dropped - before; got < uint64(len(bad))-1 {
			t.Errorf("dropped %d of %d hostile datagrams", got, len(bad))
		}
	}
	// Still working afterwards.
	h.client.Send(h.now, 0, []byte("still here"), true, true)
	h.advance(0)
	h.pump()
	if len(h.ss.got) != 1 {
		t.Error("connection broken by hostile input")
	}
}

func TestReplayedDataIsDropped(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.client.Send(h.now, 0, []byte("once"), true, true)
	h.client.Service(h.now)
	var pkt []byte
	h.client.Drain(func(b []byte) { pkt = bytes.Clone(b) })
	h.server.Receive(h.now, pkt)
	h.server.Receive(h.now, pkt)
	if len(h.ss.got) != 1 || h.server.Stats.Duplicates != 1 {
		t.Errorf("delivered %d, duplicates %d", len(h.ss.got), h.server.Stats.Duplicates)
	}
	// A tampered copy fails authentication.
	pkt[len(pkt)-1] ^= 1
	binary.LittleEndian.PutUint16(pkt[5:], binary.LittleEndian.Uint16(pkt[5:])+1)
	h.server.Receive(h.now, pkt)
	if h.server.Stats.DecryptFail != 1 {
		t.Errorf("decrypt failures %d", h.server.Stats.DecryptFail)
	}
}

func TestClosedConnectionRepliesAreSmall(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	h.server.Close(h.now, 1000, "", false)
	h.server.Drain(func([]byte) {})
	// A short data packet with the right id (easy to spoof) must not draw
	// the 512-byte ConnectionClosed.
	small := []byte{0x80, 0, 0, 0, 0, 9, 0, 1, 2, 3, 4, 5}
	binary.LittleEndian.PutUint32(small[1:], h.server.LocalID())
	h.server.Receive(h.now, small)
	h.server.Drain(func(b []byte) {
		if len(b) > len(small) {
			t.Errorf("reply of %d bytes to %d", len(b), len(small))
		}
	})
	// A padded ConnectionClosed-sized datagram may get the full answer.
	big := make([]byte, 600)
	copy(big, small)
	h.server.Receive(h.now, big)
	var n int
	h.server.Drain(func(b []byte) { n = len(b) })
	if n < 512 {
		t.Errorf("reply to a large datagram: %d bytes", n)
	}
}

// TestSpoofedChallengeFlood: a listener answers any number of spoofed
// ChallengeRequests without remembering anything, and never with more bytes
// than it received.
func TestSpoofedChallengeFlood(t *testing.T) {
	l, _ := NewListener(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	req, _ := wire.AppendChallengeRequest(nil, &pb.ChallengeRequest{ConnectionId: proto.Uint32(1), MyTimestamp: proto.Uint64(1), ProtocolVersion: proto.Uint32(13)})
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	reply := make([]byte, 0, 64)
	for i := range 100_000 {
		var ip [4]byte
		binary.LittleEndian.PutUint32(ip[:], rng.Uint32())
		from := netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(rng.Uint32()))
		binary.LittleEndian.PutUint32(req[4:], uint32(i)|1) // connection_id
		out, cr := l.Receive(t0, from, req, reply[:0])
		if cr != nil || len(out) == 0 || len(out) > len(req) {
			t.Fatalf("request %d: reply %d bytes", i, len(out))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grown := int64(ms.HeapAlloc) - int64(heapBefore); grown > 1<<20 {
		t.Errorf("heap grew by %d bytes over 100000 spoofed requests", grown)
	}
	if l.Stats.ChallengesSent != 100_000 {
		t.Errorf("answered %d", l.Stats.ChallengesSent)
	}
}

func TestChallengeExpires(t *testing.T) {
	l, _ := NewListener(nil)
	from := netip.MustParseAddrPort("192.0.2.1:4000")
	c := l.challenge(challengeTick(t0), from)
	if !l.checkChallenge(t0, from, c) || !l.checkChallenge(t0.Add(3000*1e6), from, c) {
		t.Error("fresh challenge rejected")
	}
	if l.checkChallenge(t0.Add(5*1e9), from, c) {
		t.Error("5 s old challenge accepted")
	}
	if l.checkChallenge(t0, netip.MustParseAddrPort("192.0.2.1:4001"), c) {
		t.Error("challenge accepted from another port")
	}
}

func FuzzConnReceive(f *testing.F) {
	h := newPairHarness(f, 0, 0)
	h.connect()
	for _, b := range hostileDatagrams(h.server.LocalID()) {
		f.Add(b)
	}
	h.client.Send(h.now, 0, []byte("seed"), true, true)
	h.client.Service(h.now)
	h.client.Drain(func(b []byte) { f.Add(bytes.Clone(b)) })
	for _, name := range []string{"encrypted-basic", "unencrypted-basic"} {
		_, pkts, _ := loadVectorNoT(name)
		for _, p := range pkts {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h.server.Receive(h.now, b)
		h.server.Service(h.now)
		h.server.Drain(func([]byte) {})
	})
}

func FuzzListenerReceive(f *testing.F) {
	l, _ := NewListener(nil)
	for _, name := range []string{"encrypted-basic", "unencrypted-basic"} {
		_, pkts, _ := loadVectorNoT(name)
		for _, p := range pkts {
			f.Add(p)
		}
	}
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, req := l.Receive(t0, from, b, nil)
		if len(reply) > len(b) {
			t.Fatalf("reply %d bytes to %d", len(reply), len(b))
		}
		if req != nil {
			if id, err := RequestIdentity(req, from, 2); err == nil {
				var sess *fakeSession
				cfg := testConfig(0x12345678, from, &sess)
				if c, err := NewServer(t0, &cfg, req, id); err == nil {
					c.Accept(t0)
				}
			}
		}
	})
}

// oversize pads a padded control message out to n bytes: still well formed
// but longer than any datagram GNS sends.
func oversize(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// TestOversizeDatagramsAreDropped: a datagram longer than MaxUDPPayload is
// refused and counted, by a connection and by a listener, even when its
// content would otherwise act.
func TestOversizeDatagramsAreDropped(t *testing.T) {
	h := newPairHarness(t, 0, 0)
	h.connect()
	closed, err := wire.AppendConnectionClosed(nil, &pb.ConnectionClosed{
		ToConnectionId:   proto.Uint32(h.server.LocalID()),
		FromConnectionId: proto.Uint32(h.client.LocalID()),
		ReasonCode:       proto.Uint32(1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	before := h.server.Stats.Dropped
	h.server.Receive(h.now, oversize(closed, wire.MaxUDPPayload+1))
	h.server.Service(h.now)
	if h.server.State() != StateConnected {
		t.Fatalf("a %d-byte ConnectionClosed acted: state %d", wire.MaxUDPPayload+1, h.server.State())
	}
	if h.server.Stats.Dropped != before+1 {
		t.Errorf("Dropped went from %d to %d, want one more", before, h.server.Stats.Dropped)
	}
	// The same message at the limit still closes the connection.
	h.server.Receive(h.now, oversize(closed, wire.MaxUDPPayload))
	h.server.Service(h.now)
	if h.server.State() != StateClosedByPeer {
		t.Fatalf("a %d-byte ConnectionClosed was refused: state %d", wire.MaxUDPPayload, h.server.State())
	}

	req, err := wire.AppendChallengeRequest(nil, &pb.ChallengeRequest{ConnectionId: proto.Uint32(7), MyTimestamp: proto.Uint64(1)})
	if err != nil {
		t.Fatal(err)
	}
	l := h.l
	droppedBefore := l.Stats.Dropped
	if reply, _ := l.Receive(h.now, clientAddr, oversize(req, wire.MaxUDPPayload+1), nil); len(reply) != 0 {
		t.Errorf("listener answered a %d-byte ChallengeRequest", wire.MaxUDPPayload+1)
	}
	if l.Stats.Dropped != droppedBefore+1 {
		t.Errorf("listener Dropped went from %d to %d, want one more", droppedBefore, l.Stats.Dropped)
	}
	if reply, _ := l.Receive(h.now, clientAddr, oversize(req, wire.MaxUDPPayload), nil); len(reply) == 0 {
		t.Errorf("listener refused a %d-byte ChallengeRequest", wire.MaxUDPPayload)
	}
}

// timeUntilDropped runs a connected pair whose client has gone silent and
// returns how long the server takes to drop it; every 3 s, inject gives the
// server datagrams that come from the client's address but prove nothing.
func timeUntilDropped(t *testing.T, inject func(h *pairHarness) [][]byte) time.Duration {
	h := newPairHarness(t, 0, 0)
	h.connect()
	start := h.now
	nextInject := start
	for h.server.State() == StateConnected {
		next := h.server.NextDeadline(h.now)
		if inject != nil && (next.IsZero() || nextInject.Before(next)) {
			next = nextInject
		}
		h.now = next
		if inject != nil && !h.now.Before(nextInject) {
			for _, b := range inject(h) {
				h.server.Receive(h.now, b)
			}
			nextInject = h.now.Add(3 * time.Second)
		}
		h.server.Service(h.now)
		h.server.Drain(func([]byte) {})
		if h.now.Sub(start) > 2*time.Minute {
			t.Fatal("the server never dropped the silent client")
		}
	}
	if h.server.EndReason() != ReasonMiscTimeout {
		t.Fatalf("server ended with %d, want a timeout", h.server.EndReason())
	}
	return h.now.Sub(start)
}

// TestUnauthenticatedControlIsNotLife: handshake retries, closes and data
// with wrong or merely copied ids, arriving from the peer's address every
// 3 s, do not keep a connection to a silent peer alive.
func TestUnauthenticatedControlIsNotLife(t *testing.T) {
	quiet := timeUntilDropped(t, nil)
	spoofed := timeUntilDropped(t, func(h *pairHarness) [][]byte {
		clientID, serverID := h.client.LocalID(), h.server.LocalID()
		var out [][]byte
		add := func(b []byte, err error) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		for _, id := range []uint32{clientID, clientID ^ 0x10001} {
			add(wire.AppendChallengeRequest(nil, &pb.ChallengeRequest{ConnectionId: proto.Uint32(id), MyTimestamp: proto.Uint64(1)}))
			add(wire.AppendConnectRequest(nil, &pb.ConnectRequest{ClientConnectionId: proto.Uint32(id), Challenge: proto.Uint64(1)}))
		}
		add(wire.AppendConnectionClosed(nil, &pb.ConnectionClosed{ToConnectionId: proto.Uint32(serverID ^ 1), FromConnectionId: proto.Uint32(clientID ^ 1)}))
		add(wire.AppendNoConnection(nil, &pb.NoConnection{ToConnectionId: proto.Uint32(serverID ^ 1)}))
		data := make([]byte, 60)
		data[0] = 0x80
		binary.LittleEndian.PutUint32(data[1:], serverID^1)
		out = append(out, data)
		forged := make([]byte, 60)
		forged[0] = 0x80
		binary.LittleEndian.PutUint32(forged[1:], serverID) // right id, no valid tag
		return append(out, forged)
	})
	if spoofed > quiet+time.Second {
		t.Errorf("silent client dropped after %v with spoofed traffic, %v without", spoofed, quiet)
	}
}
