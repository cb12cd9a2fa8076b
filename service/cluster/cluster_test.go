package cluster

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mistnet/mist/service/signaling"
)

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// startNode runs a signaling server joined to NATS at url.
func startNode(t *testing.T, url, name string) (*signaling.Server, string) {
	t.Helper()
	var link *Link
	router := &routerRef{}
	srv := signaling.New(signaling.Config{Router: router, MaxConnsPerIP: -1, Logger: slog.New(slog.DiscardHandler)})
	link, err := Join(Config{URL: url, Node: name, Logger: slog.New(slog.DiscardHandler)}, srv)
	if err != nil {
		t.Fatal(err)
	}
	router.Link = link
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); link.Close() })
	return srv, ln.Addr().String()
}

// routerRef lets the server exist before its link.
type routerRef struct{ *Link }

type peer struct {
	nc net.Conn
	r  *bufio.Reader
}

func connect(t *testing.T, addr, id string) *peer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	io.WriteString(nc, id+"\n")
	return &peer{nc: nc, r: bufio.NewReader(nc)}
}

// signalUntil sends line from p until to receives want: delivery is best
// effort while subscriptions propagate, as it is for GNS peers, which
// retry.
func signalUntil(t *testing.T, from *peer, line string, to *peer, want string) {
	t.Helper()
	for range 100 {
		io.WriteString(from.nc, line)
		to.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		got, err := to.r.ReadString('\n')
		if err == nil {
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			// Drain retries that were already in flight.
			for {
				to.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := to.r.ReadString('\n'); err != nil {
					return
				}
			}
		}
	}
	t.Fatalf("%q never arrived", want)
}

func waitPeers(t *testing.T, s *signaling.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Stats().RegisteredPeers != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d registered, want %d", s.Stats().RegisteredPeers, n)
		}
	}
}

func TestSignalsCrossNodes(t *testing.T) {
	ns := startNATS(t)
	a, addrA := startNode(t, ns.ClientURL(), "node-a")
	b, addrB := startNode(t, ns.ClientURL(), "node-b")
	alice := connect(t, addrA, "str:alice")
	bob := connect(t, addrB, "str:bob")
	waitPeers(t, a, 1)
	waitPeers(t, b, 1)

	signalUntil(t, alice, "str:bob 0d44\n", bob, "str:alice 0d44\n")
	signalUntil(t, bob, "str:alice beef\n", alice, "str:bob beef\n")

	// bob logs in again on node A: node B closes its older connection,
	// and signals reach the new one.
	time.Sleep(10 * time.Millisecond)
	bob2 := connect(t, addrA, "str:bob")
	bob.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(bob.r); err != nil {
		t.Fatalf("bob's old connection on node B: %v", err)
	}
	waitPeers(t, b, 0)
	carol := connect(t, addrB, "str:carol")
	signalUntil(t, carol, "str:bob 01\n", bob2, "str:carol 01\n")
	if st := b.Stats(); st.Replaced != 1 {
		t.Fatalf("node B replaced %d registrations, want 1", st.Replaced)
	}
	// Signals for nobody are dropped without harm.
	io.WriteString(carol.nc, "str:nobody 00\n")
	signalUntil(t, alice, "str:carol 02\n", carol, "str:alice 02\n")
}

func TestJoinFailsNamingTheURL(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	url := "nats://" + ln.Addr().String()
	ln.Close()
	srv := signaling.New(signaling.Config{Logger: slog.New(slog.DiscardHandler)})
	_, err := Join(Config{URL: url, Logger: slog.New(slog.DiscardHandler)}, srv)
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("Join to a closed port: %v", err)
	}
}

func FuzzDecodeClaim(f *testing.F) {
	f.Add(encodeClaim("node-a", "str:alice", time.Unix(1, 2)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		node, id, at, err := decodeClaim(b)
		if err != nil {
			return
		}
		if len(node) > 255 {
			return
		}
		again := encodeClaim(node, id, at)
		n2, id2, at2, err := decodeClaim(again)
		if err != nil || n2 != node || id2 != id || !at2.Equal(at) {
			t.Fatalf("round trip: %v", errors.Join(err))
		}
	})
}
