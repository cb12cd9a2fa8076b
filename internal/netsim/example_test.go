package netsim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// A link with 5 ms of lag on the in-memory network. Inside a
// testing/synctest bubble the same code takes no real time and the
// measured delay is exactly 5 ms.
func ExampleNetwork() {
	n := netsim.NewNetwork(netsim.WithFaults(netsim.Faults{Lag: 5 * time.Millisecond}))
	a, _ := n.Listen(netip.MustParseAddrPort("10.0.0.1:1"))
	b, _ := n.Listen(netip.MustParseAddrPort("10.0.0.2:2"))
	defer a.Close()
	defer b.Close()

	start := time.Now()
	a.WriteBatch([]endpoint.Packet{{Buf: []byte("hello"), Addr: b.LocalAddr()}})
	in := []endpoint.Packet{{Buf: make([]byte, 1500)}}
	b.ReadBatch(in)
	fmt.Printf("%s from %v, delayed: %v\n", in[0].Buf, in[0].Addr, time.Since(start) >= 5*time.Millisecond)
	fmt.Printf("%+v\n", n.LinkStats(a.LocalAddr(), b.LocalAddr()))
	// Output:
	// hello from 10.0.0.1:1, delayed: true
	// {Packets:1 Lost:0 RateLimited:0 Delayed:1 Jittered:0 Reordered:0 Duplicated:0 QueueFull:0 Truncated:0 Undeliverable:0}
}
