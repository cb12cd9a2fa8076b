package relay

import (
	"github.com/pion/stun/v4"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestRelayLoad measures relayed throughput between two pion clients and
// the memory one allocation costs. It runs only when asked:
//
//	MIST_RELAY_LOAD=1 go test ./service/relay -run TestRelayLoad -v
func TestRelayLoad(t *testing.T) {
	if os.Getenv("MIST_RELAY_LOAD") != "1" {
		t.Skip("set MIST_RELAY_LOAD=1 to run the relay load test")
	}
	s := startRelay(t, Config{Users: map[string]string{"u": "p"}, MaxAllocationsPerUser: -1})
	// Two GNS-style clients relay to each other: A's Send indications
	// reach B's allocation, which hands them to B as Data indications.
	a, _ := gnsAllocate(t, s, "u", "p")
	b, relayedB := gnsAllocate(t, s, "u", "p")
	for _, c := range []*gnsClient{a, b} {
		res := c.roundTrip(append([]stun.Setter{stun.NewType(methodCreatePermission, stun.ClassRequest),
			xorPeer(stun.XORMappedAddress{IP: net.IPv4(127, 0, 0, 1)})}, c.auth()...)...)
		if res.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("CreatePermission: %v", res.Type)
		}
		setBuffers(c.conn)
	}
	indication := sendIndication(&net.UDPAddr{IP: relayedB.IP, Port: relayedB.Port}, make([]byte, 1200))
	relayed := blast(a.conn, b.conn, s.Addr(), indication)
	// The same loop over plain loopback UDP, in the same run, as the
	// reference: this machine's figures are noisy.
	pa, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	pb, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	setBuffers(pa)
	setBuffers(pb)
	direct := blast(pa, pb, pb.LocalAddr(), make([]byte, 1200))
	pa.Close()
	pb.Close()
	t.Logf("1200-byte payloads delivered: relayed %.1f MB/s, direct UDP %.1f MB/s (relay/direct %.2f); server counted %d relayed bytes",
		relayed/1e6, direct/1e6, relayed/direct, s.Stats().RelayedBytes)

	// Memory per allocation: heap growth over many allocations.
	const n = 500
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		c, err := newClient(t, s, "u", "p").Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d allocations: %.1f KB of heap each, client side included; %d open on the server",
		n, float64(after.HeapInuse-before.HeapInuse)/n/1024, s.Stats().Allocations)
}

// blast sends packet from a to addr for 2 s and returns how many bytes per
// second of 1200-byte payload b received.
func blast(a, b net.PacketConn, addr net.Addr, packet []byte) float64 {
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				return
			}
			received.Add(int64(min(n, 1200)))
		}
	}()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		for range 64 {
			a.WriteTo(packet, addr)
		}
	}
	elapsed := time.Since(start)
	<-done
	return float64(received.Load()) / elapsed.Seconds()
}
