package mist

import (
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// TestIdleConnectionCost holds 1,000 idle connections on one listen socket
// (over the in-memory network), lets them exchange a few messages and then
// sit idle through several keepalive rounds, and measures the heap both
// ends hold per connection (the in-memory network's per-link state
// included) and the goroutines: one per client socket, none per server
// connection.
func TestIdleConnectionCost(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	holdIdleConnections(t, 1000)
}

// TestManyUDPConnections takes one listen socket past GNS's 8,191
// connections.
func TestManyUDPConnections(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow")
	}
	holdIdleConnections(t, 9000)
}

func holdIdleConnections(t *testing.T, n int) {
	synctest.Test(t, func(t *testing.T) {
		network := netsim.NewNetwork(netsim.WithSeed(3))
		serverAddr := netip.MustParseAddrPort("10.0.0.1:27015")
		server, err := newSockets(Config{}, netSeams{listen: func(a netip.AddrPort) (endpoint.PacketConn, error) { return network.Listen(a) }})
		if err != nil {
			t.Fatal(err)
		}
		var accepted []Conn
		server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
			if ev.Info.State == StateConnecting {
				server.AcceptConnection(ev.Conn)
				accepted = append(accepted, ev.Conn)
			}
		})
		next := 0
		client, err := newSockets(Config{}, netSeams{dial: func(netip.AddrPort) (endpoint.PacketConn, error) {
			next++
			return network.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(1 + next>>16), byte(next >> 8), byte(next)}), 4000))
		}})
		if err != nil {
			t.Fatal(err)
		}
		if server.CreateListenSocketIP(serverAddr) == 0 {
			t.Fatal("listen failed")
		}
		before := heapInUse()
		goroutinesBefore := runtime.NumGoroutine()
		conns := make([]Conn, n)
		for i := range conns {
			if conns[i] = client.ConnectByIPAddress(serverAddr); conns[i] == 0 {
				t.Fatalf("connect %d failed", i)
			}
		}
		for range 100 + n/10 {
			server.RunCallbacks()
			time.Sleep(10 * time.Millisecond)
		}
		for i, h := range conns {
			if info, _ := client.ConnectionInfo(h); info.State != StateConnected {
				t.Fatalf("connection %d is %v", i, info.State)
			}
			client.SendMessageToConnection(h, []byte("hello"), SendReliable)
		}
		// Idle through several keepalive rounds, so that whatever is held
		// is what an idle connection keeps.
		for range 30 {
			server.RunCallbacks()
			client.RunCallbacks()
			time.Sleep(time.Second)
		}
		got := 0
		buf := make([]*Message, 4)
		for _, h := range accepted {
			m := server.ReceiveMessagesOnConnection(h, buf)
			for _, msg := range buf[:max(m, 0)] {
				got++
				msg.Release()
			}
		}
		if got != n {
			t.Fatalf("server received %d messages, want %d", got, n)
		}
		perPair := float64(heapInUse()-before) / float64(n)
		extraGoroutines := runtime.NumGoroutine() - goroutinesBefore
		t.Logf("%d idle connections: %.0f heap bytes per connection pair (client and server end), %d goroutines",
			n, perPair, extraGoroutines)
		if !raceEnabled && perPair > 48<<10 {
			t.Errorf("%.0f heap bytes per idle connection pair, want at most %d", perPair, 48<<10)
		}
		if extraGoroutines > n+10 {
			t.Errorf("%d goroutines for %d connections, want one per client socket", extraGoroutines, n)
		}
		client.Close()
		server.Close()
	})
}
