package mist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// harshFaults is the network of the lossy transfer tests: 20% loss, 10%
// duplication, 10% reordering and up to 50 ms of jitter, on every datagram
// in both directions.
var harshFaults = netsim.Faults{
	LossPct:    20,
	DupPct:     10,
	DupTimeMax: 20 * time.Millisecond,
	ReorderPct: 10, ReorderTime: 30 * time.Millisecond,
	JitterAvg: 20 * time.Millisecond, JitterMax: 50 * time.Millisecond, JitterPct: 100,
}

// lossyPlan is a deterministic list of reliable message sizes drawn
// log-uniformly from 1 B to 512 KB.
func lossyPlan(n int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = min(MaxMessageSize, int(math.Exp(rng.Float64()*math.Log(MaxMessageSize+1))))
	}
	return sizes
}

// lossyPayload is message i's content; the receiver regenerates it to check
// what arrived byte for byte.
func lossyPayload(i, size int) []byte {
	b := make([]byte, size)
	x := uint32(i)*2654435761 + 1
	for k := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[k] = byte(x)
	}
	return b
}

// lossyTransfer sends every reliable message of sizes, interleaved with
// unreliable ones (every third message), from client to server, and checks
// that reliable messages arrive exactly once, in order and intact, and
// unreliable ones at most once and intact. sleep advances time between
// polls: real time on sockets, fake time inside a synctest bubble.
func lossyTransfer(t *testing.T, p *udpPair, sizes []int) {
	t.Helper()
	const unreliableSize = 3000 // two fragments: a lost fragment loses the message
	var (
		sent, nextReliable int
		unreliableSent     int
		seenUnreliable     = map[uint32]bool{}
		buf                = make([]*Message, 64)
		pendingUnreliable  = false
		next               []byte // payload of reliable message sent, once made
	)
	budget := time.Now().Add(time.Duration(max(len(sizes), 120)) * 500 * time.Millisecond)
	for nextReliable < len(sizes) {
		// Queue as much as the send buffer takes.
		for sent < len(sizes) {
			if pendingUnreliable {
				u := lossyPayload(1<<30+unreliableSent, unreliableSize)
				binary.LittleEndian.PutUint32(u, uint32(unreliableSent))
				if _, r := p.client.SendMessageToConnection(p.cconn, u, SendUnreliable); r == ResultLimitExceeded {
					break
				} else if r != ResultOK {
					t.Fatalf("unreliable send %d: %v", unreliableSent, r)
				}
				unreliableSent++
				pendingUnreliable = false
			}
			// A full send buffer refuses the same message many times:
			// make its payload once.
			if next == nil {
				next = lossyPayload(sent, sizes[sent])
			}
			_, r := p.client.SendMessageToConnection(p.cconn, next, SendReliable)
			if r == ResultLimitExceeded {
				break
			}
			if r != ResultOK {
				t.Fatalf("reliable send %d (%d bytes): %v", sent, sizes[sent], r)
			}
			sent++
			next = nil
			pendingUnreliable = sent%3 == 0
		}
		n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
		if n < 0 {
			t.Fatalf("receive on server connection: %d", n)
		}
		for _, m := range buf[:n] {
			if m.Flags&SendReliable == 0 {
				if len(m.Data) != unreliableSize {
					t.Fatalf("unreliable message of %d bytes, want %d", len(m.Data), unreliableSize)
				}
				idx := binary.LittleEndian.Uint32(m.Data)
				want := lossyPayload(1<<30+int(idx), unreliableSize)
				binary.LittleEndian.PutUint32(want, idx)
				if seenUnreliable[idx] || int(idx) >= unreliableSent || !bytes.Equal(m.Data, want) {
					t.Fatalf("unreliable message %d duplicated, unknown or corrupt", idx)
				}
				seenUnreliable[idx] = true
			} else {
				if nextReliable >= len(sizes) || !bytes.Equal(m.Data, lossyPayload(nextReliable, sizes[nextReliable])) {
					t.Fatalf("reliable message of %d bytes is not message %d (lost, duplicated, reordered or corrupt)", len(m.Data), nextReliable)
				}
				nextReliable++
			}
			m.Release()
		}
		if n == 0 {
			p.server.RunCallbacks()
			p.client.RunCallbacks()
			if time.Now().After(budget) {
				st, _ := p.client.DetailedConnectionStatus(p.cconn)
				t.Fatalf("stalled: %d of %d reliable messages delivered, %d sent\n%s", nextReliable, len(sizes), sent, st)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if info, _ := p.client.ConnectionInfo(p.cconn); info.State != StateConnected {
		t.Fatalf("client connection ended: %v %v %s", info.State, info.EndReason, info.EndDebug)
	}
	// 20% loss cannot go without retransmissions, and the detailed status
	// says how many there were.
	detail, _ := p.client.DetailedConnectionStatus(p.cconn)
	var segs, resent int64
	i := strings.Index(detail, "Reliable retransmissions:")
	if i < 0 {
		t.Errorf("detailed status has no retransmission count:\n%s", detail)
	} else if _, err := fmt.Sscanf(detail[i:], "Reliable retransmissions: %d segments (%d bytes)", &segs, &resent); err != nil || segs == 0 || resent == 0 {
		t.Errorf("detailed status does not report the retransmissions (%v):\n%s", err, detail)
	}
	t.Logf("%d reliable messages (%d bytes) in order; %d of %d unreliable messages arrived, none twice or damaged",
		len(sizes), sum(sizes), len(seenUnreliable), unreliableSent)
}

// lossyOpts lift the send rate and buffers so that the transfer is bounded
// by the simulated network, not by GNS's 256 KB/s default.
var lossyOpts = []ConfigValue{
	Int32Value(OptSendRateMin, 64<<20),
	Int32Value(OptSendRateMax, 64<<20),
	Int32Value(OptSendBufferSize, 4<<20),
}

// TestLossyTransferSynctest runs the lossy transfer over the in-memory
// network in a synctest bubble: deterministic, and the simulated seconds
// cost no wall time.
func TestLossyTransferSynctest(t *testing.T) {
	n := 1000
	if *fullSoak {
		n = 10000
	}
	sizes := lossyPlan(n, 1)
	synctest.Test(t, func(t *testing.T) {
		net := netsim.NewNetwork(netsim.WithFaults(harshFaults), netsim.WithSeed(5))
		listen := func(a netip.AddrPort) (endpoint.PacketConn, error) { return net.Listen(a) }
		dial := func(netip.AddrPort) (endpoint.PacketConn, error) {
			return net.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		}
		p := newUDPPairWith(t, lossyOpts, lossyOpts, netSeams{listen: listen, dial: dial}, netip.MustParseAddr("10.0.0.1"))
		lossyTransfer(t, p, sizes)
		p.client.Close()
		p.server.Close()
	})
}

// TestLossyTransferUDP runs the same transfer over real loopback UDP with
// the faults injected around both sockets, in both directions.
func TestLossyTransferUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	n := 40
	if *fullSoak {
		n = 10000
	}
	sizes := lossyPlan(n, 2)
	p := newUDPPairWith(t, lossyOpts, lossyOpts, withFaultyUDP(harshFaults, 9), netip.MustParseAddr("127.0.0.1"))
	lossyTransfer(t, p, sizes)
}
