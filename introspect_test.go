package mist

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestObserveConnectionCountsAndLeavesRatesAlone(t *testing.T) {
	s := newTestSockets(t)
	a, b, ok := s.CreateSocketPair(true, nil, nil)
	if !ok {
		t.Fatal("CreateSocketPair(loopback) failed")
	}
	if got := s.Connections(nil); !slices.Equal(got, []Conn{min(a, b), max(a, b)}) {
		t.Fatalf("Connections = %v, want %d and %d", got, a, b)
	}
	// The application's rate window starts here.
	if _, r := s.ConnectionRealTimeStatus(a, nil); r != ResultOK {
		t.Fatalf("status: %v", r)
	}
	payload := make([]byte, 1000)
	const sends = 50
	for range sends {
		if _, r := s.SendMessageToConnection(a, payload, SendReliable); r != ResultOK {
			t.Fatalf("send: %v", r)
		}
	}
	s.FlushMessagesOnConnection(a)
	out := make([]*Message, 64)
	received := 0
	deadline := time.Now().Add(5 * time.Second)
	for received < sends && time.Now().Before(deadline) {
		n := s.ReceiveMessagesOnConnection(b, out)
		for _, m := range out[:n] {
			m.Release()
		}
		received += n
		time.Sleep(time.Millisecond)
	}
	if received < sends {
		t.Fatalf("received %d of %d messages", received, sends)
	}
	oa, ok := s.ObserveConnection(a, make([]LaneStatus, 3))
	if !ok {
		t.Fatal("ObserveConnection(a) failed")
	}
	if oa.Info.State != StateConnected || oa.Lanes != 1 {
		t.Errorf("state %v lanes %d, want Connected, 1", oa.Info.State, oa.Lanes)
	}
	if oa.Counters.BytesSent < sends*uint64(len(payload)) || oa.Counters.PacketsSent == 0 {
		t.Errorf("counters %+v: sent less than the %d payload bytes", oa.Counters, sends*len(payload))
	}
	if oa.Status.OutBytesPerSec != 0 || oa.Status.MaxJitter != -1 {
		t.Errorf("observation carries rates or jitter: %+v", oa.Status)
	}
	ob, _ := s.ObserveConnection(b, nil)
	if ob.Counters.BytesRecv < sends*uint64(len(payload)) {
		t.Errorf("receiver counted %d bytes, want at least %d", ob.Counters.BytesRecv, sends*len(payload))
	}
	// The application's next status still covers everything since its
	// previous call: the observations did not restart the window.
	st, _ := s.ConnectionRealTimeStatus(a, nil)
	if st.OutBytesPerSec <= 0 {
		t.Errorf("OutBytesPerSec = %v after the observations, want > 0", st.OutBytesPerSec)
	}
	if _, ok := s.ObserveConnection(Conn(999999), nil); ok {
		t.Error("ObserveConnection of an invalid handle succeeded")
	}
}

func TestListenSocketCounters(t *testing.T) {
	s := newTestSockets(t)
	ls := s.CreateListenSocketIP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t)))
	if ls == 0 {
		t.Fatal("listen failed")
	}
	if got := s.ListenSockets(nil); !slices.Equal(got, []ListenSocket{ls}) {
		t.Fatalf("ListenSockets = %v, want [%d]", got, ls)
	}
	addr, _ := s.ListenSocketAddress(ls)
	c := s.ConnectByIPAddress(addr)
	if c == 0 {
		t.Fatal("connect failed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, _ := s.ListenSocketCounters(ls)
		if n.ConnectRequests >= 1 && n.ChallengesSent >= 1 {
			s.CloseConnection(c, 0, "", false)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	n, _ := s.ListenSocketCounters(ls)
	t.Fatalf("counters %+v: no challenge and connect request seen", n)
}

// TestQueueFullDropsAreCounted: unreliable messages that find the receive
// queue full are dropped and counted; reliable ones are not dropped (the
// peer resends them once the application reads).
func TestQueueFullDropsAreCounted(t *testing.T) {
	p := newUDPPair(t, []ConfigValue{Int32Value(OptRecvBufferMessages, 4)}, nil)
	for range 50 {
		p.client.SendMessageToConnection(p.cconn, []byte("unreliable"), SendUnreliable|SendNoNagle)
	}
	var o ConnectionObservation
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		o, _ = p.server.ObserveConnection(p.sconn, nil)
		if o.Counters.DroppedQueueFull >= 46 && o.ReceiveQueueMessages == 4 {
			break
		}
	}
	if o.ReceiveQueueMessages != 4 || o.Counters.DroppedQueueFull != 46 {
		t.Fatalf("queue holds %d messages, %d counted as dropped; want 4 held and the other 46 dropped",
			o.ReceiveQueueMessages, o.Counters.DroppedQueueFull)
	}
	dropped := o.Counters.DroppedQueueFull
	p.client.SendMessageToConnection(p.cconn, []byte("reliable"), SendReliable)
	time.Sleep(100 * time.Millisecond)
	if o, _ = p.server.ObserveConnection(p.sconn, nil); o.Counters.DroppedQueueFull != dropped {
		t.Errorf("a refused reliable message counted as dropped (%d, was %d)", o.Counters.DroppedQueueFull, dropped)
	}
	buf := make([]*Message, 8)
	got := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && got < 5; time.Sleep(5 * time.Millisecond) {
		n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
		for _, m := range buf[:max(n, 0)] {
			if string(m.Data) == "reliable" {
				got = 5
			}
			m.Release()
		}
	}
	if got != 5 {
		t.Error("the refused reliable message never arrived after the queue drained")
	}
}
