package mist

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
)

// stalledReads is a UDP socket whose blocking reads never return: only a
// non-blocking read gets its datagrams.
type stalledReads struct {
	*endpoint.UDPConn
	closed chan struct{}
}

func (s *stalledReads) ReadBatch([]endpoint.Packet) (int, error) {
	<-s.closed
	return 0, net.ErrClosed
}

func (s *stalledReads) Close() error {
	close(s.closed)
	return s.UDPConn.Close()
}

// stalledClient returns a client instance whose connections' receive loops
// never get a datagram.
func stalledClient(t *testing.T) *Sockets {
	client, err := newSockets(Config{}, netSeams{dial: func(remote netip.AddrPort) (endpoint.PacketConn, error) {
		pc, err := endpoint.Dial(remote, nil)
		if err != nil {
			return nil, err
		}
		return &stalledReads{UDPConn: pc, closed: make(chan struct{})}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// A caller that polls at a game loop's pace does not read the socket
// itself: that is the receive loop's job, and a system call per empty poll
// would cost a server polling many connections dearly.
func TestPacedPollLeavesTheSocketAlone(t *testing.T) {
	server, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client := stalledClient(t)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	if server.CreateListenSocketIP(addr) == InvalidListenSocket {
		t.Fatal("CreateListenSocketIP failed")
	}
	c := client.ConnectByIPAddress(addr)
	in := make([]*Message, 1)
	for range 100 {
		client.ReceiveMessagesOnConnection(c, in)
		time.Sleep(2 * busyPollWindow)
	}
	if info, _ := client.ConnectionInfo(c); info.State != StateConnecting {
		t.Fatalf("state %v: the handshake reply was read by a paced poll", info.State)
	}
}

// A receiver that busy-polls reads the socket itself: with the receive
// loop stalled, the handshake and an echo still complete through
// ReceiveMessagesOnConnection alone.
func TestBusyPollReadsTheSocket(t *testing.T) {
	server, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client := stalledClient(t)
	var sconn Conn
	server.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		if ev.Info.State == StateConnecting {
			server.AcceptConnection(ev.Conn)
			sconn = ev.Conn
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	if server.CreateListenSocketIP(addr) == InvalidListenSocket {
		t.Fatal("CreateListenSocketIP failed")
	}
	c := client.ConnectByIPAddress(addr)
	if c == InvalidConn {
		t.Fatal("ConnectByIPAddress failed")
	}
	in := make([]*Message, 1)
	spin := func(what string, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !done() {
			server.RunCallbacks()
			if time.Now().After(deadline) {
				t.Fatalf("busy-polling: no %s", what)
			}
		}
	}
	spin("connection", func() bool {
		client.ReceiveMessagesOnConnection(c, in)
		info, _ := client.ConnectionInfo(c)
		return info.State == StateConnected
	})
	if _, r := client.SendMessageToConnection(c, []byte("ping"), SendReliableNoNagle); r != ResultOK {
		t.Fatal(r)
	}
	spin("message at the server", func() bool {
		n := server.ReceiveMessagesOnConnection(sconn, in)
		if n == 1 {
			server.SendMessageToConnection(sconn, in[0].Data, SendReliableNoNagle)
			in[0].Release()
		}
		return n == 1
	})
	spin("echo", func() bool {
		if client.ReceiveMessagesOnConnection(c, in) != 1 {
			return false
		}
		defer in[0].Release()
		if string(in[0].Data) != "ping" {
			t.Fatalf("echo %q", in[0].Data)
		}
		return true
	})
}
