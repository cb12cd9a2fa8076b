package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/wire"
)

func TestWorthHandling(t *testing.T) {
	padded := func(id byte, n int) []byte { b := make([]byte, n); b[0] = id; return b }
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"ChallengeRequest", padded(byte(wire.MsgChallengeRequest), wire.MinPaddedLen), true},
		{"ChallengeRequest unpadded", padded(byte(wire.MsgChallengeRequest), 40), false},
		{"ConnectRequest", padded(byte(wire.MsgConnectRequest), 300), true},
		{"ConnectionClosed", padded(byte(wire.MsgConnectionClosed), wire.MinPaddedLen), true},
		{"ConnectOK", padded(byte(wire.MsgConnectOK), 300), false},
		{"NoConnection", padded(byte(wire.MsgNoConnection), 20), false},
		{"data", padded(0x80, 100), false},
		{"too short", padded(byte(wire.MsgConnectRequest), 4), false},
		{"too long", padded(byte(wire.MsgConnectRequest), wire.MaxUDPPayload+1), false},
	} {
		if got := worthHandling(tc.b); got != tc.want {
			t.Errorf("%s: worthHandling = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPerSourceLimit(t *testing.T) {
	q := newHandshakeQueue(nil)
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	b := netip.MustParseAddrPort("192.0.2.1:1001")
	now := time.Unix(1000, 0)
	allowed := 0
	for range 3 * perSourceHandshakes {
		if q.allow(now, a) {
			allowed++
		}
	}
	if allowed != perSourceHandshakes {
		t.Errorf("one source allowed %d in a window, want %d", allowed, perSourceHandshakes)
	}
	if !q.allow(now, b) {
		t.Error("another port of the same host was refused")
	}
	if !q.allow(now.Add(perSourceWindow), a) {
		t.Error("the limit outlived its window")
	}
	// A table full of other sources stops limiting new ones rather than
	// growing.
	for i := range maxTrackedSources {
		q.allow(now.Add(perSourceWindow), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1))
	}
	if len(q.perSource) > maxTrackedSources {
		t.Errorf("per-source table grew to %d", len(q.perSource))
	}
	c := netip.MustParseAddrPort("198.51.100.1:1")
	for range 2 * perSourceHandshakes {
		if !q.allow(now.Add(perSourceWindow), c) {
			t.Fatal("an untracked source was limited")
		}
	}
}

func TestHandshakeQueueSheds(t *testing.T) {
	q := newHandshakeQueue(nil) // no loop runs: the queue fills
	req := make([]byte, wire.MinPaddedLen)
	req[0] = byte(wire.MsgChallengeRequest)
	from := netip.MustParseAddrPort("192.0.2.1:1000")
	for range handshakeQueueLen + 10 {
		q.offer(time.Unix(1000, 0), from, req)
	}
	q.offer(time.Unix(1000, 0), from, []byte{0x80, 1, 2, 3, 4, 5}) // refused early
	if len(q.jobs) != handshakeQueueLen || q.dropped.Load() != 11 {
		t.Errorf("%d queued, %d dropped; want %d and 11", len(q.jobs), q.dropped.Load(), handshakeQueueLen)
	}
}
