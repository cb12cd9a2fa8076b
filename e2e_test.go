package mist

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

var transferSizes = []int{1, 10, 100, 1000, 1300, 5000, 20000, 100_000, MaxMessageSize}

// transfer sends reliable messages of every size and a stream of unreliable
// ones, and checks: reliable exactly once, in order, intact; unreliable at
// most once and intact.
func transfer(t *testing.T, p *udpPair) {
	t.Helper()
	const unreliableCount = 200
	for i, n := range transferSizes {
		if _, r := p.client.SendMessageToConnection(p.cconn, pattern(i, max(n, 4)), SendReliable); r != ResultOK {
			t.Fatalf("reliable send %d: %v", i, r)
		}
	}
	for i := range unreliableCount {
		if _, r := p.client.SendMessageToConnection(p.cconn, pattern(1000+i, 200), SendUnreliable); r != ResultOK {
			t.Fatalf("unreliable send %d: %v", i, r)
		}
	}
	// A final reliable marker tells the reader everything was sent.
	p.client.SendMessageToConnection(p.cconn, pattern(999, 8), SendReliable)
	nextReliable := 0
	seenUnreliable := map[int]bool{}
	buf := make([]*Message, 32)
	done := false
	waitFor(t, "transfer", func() bool {
		n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
		for _, m := range buf[:max(n, 0)] {
			idx, ok := checkPattern(m.Data)
			switch {
			case !ok:
				t.Errorf("corrupt message (%d bytes, idx %d)", len(m.Data), idx)
			case m.Flags&SendReliable != 0 && idx == 999:
				if nextReliable != len(transferSizes) {
					t.Errorf("marker after %d reliable messages", nextReliable)
				}
				done = true
			case m.Flags&SendReliable != 0:
				if idx != nextReliable || len(m.Data) != max(transferSizes[idx], 4) {
					t.Errorf("reliable message %d (%d bytes), want %d", idx, len(m.Data), nextReliable)
				}
				nextReliable = idx + 1
			default:
				if seenUnreliable[idx] || idx < 1000 || idx >= 1000+unreliableCount {
					t.Errorf("unreliable message %d twice or unknown", idx)
				}
				seenUnreliable[idx] = true
			}
			m.Release()
		}
		return done
	}, p.server, p.client)
	t.Logf("unreliable delivered: %d/%d", len(seenUnreliable), unreliableCount)
}

var faultCases = []struct {
	name string
	f    netsim.Faults
}{
	{"clean", netsim.Faults{}},
	{"loss", netsim.Faults{LossPct: 10}},
	{"dup", netsim.Faults{DupPct: 10, DupTimeMax: 10 * time.Millisecond}},
	{"reorder", netsim.Faults{ReorderPct: 10, ReorderTime: 15 * time.Millisecond}},
	{"jitter", netsim.Faults{JitterAvg: 2 * time.Millisecond, JitterMax: 20 * time.Millisecond, JitterPct: 50}},
	{"all", netsim.Faults{LossPct: 5, DupPct: 5, DupTimeMax: 10 * time.Millisecond, ReorderPct: 5, ReorderTime: 10 * time.Millisecond, Lag: 5 * time.Millisecond}},
}

func TestTransferUDPWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			p := newUDPPairWith(t, fastOpts, fastOpts, withFaultyUDP(tc.f, 7), netip.MustParseAddr("127.0.0.1"))
			transfer(t, p)
		})
	}
}

func TestTransferInMemorySynctest(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := netsim.NewNetwork(netsim.WithFaults(tc.f), netsim.WithSeed(11))
				listen := func(a netip.AddrPort) (endpoint.PacketConn, error) { return net.Listen(a) }
				dial := func(netip.AddrPort) (endpoint.PacketConn, error) {
					return net.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
				}
				p := newUDPPairWith(t, fastOpts, fastOpts, netSeams{listen: listen, dial: dial}, netip.MustParseAddr("10.0.0.1"))
				transfer(t, p)
				p.client.Close()
				p.server.Close()
			})
		})
	}
}
