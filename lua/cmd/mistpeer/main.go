// Command mistpeer is a Go peer built on mist for the Lua module's interop
// tests: "server" echoes every message back prefixed with "echo:" until its
// first client disconnects; "client" connects, sends one message and checks
// the echo; "signal" runs a trivial signaling server for the P2P tests
// (where the mist command has no signal subcommand) and prints its address.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/internal/p2p/trivial/trivialtest"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "client" && os.Args[1] != "signal") {
		fmt.Fprintln(os.Stderr, "usage: mistpeer server|client|signal -addr host:port [-timeout d]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:55700", "address to listen on or connect to")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Parse(os.Args[2:])
	if os.Args[1] == "signal" {
		srv, err := trivialtest.Start(*addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mistpeer:", err)
			os.Exit(1)
		}
		fmt.Printf("Listening at %s\n", srv.Addr())
		time.Sleep(*timeout)
		srv.Close()
		return
	}
	ap, ok := mist.ParseIPAddr(*addr)
	if !ok {
		fmt.Fprintln(os.Stderr, "mistpeer: bad address", *addr)
		os.Exit(2)
	}
	run := runClient
	if os.Args[1] == "server" {
		run = runServer
	}
	if err := run(ap.String(), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mistpeer:", err)
		os.Exit(1)
	}
}

// peer is a Sockets instance plus the state changes seen so far.
type peer struct {
	s       *mist.Sockets
	changes []*mist.ConnStatusChanged
}

func newPeer() (*peer, error) {
	p := &peer{}
	s, err := mist.New(mist.Config{OnConnectionStatusChanged: func(ev *mist.ConnStatusChanged) {
		p.changes = append(p.changes, ev)
	}})
	p.s = s
	return p, err
}

// poll runs callbacks and returns the changes delivered by this call.
func (p *peer) poll() []*mist.ConnStatusChanged {
	p.s.RunCallbacks()
	ch := p.changes
	p.changes = nil
	return ch
}

func (p *peer) receive(c mist.Conn) []string {
	var buf [32]*mist.Message
	n := p.s.ReceiveMessagesOnConnection(c, buf[:])
	var out []string
	for _, m := range buf[:max(n, 0)] {
		out = append(out, string(m.Data))
		m.Release()
	}
	return out
}

func runServer(addr string, timeout time.Duration) error {
	p, err := newPeer()
	if err != nil {
		return err
	}
	defer p.s.Close()
	ap, _ := mist.ParseIPAddr(addr)
	if p.s.CreateListenSocketIP(ap) == mist.InvalidListenSocket {
		return fmt.Errorf("cannot listen on %s", addr)
	}
	fmt.Println("listening on", addr)
	deadline := time.Now().Add(timeout)
	conns := map[mist.Conn]bool{}
	echoed := 0
	for time.Now().Before(deadline) {
		for _, ev := range p.poll() {
			fmt.Printf("connection %d: %v -> %v\n", ev.Conn, ev.OldState, ev.Info.State)
			switch ev.Info.State {
			case mist.StateConnecting:
				if r := p.s.AcceptConnection(ev.Conn); r != mist.ResultOK {
					return fmt.Errorf("accept: %v", r)
				}
			case mist.StateConnected:
				conns[ev.Conn] = true
			case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
				for _, m := range p.receive(ev.Conn) {
					fmt.Printf("late message %q\n", m)
				}
				p.s.CloseConnection(ev.Conn, 0, "", false)
				if echoed == 0 {
					return fmt.Errorf("client left (%v, reason %d) before sending anything", ev.Info.State, ev.Info.EndReason)
				}
				fmt.Println("done: echoed", echoed)
				return nil
			}
		}
		for c := range conns {
			for _, m := range p.receive(c) {
				fmt.Printf("received %q\n", m)
				if _, r := p.s.SendMessageToConnection(c, []byte("echo:"+m), mist.SendReliable); r != mist.ResultOK {
					return fmt.Errorf("send: %v", r)
				}
				echoed++
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("timed out after %v (echoed %d)", timeout, echoed)
}

func runClient(addr string, timeout time.Duration) error {
	p, err := newPeer()
	if err != nil {
		return err
	}
	defer p.s.Close()
	ap, _ := mist.ParseIPAddr(addr)
	c := p.s.ConnectByIPAddress(ap)
	if c == mist.InvalidConn {
		return fmt.Errorf("cannot connect to %s", addr)
	}
	const hello = "hello from go"
	deadline := time.Now().Add(timeout)
	sent := false
	for time.Now().Before(deadline) {
		for _, ev := range p.poll() {
			fmt.Printf("connection %d: %v -> %v\n", ev.Conn, ev.OldState, ev.Info.State)
			switch ev.Info.State {
			case mist.StateConnected:
				if _, r := p.s.SendMessageToConnection(c, []byte(hello), mist.SendReliable); r != mist.ResultOK {
					return fmt.Errorf("send: %v", r)
				}
				sent = true
			case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
				return fmt.Errorf("connection ended: %v reason %d %q", ev.Info.State, ev.Info.EndReason, ev.Info.EndDebug)
			}
		}
		if sent {
			for _, m := range p.receive(c) {
				fmt.Printf("received %q\n", m)
				if m != "echo:"+hello {
					return fmt.Errorf("unexpected reply %q", m)
				}
				p.s.CloseConnection(c, 0, "", true)
				fmt.Println("done")
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("timed out after %v", timeout)
}
