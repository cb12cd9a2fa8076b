package service

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/pion/turn/v5"

	"github.com/mistnet/mist/ca"
	"github.com/mistnet/mist/service/cluster"
	"github.com/mistnet/mist/service/signaling"
)

func loopback() netip.Addr { return netip.MustParseAddr("127.0.0.1") }

// proven registers id on the node with a fresh certificate.
func proven(t *testing.T, addr string, authority *ca.Authority, id string) (net.Conn, *bufio.Reader, *signaling.Registration) {
	t.Helper()
	cred, err := authority.Issue(id, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	reg, err := signaling.Register(nc, r, id, cred)
	if err != nil {
		t.Fatal(err)
	}
	return nc, r, reg
}

// TestNodeSignalsAndRelaysForProvenPeers: two peers prove their
// identities, signal each other, and relay through TURN with the
// short-lived credentials the signaling server handed them.
func TestNodeSignalsAndRelaysForProvenPeers(t *testing.T) {
	authority, _ := ca.New()
	n, err := Start(Config{Addr: loopback(), Trust: ca.NewTrust(authority.PublicKey()),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ac, _, areg := proven(t, n.SignalAddr().String(), authority, "str:alice")
	_, br, breg := proven(t, n.SignalAddr().String(), authority, "str:bob")
	if areg.TURNUser == "" || breg.TURNUser == "" {
		t.Fatal("no TURN credentials handed out")
	}
	for n.Stats().Signaling.RegisteredPeers != 2 {
		time.Sleep(time.Millisecond)
	}
	ac.Write([]byte("str:bob cafe\n"))
	if line, err := br.ReadString('\n'); err != nil || line != "str:alice cafe\n" {
		t.Fatalf("bob got %q %v", line, err)
	}

	// A plain (GNS-style) registration is refused.
	plain, _ := net.Dial("tcp", n.SignalAddr().String())
	defer plain.Close()
	plain.Write([]byte("str:carol\n"))
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(plain).ReadString('\n'); !bytes.HasPrefix([]byte(line), []byte("!mist-refused:")) {
		t.Fatalf("plain registration answered %q", line)
	}

	relayed := func(reg *signaling.Registration) net.PacketConn {
		pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
		t.Cleanup(func() { pc.Close() })
		c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: n.STUNAddr().String(), STUNServerAddr: n.STUNAddr().String(),
			Username: reg.TURNUser, Password: reg.TURNPass, Realm: "mist", Conn: pc})
		if err != nil {
			t.Fatal(err)
		}
		c.Listen()
		t.Cleanup(c.Close)
		conn, err := c.Allocate()
		if err != nil {
			t.Fatalf("allocate with handed-out credentials: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	ra, rb := relayed(areg), relayed(breg)
	rb.WriteTo([]byte("x"), ra.LocalAddr())
	buf := make([]byte, 100)
	for i := 0; ; i++ {
		ra.WriteTo([]byte("through the relay"), rb.LocalAddr())
		rb.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if k, _, err := rb.ReadFrom(buf); err == nil {
			if string(buf[:k]) != "through the relay" {
				t.Fatalf("relayed %q", buf[:k])
			}
			break
		}
		if i == 50 {
			t.Fatal("nothing relayed")
		}
	}
	st := n.Stats()
	if st.Relay.Allocations != 2 || st.Relay.RelayedBytes == 0 || st.Signaling.SignalsForwarded != 1 || st.Signaling.AuthRefused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNodeWithoutTURNCredentialsFails(t *testing.T) {
	if _, err := Start(Config{Addr: loopback(), Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("a TURN server without credentials started")
	}
	n, err := Start(Config{Addr: loopback(), NoTURN: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
}

// TestTwoNodesOverNATS: a peer on node A signals a peer on node B, both
// proven, through an embedded NATS server.
func TestTwoNodesOverNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	defer ns.Shutdown()
	authority, _ := ca.New()
	trust := ca.NewTrust(authority.PublicKey())
	secret := []byte("shared relay secret")
	start := func(name string) *Node {
		n, err := Start(Config{Addr: loopback(), Trust: trust, TURNSecret: secret, Logger: slog.New(slog.DiscardHandler),
			Cluster: func(srv *signaling.Server, log *slog.Logger) (Cluster, error) {
				return cluster.Join(cluster.Config{URL: ns.ClientURL(), Node: name, Logger: log}, srv)
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a, b := start("a"), start("b")
	if st := a.Stats(); !st.Clustered || !st.ClusterConnected {
		t.Fatalf("a clustered node reports clustered %v, connected %v", st.Clustered, st.ClusterConnected)
	}
	ac, _, areg := proven(t, a.SignalAddr().String(), authority, "str:alice")
	bc, br, _ := proven(t, b.SignalAddr().String(), authority, "str:bob")
	var got string
	// Signals are best effort while node B's subscription propagates.
	for i := 0; got == "" && i < 100; i++ {
		ac.Write([]byte("str:bob 5151\n"))
		bc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		got, _ = br.ReadString('\n')
	}
	if got != "str:alice 5151\n" {
		t.Fatalf("bob on node B got %q", got)
	}
	// Credentials handed out by node A work on node B's relay.
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer pc.Close()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: b.STUNAddr().String(), STUNServerAddr: b.STUNAddr().String(),
		Username: areg.TURNUser, Password: areg.TURNPass, Realm: "mist", Conn: pc})
	if err != nil {
		t.Fatal(err)
	}
	c.Listen()
	defer c.Close()
	conn, err := c.Allocate()
	if err != nil {
		t.Fatalf("node A's credential on node B's relay: %v", err)
	}
	conn.Close()
}
