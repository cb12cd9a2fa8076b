package mist

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mistnet/mist/service/cluster"
	"github.com/mistnet/mist/service/signaling"
)

// signalingNode is one signaling server of a cluster joined over NATS.
type signalingNode struct {
	srv  *signaling.Server
	link *cluster.Link
	addr string
}

func (n *signalingNode) stop() {
	n.srv.Close()
	n.link.Close()
}

// clusterRouter lets the server exist before its link.
type clusterRouter struct{ *cluster.Link }

func startSignalingNode(t *testing.T, natsURL, name string) *signalingNode {
	t.Helper()
	router := &clusterRouter{}
	srv := signaling.New(signaling.Config{Router: router, MaxConnsPerIP: -1, Logger: slog.New(slog.DiscardHandler)})
	link, err := cluster.Join(cluster.Config{URL: natsURL, Node: name, Logger: slog.New(slog.DiscardHandler)}, srv)
	if err != nil {
		t.Fatal(err)
	}
	router.Link = link
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	n := &signalingNode{srv: srv, link: link, addr: ln.Addr().String()}
	t.Cleanup(n.stop)
	return n
}

// TestP2PSignalingFailover: two instances connect through node 1 of a
// two-node signaling cluster; node 1 stops. The established connection
// keeps carrying messages (its data path needs no signaling), both
// instances register at node 2, and a new connection is made through it.
func TestP2PSignalingFailover(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(ns.Shutdown)
	node1 := startSignalingNode(t, ns.ClientURL(), "node1")
	node2 := startSignalingNode(t, ns.ClientURL(), "node2")

	cfg := Config{SignalingServer: node1.addr + "," + node2.addr}
	p := &p2pPeers{lis: newP2PSockets(t, "alice", cfg), con: newP2PSockets(t, "bob", cfg)}
	ls, err := p.lis.CreateListenSocketP2P(0)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	registeredAt := func(addr string) func() bool {
		return func() bool { return p.lis.p2p.trivial.Server() == addr && p.con.p2p.trivial.Server() == addr }
	}
	waitFor(t, "registration at node 1", registeredAt(node1.addr))
	alice, _ := p.lis.Identity()
	p.cconn, err = p.con.ConnectP2P(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)

	start := time.Now()
	node1.stop()
	waitFor(t, "registration at node 2", registeredAt(node2.addr), p.lis, p.con)
	t.Logf("both registered at node 2 %v after node 1 stopped", time.Since(start))
	waitFor(t, "node 2 knows both", func() bool { return node2.srv.Stats().RegisteredPeers == 2 })
	oldCon, oldLis := p.cconn, p.lconn
	exchange(t, p.con, oldCon, p.lis, oldLis, 20)

	before := node2.srv.Stats().SignalsForwarded
	p.lconn = 0
	p.cconn, err = p.con.ConnectP2P(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	if p.cconn == oldCon || p.lconn == oldLis {
		t.Fatalf("no new connection: handles %v %v, old %v %v", p.cconn, p.lconn, oldCon, oldLis)
	}
	if n := node2.srv.Stats().SignalsForwarded - before; n == 0 {
		t.Fatal("node 2 forwarded no signal for the new connection")
	} else {
		t.Logf("node 2 forwarded %d signals for the new connection", n)
	}
	exchange(t, p.con, p.cconn, p.lis, p.lconn, 20)
	// The first connection is still up alongside the new one.
	exchange(t, p.con, oldCon, p.lis, oldLis, 5)
	if st := p.state(p.con, oldCon); st != StateConnected {
		t.Fatalf("old connection in state %v", st)
	}
}
