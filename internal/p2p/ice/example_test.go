package ice_test

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/mistnet/mist/internal/p2p/ice"
)

// Two sessions on one machine, wired back to back as signalling would: the
// acceptor is controlling, candidates and passwords cross over, and each
// side reports the route it selects.
func Example() {
	loopback := func(a netip.Addr) bool { return a.IsLoopback() && a.Is4() }
	var sessions [2]*ice.Session
	var mu sync.Mutex
	var pending [2][]string // candidate lines for side i, held until it exists
	deliver := func(to int, line string) {
		mu.Lock()
		defer mu.Unlock()
		if sessions[to] == nil {
			pending[to] = append(pending[to], line)
			return
		}
		sessions[to].AddRemoteCandidate(line)
	}
	routes := make(chan string, 2)
	received := make(chan string, 1)
	for i, id := range []uint32{0x0a000001, 0x0b000002} {
		s, err := ice.NewSession(ice.Config{
			Controlling:       i == 0,
			LocalConnectionID: id,
			Loopback:          true,
			AddrFilter:        loopback,
			OnCandidate:       func(line string) { deliver(1-i, line) },
			OnRoute:           func(r ice.Route) { routes <- r.Kind.String() },
			OnReceive: func(b []byte) {
				select {
				case received <- string(b):
				default:
				}
			},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer s.Close()
		mu.Lock()
		sessions[i] = s
		for _, line := range pending[i] {
			s.AddRemoteCandidate(line)
		}
		mu.Unlock()
	}
	sessions[0].SetRemoteCredentials(0x0b000002, sessions[1].LocalPassword())
	sessions[1].SetRemoteCredentials(0x0a000001, sessions[0].LocalPassword())
	fmt.Println("route:", <-routes, <-routes)
	sessions[1].Send([]byte("\x80hello"))
	fmt.Printf("acceptor got %q\n", <-received)
	// Output:
	// route: local local
	// acceptor got "\x80hello"
}
