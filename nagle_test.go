package mist

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/engine"
	"github.com/mistnet/mist/internal/netsim"
)

// Nagle holds small messages for NagleTime and sends them together; once
// they fill engine.NagleBatch packets those go at once.
func TestNagleHoldsThenSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := netsim.NewNetwork(netsim.WithFaults(netsim.Faults{Lag: time.Millisecond}))
		opts := append([]ConfigValue{Int32Value(OptNagleTime, 5000)}, fastOpts...)
		p := newUDPPairWith(t, opts, opts, netSeams{
			listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return net.Listen(a) },
			dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
				return net.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
			},
		}, netip.MustParseAddr("10.0.0.1"))
		defer p.client.Close()
		defer p.server.Close()
		buf := make([]*Message, 64)
		receive := func() int {
			n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
			for _, m := range buf[:max(n, 0)] {
				m.Release()
			}
			return n
		}
		synctest.Wait()
		receive()

		for range 3 {
			p.client.SendMessageToConnection(p.cconn, make([]byte, 10), SendUnreliable)
		}
		time.Sleep(4 * time.Millisecond)
		synctest.Wait()
		if n := receive(); n != 0 {
			t.Fatalf("%d messages arrived before the Nagle delay ended", n)
		}
		time.Sleep(3 * time.Millisecond) // 5 ms Nagle + 1 ms lag, and then some
		synctest.Wait()
		if n := receive(); n != 3 {
			t.Fatalf("%d of 3 messages arrived after the Nagle delay", n)
		}

		// 12 messages per packet: enough messages for engine.NagleBatch packets
		// and a half go before the Nagle delay, all but the half packet.
		total := 12*engine.NagleBatch + 6
		for range total {
			p.client.SendMessageToConnection(p.cconn, make([]byte, 100), SendUnreliable)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		early := 0
		for n := receive(); n > 0; n = receive() {
			early += n
		}
		if early == 0 || early == total {
			t.Fatalf("%d of %d messages arrived within 2 ms: want the full packets only", early, total)
		}
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		if n := receive(); early+n != total {
			t.Fatalf("%d + %d of %d messages arrived", early, n, total)
		}
	})
}
