package mist

import (
	"testing"
)

// TestManyConnections holds more connections than GNS's per-process limit
// (0x1fff), checks every id follows the wire rules and is distinct, that
// each connection still carries messages, and that the bookkeeping per
// connection stays small.
func TestManyConnections(t *testing.T) {
	const pairs = 5000 // 10,000 connections
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := heapInUse()
	handles := make([]Conn, 0, 2*pairs)
	for i := range pairs {
		a, b, ok := s.CreateSocketPair(false, nil, nil)
		if !ok {
			t.Fatalf("pair %d refused", i)
		}
		handles = append(handles, a, b)
	}
	perConn := float64(heapInUse()-before) / float64(len(handles))
	t.Logf("%d connections, %.0f heap bytes per connection", len(handles), perConn)
	if !raceEnabled && perConn > 8192 {
		t.Errorf("%.0f heap bytes per connection, want at most 8192", perConn)
	}
	seen := make(map[Conn]bool, len(handles))
	for _, h := range handles {
		if uint16(h) == 0 || h>>16 == 0 {
			t.Fatalf("connection id %#x has a zero half", uint32(h))
		}
		if seen[h] {
			t.Fatalf("connection id %#x handed out twice", uint32(h))
		}
		seen[h] = true
	}
	// The last pair works like the first.
	out := make([]*Message, 1)
	for _, i := range []int{0, len(handles) - 2} {
		if _, r := s.SendMessageToConnection(handles[i], []byte("hi"), SendReliable); r != ResultOK {
			t.Fatalf("send on connection %d: %v", i, r)
		}
		if n := s.ReceiveMessagesOnConnection(handles[i+1], out); n != 1 || string(out[0].Data) != "hi" {
			t.Fatalf("connection %d received %d messages", i+1, n)
		}
		out[0].Release()
	}
}

// TestFreedConnIDsNotReused checks an id closed a moment ago is not handed
// to the next connections.
func TestFreedConnIDsNotReused(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	closed := make(map[Conn]bool)
	for range 200 {
		a, b, ok := s.CreateSocketPair(false, nil, nil)
		if !ok {
			t.Fatal("pair refused")
		}
		s.CloseConnection(a, 0, "", false)
		s.CloseConnection(b, 0, "", false)
		closed[a], closed[b] = true, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 5000 {
		h, _ := s.allocConnID()
		if closed[h] {
			t.Fatalf("id %#x reused right after it was freed", uint32(h))
		}
		s.unreserveConnID(h)
	}
	for h := range closed {
		if _, reserved := s.usedIDs[h]; !reserved {
			t.Fatalf("freed id %#x no longer reserved", uint32(h))
		}
	}
}
