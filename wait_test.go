package mist

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
)

func TestReceiveWait(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	in := make([]*Message, 4)
	ctx := context.Background()

	// A queued message is returned at once.
	p.client.SendMessageToConnection(p.cconn, []byte("queued"), SendReliableNoNagle)
	receiveAllWait := func(h Conn, s *Sockets) string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := s.ReceiveMessagesOnConnectionWait(wctx, h, in)
		if err != nil || n != 1 {
			t.Fatalf("wait: %d, %v", n, err)
		}
		defer in[0].Release()
		return string(in[0].Data)
	}
	if got := receiveAllWait(p.sconn, p.server); got != "queued" {
		t.Fatalf("got %q", got)
	}

	// A message sent later wakes the waiter, past its spinning.
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.client.SendMessageToConnection(p.cconn, []byte("later"), SendReliableNoNagle)
	}()
	start := time.Now()
	if got := receiveAllWait(p.sconn, p.server); got != "later" {
		t.Fatalf("got %q", got)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("returned after %v, before the message was sent", d)
	}

	// Cancelling the context ends the wait with its error.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if n, err := p.server.ReceiveMessagesOnConnectionWait(cctx, p.sconn, in); n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %d, %v", n, err)
	}

	// Closing the connection wakes a waiter on it.
	done := make(chan int)
	go func() {
		n, _ := p.server.ReceiveMessagesOnConnectionWait(ctx, p.sconn, in)
		done <- n
	}()
	time.Sleep(5 * time.Millisecond)
	p.server.CloseConnection(p.sconn, 0, "", false)
	select {
	case n := <-done:
		if n != -1 {
			t.Fatalf("wait on a closed connection returned %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the connection did not wake its waiter")
	}

	// An invalid handle.
	if n, err := p.server.ReceiveMessagesOnConnectionWait(ctx, 12345, in); n != -1 || err != nil {
		t.Fatalf("invalid handle: %d, %v", n, err)
	}
	if n, err := p.server.ReceiveMessagesOnPollGroupWait(ctx, 12345, in); n != -1 || err != nil {
		t.Fatalf("invalid group: %d, %v", n, err)
	}
}

// Waiters on different connections of one instance share its ready
// signal; each still gets its own messages.
func TestReceiveWaitSharedSignal(t *testing.T) {
	p := newUDPPair(t, fastOpts, fastOpts)
	second := p.client.ConnectByIPAddress(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p.server.listens[p.ls].addr.Port()), fastOpts...)
	var secondServer Conn
	waitFor(t, "second connection", func() bool {
		for _, ev := range p.sEvents {
			if ev.Info.State == StateConnecting && ev.Conn != p.sconn {
				secondServer = ev.Conn
			}
		}
		info, _ := p.client.ConnectionInfo(second)
		return secondServer != InvalidConn && info.State == StateConnected
	}, p.server, p.client)

	const rounds = 50
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, h := range []Conn{p.cconn, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := make([]*Message, 1)
			for i := range rounds {
				n, err := p.client.ReceiveMessagesOnConnectionWait(ctx, h, in)
				if err != nil || n != 1 {
					errs <- errors.New("wait failed")
					return
				}
				if in[0].Conn != h || in[0].Data[0] != byte(i) {
					errs <- errors.New("wrong message")
				}
				in[0].Release()
			}
		}()
	}
	for i := range rounds {
		p.server.SendMessageToConnection(p.sconn, []byte{byte(i)}, SendReliableNoNagle)
		p.server.SendMessageToConnection(secondServer, []byte{byte(i)}, SendReliableNoNagle)
		time.Sleep(200 * time.Microsecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A receiver whose waits keep ending asleep stops spinning, and tries
// again now and then.
func TestSpinStateGivesUp(t *testing.T) {
	var s spinState
	for range spinMisses {
		if !s.worthIt() {
			t.Fatal("gave up before spinMisses misses")
		}
		s.misses.Add(1)
	}
	tries := 0
	for range 4 * spinRetry {
		if s.worthIt() {
			tries++
		}
	}
	if tries == 0 || tries > 4 {
		t.Fatalf("spun %d times in %d waits after giving up", tries, 4*spinRetry)
	}
	s.misses.Store(0)
	if !s.worthIt() {
		t.Fatal("a hit did not bring spinning back")
	}
}

// switchedReads is a UDP socket whose blocking reads stop returning once
// stalled is set (after the read in progress).
type switchedReads struct {
	*endpoint.UDPConn
	stalled atomic.Bool
	closed  chan struct{}
}

func (s *switchedReads) ReadBatch(ms []endpoint.Packet) (int, error) {
	if s.stalled.Load() {
		<-s.closed
		return 0, net.ErrClosed
	}
	return s.UDPConn.ReadBatch(ms)
}

func (s *switchedReads) Close() error {
	close(s.closed)
	return s.UDPConn.Close()
}

// A busy-polling server reads its listen socket through the poll group:
// with the receive loop stalled, a connected client is still echoed.
func TestPollGroupBusyPollReadsTheSocket(t *testing.T) {
	var sw *switchedReads
	p := newUDPPairWith(t, fastOpts, fastOpts, netSeams{listen: func(a netip.AddrPort) (endpoint.PacketConn, error) {
		pc, err := endpoint.Listen(a, nil)
		if err != nil {
			return nil, err
		}
		sw = &switchedReads{UDPConn: pc, closed: make(chan struct{})}
		return sw, nil
	}}, netip.MustParseAddr("127.0.0.1"))
	g := p.server.CreatePollGroup()
	p.server.SetConnectionPollGroup(p.sconn, g)

	// Stall the receive loop: the read in progress ends on a stray datagram.
	sw.stalled.Store(true)
	stray, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(sw.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	stray.Write([]byte("x"))
	stray.Close()
	time.Sleep(10 * time.Millisecond)

	in := make([]*Message, 1)
	p.client.SendMessageToConnection(p.cconn, []byte("ping"), SendReliableNoNagle)
	deadline := time.Now().Add(10 * time.Second)
	for echoed := false; !echoed; {
		if time.Now().After(deadline) {
			t.Fatal("no echo")
		}
		if n := p.server.ReceiveMessagesOnPollGroup(g, in); n == 1 {
			p.server.SendMessageToConnection(in[0].Conn, in[0].Data, SendReliableNoNagle)
			in[0].Release()
		}
		if p.client.ReceiveMessagesOnConnection(p.cconn, in) == 1 {
			echoed = string(in[0].Data) == "ping"
			in[0].Release()
		}
	}
}

// TestReceiveWaitEndsWhenHandleGoes: a wait on a poll group or a connection
// returns -1 once the application destroys it.
func TestReceiveWaitEndsWhenHandleGoes(t *testing.T) {
	s := newTestSockets(t)
	a, _, _ := s.CreateSocketPair(false, nil, nil)
	g := s.CreatePollGroup()
	s.SetConnectionPollGroup(a, g)
	results := make(chan int, 2)
	out := make([]*Message, 4)
	go func() {
		n, _ := s.ReceiveMessagesOnPollGroupWait(context.Background(), g, out[:2])
		results <- n
	}()
	go func() {
		n, _ := s.ReceiveMessagesOnConnectionWait(context.Background(), a, out[2:])
		results <- n
	}()
	time.Sleep(20 * time.Millisecond)
	s.DestroyPollGroup(g)
	s.CloseConnection(a, 0, "", false)
	for range 2 {
		select {
		case n := <-results:
			if n != -1 {
				t.Errorf("wait returned %d, want -1", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a wait outlived its handle")
		}
	}
}
