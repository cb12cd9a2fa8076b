package benchproto

import (
	"bytes"
	"testing"
)

func TestQueryReplyGolden(t *testing.T) {
	got := AppendQueryReply(nil, Counters{Bytes: 0x0102030405060708, Messages: 3})
	want := []byte{
		'Q',
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // bytes, little endian
		0x03, 0, 0, 0, 0, 0, 0, 0, // messages
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendQueryReply = % x, want % x", got, want)
	}
	c, n, err := ParseQueryReply(append(got, 0xff))
	if err != nil || n != QueryReplyLen || c.Bytes != 0x0102030405060708 || c.Messages != 3 {
		t.Fatalf("ParseQueryReply = %+v, %d, %v", c, n, err)
	}
}

func TestParseQueryReplyRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {'Q'}, make([]byte, QueryReplyLen)} {
		if _, _, err := ParseQueryReply(b); err == nil {
			t.Errorf("ParseQueryReply(% x) succeeded", b)
		}
	}
}

func TestSession(t *testing.T) {
	var s Session
	type sent struct {
		msg      []byte
		reliable bool
	}
	var replies []sent
	reply := func(m []byte, r bool) { replies = append(replies, sent{append([]byte(nil), m...), r}) }

	s.Handle([]byte("Ehello"), false, reply)
	s.Handle([]byte("S12345"), false, reply)
	s.Handle([]byte("S1"), true, reply)
	s.Handle(nil, true, reply)
	s.Handle([]byte("x"), true, reply)
	s.Handle([]byte("Q"), false, reply)

	if len(replies) != 2 {
		t.Fatalf("got %d replies, want 2", len(replies))
	}
	if string(replies[0].msg) != "Ehello" || replies[0].reliable {
		t.Errorf("echo reply = %q reliable=%v", replies[0].msg, replies[0].reliable)
	}
	c, _, err := ParseQueryReply(replies[1].msg)
	if err != nil || !replies[1].reliable {
		t.Fatalf("query reply %q reliable=%v: %v", replies[1].msg, replies[1].reliable, err)
	}
	if c != (Counters{Bytes: 8, Messages: 2}) {
		t.Errorf("counters = %+v, want 8 bytes in 2 messages", c)
	}
}

func FuzzParseQueryReply(f *testing.F) {
	f.Add(AppendQueryReply(nil, Counters{}))
	f.Add(AppendQueryReply(nil, Counters{Bytes: 1 << 40, Messages: 7}))
	f.Add([]byte("Q"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, n, err := ParseQueryReply(b)
		if err != nil {
			return
		}
		if again := AppendQueryReply(nil, c); !bytes.Equal(again, b[:n]) {
			t.Fatalf("round trip: % x -> %+v -> % x", b[:n], c, again)
		}
	})
}

func FuzzSessionHandle(f *testing.F) {
	f.Add([]byte("E"), true)
	f.Add([]byte("S0123"), false)
	f.Add([]byte("Q"), false)
	f.Fuzz(func(t *testing.T, msg []byte, reliable bool) {
		var s Session
		before := s.Counters()
		s.Handle(msg, reliable, func(reply []byte, _ bool) {
			if len(reply) == 0 {
				t.Fatal("empty reply")
			}
		})
		after := s.Counters()
		if len(msg) > 0 && msg[0] == OpSink {
			if after.Bytes != before.Bytes+uint64(len(msg)) || after.Messages != 1 {
				t.Fatalf("sink counters %+v after %d-byte message", after, len(msg))
			}
		} else if after != before {
			t.Fatalf("counters changed to %+v by %q", after, msg)
		}
	})
}
