package mist_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mistnet/mist"
)

// pollUntil runs callbacks until done reports true or ten seconds pass.
func pollUntil(done func() bool, ss ...*mist.Sockets) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		for _, s := range ss {
			s.RunCallbacks()
		}
		if done() {
			return true
		}
	}
	return false
}

// localAddr returns a loopback address with a UDP port that is free now.
func localAddr() netip.AddrPort {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// A server accepts every connection, puts it in a poll group and reads all
// messages through the group.
func Example_server() {
	server, _ := mist.New(mist.Config{})
	defer server.Close()
	group := server.CreatePollGroup()
	left := false
	server.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		switch ev.Info.State {
		case mist.StateConnecting:
			server.AcceptConnection(ev.Conn)
			server.SetConnectionPollGroup(ev.Conn, group)
		case mist.StateConnected:
			fmt.Println("server: client connected")
		case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
			fmt.Println("server: client left:", ev.Info.EndDebug)
			server.CloseConnection(ev.Conn, 0, "", false)
			left = true
		}
	})
	addr := localAddr()
	server.CreateListenSocketIP(addr)

	// A client in the same process, for the example.
	client, _ := mist.New(mist.Config{})
	defer client.Close()
	conn := client.ConnectByIPAddress(addr)
	client.SendMessageToConnection(conn, []byte("hello"), mist.SendReliable)
	client.SendMessageToConnection(conn, []byte("world"), mist.SendReliable)

	msgs := make([]*mist.Message, 16)
	received := 0
	pollUntil(func() bool {
		n := server.ReceiveMessagesOnPollGroup(group, msgs)
		for _, m := range msgs[:n] {
			fmt.Printf("server: %q\n", m.Data)
			m.Release()
		}
		received += n
		return received == 2
	}, server, client)
	client.CloseConnection(conn, 0, "bye", true)
	pollUntil(func() bool { return left }, server, client)
	// Output:
	// server: client connected
	// server: "hello"
	// server: "world"
	// server: client left: bye
}

// A client connects, waits until it is connected and exchanges a message
// with an echo server.
func ExampleSockets_ConnectByIPAddress() {
	server, _ := mist.New(mist.Config{})
	defer server.Close()
	var accepted []mist.Conn
	server.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		if ev.Info.State == mist.StateConnecting {
			server.AcceptConnection(ev.Conn)
			accepted = append(accepted, ev.Conn)
		}
	})
	addr := localAddr()
	server.CreateListenSocketIP(addr)
	echo := func() {
		msgs := make([]*mist.Message, 8)
		for _, h := range accepted {
			n := server.ReceiveMessagesOnConnection(h, msgs)
			for _, m := range msgs[:max(n, 0)] {
				server.SendMessageToConnection(h, m.Data, mist.SendReliable)
				m.Release()
			}
		}
	}

	client, _ := mist.New(mist.Config{})
	defer client.Close()
	client.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		fmt.Println("client:", ev.OldState, "->", ev.Info.State)
	})
	conn := client.ConnectByIPAddress(addr)
	pollUntil(func() bool {
		info, _ := client.ConnectionInfo(conn)
		return info.State == mist.StateConnected
	}, client, server)

	client.SendMessageToConnection(conn, []byte("ping"), mist.SendReliable)
	reply := make([]*mist.Message, 1)
	pollUntil(func() bool {
		echo()
		return client.ReceiveMessagesOnConnection(conn, reply) == 1
	}, client, server)
	fmt.Printf("client: got %q\n", reply[0].Data)
	reply[0].Release()
	// Output:
	// client: None -> Connecting
	// client: Connecting -> Connected
	// client: got "ping"
}

// SendMessages sends a batch to several connections at once and reports
// one result per message: a message number, or a negated Result.
func ExampleSockets_SendMessages() {
	s, _ := mist.New(mist.Config{})
	defer s.Close()
	a1, b1, _ := s.CreateSocketPair(false, nil, nil)
	a2, b2, _ := s.CreateSocketPair(false, nil, nil)

	var batch []*mist.Message
	for _, to := range []mist.Conn{a1, a2, a1, 0} {
		m := mist.NewMessage(5)
		copy(m.Data, "hello")
		m.Conn, m.Flags = to, mist.SendReliable
		batch = append(batch, m)
	}
	for i, r := range s.SendMessages(batch, true) {
		if r > 0 {
			fmt.Printf("message %d: number %d\n", i, r)
		} else {
			fmt.Printf("message %d: %v\n", i, mist.Result(-r))
		}
	}
	out := make([]*mist.Message, 4)
	fmt.Println("b1 got", s.ReceiveMessagesOnConnection(b1, out))
	fmt.Println("b2 got", s.ReceiveMessagesOnConnection(b2, out[2:]))
	for _, m := range out[:3] {
		m.Release()
	}
	// Output:
	// message 0: number 1
	// message 1: number 1
	// message 2: number 2
	// message 3: InvalidParam
	// b1 got 2
	// b2 got 1
}

// ConnectionRealTimeStatus reports the state, ping, queues and send rate of
// a connection.
func ExampleSockets_ConnectionRealTimeStatus() {
	s, _ := mist.New(mist.Config{})
	defer s.Close()
	a, _, _ := s.CreateSocketPair(false, nil, nil)
	s.SendMessageToConnection(a, []byte("queued"), mist.SendReliable)

	lanes := make([]mist.LaneStatus, 1)
	st, r := s.ConnectionRealTimeStatus(a, lanes)
	fmt.Println("result:", r)
	fmt.Println("state:", st.State)
	fmt.Println("ping ms:", st.Ping)
	fmt.Println("pending reliable bytes:", st.PendingReliable)
	fmt.Println("quality:", st.QualityLocal)

	s.CloseConnection(a, 0, "", false)
	_, r = s.ConnectionRealTimeStatus(a, nil)
	fmt.Println("after close:", r)
	// Output:
	// result: OK
	// state: Connected
	// ping ms: 0
	// pending reliable bytes: 0
	// quality: 1
	// after close: NoConnection
}
