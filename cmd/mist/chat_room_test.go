package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// roomRecorder is a chatTransport that records what the room does.
type roomRecorder struct {
	sent   map[int][]string
	closed map[int]bool // value: linger
	names  map[int]string
}

func newRoomRecorder() *roomRecorder {
	return &roomRecorder{sent: map[int][]string{}, closed: map[int]bool{}, names: map[int]string{}}
}

func (r *roomRecorder) send(c int, text string)                { r.sent[c] = append(r.sent[c], text) }
func (r *roomRecorder) close(c int, debug string, linger bool) { r.closed[c] = linger }
func (r *roomRecorder) setName(c int, name string)             { r.names[c] = name }

// take returns and forgets what connection c was sent.
func (r *roomRecorder) take(c int) []string {
	s := r.sent[c]
	delete(r.sent, c)
	return s
}

func TestChatRoomConversation(t *testing.T) {
	net := newRoomRecorder()
	var logBuf bytes.Buffer
	room := newChatRoom[int](net, newChatLog(&logBuf))
	next := []int{11111, 22222, 33333}
	room.rand = func() int { n := next[0]; next = next[1:]; return n }

	room.join(1)
	want := []string{
		"Welcome, stranger.  Thou art known to us for now as 'BraveWarrior21111'; upon thine command '/nick' we shall know thee otherwise.",
		"Thou art utterly alone.",
	}
	if got := net.take(1); !slices.Equal(got, want) {
		t.Fatalf("first client got %q, want %q", got, want)
	}
	if net.names[1] != "BraveWarrior21111" {
		t.Fatalf("connection name %q", net.names[1])
	}

	room.join(2)
	if got := net.take(2); len(got) != 3 || got[1] != "1 companions greet you:" || got[2] != "BraveWarrior21111" {
		t.Fatalf("second client got %q", got)
	}
	if got := net.take(1); !slices.Equal(got, []string{"Hark!  A stranger hath joined this merry host.  For now we shall call them 'BraveWarrior32222'"}) {
		t.Fatalf("first client was told %q", got)
	}

	room.received(1, "hello there")
	if got := net.take(2); !slices.Equal(got, []string{"BraveWarrior21111: hello there"}) {
		t.Fatalf("relay: %q", got)
	}
	if got := net.take(1); got != nil {
		t.Fatalf("sender got its own line back: %q", got)
	}

	room.received(2, "/nick   Gandalf")
	if got := net.take(2); !slices.Equal(got, []string{"Ye shall henceforth be known as Gandalf"}) {
		t.Fatalf("renamed client got %q", got)
	}
	if got := net.take(1); !slices.Equal(got, []string{"BraveWarrior32222 shall henceforth be known as Gandalf"}) {
		t.Fatalf("others got %q", got)
	}
	room.received(2, "you shall not pass")
	if got := net.take(1); !slices.Equal(got, []string{"Gandalf: you shall not pass"}) {
		t.Fatalf("after rename: %q", got)
	}

	room.left(2, false, "#2 UDP 127.0.0.1:5", 1000, "Goodbye")
	if got := net.take(1); !slices.Equal(got, []string{"Gandalf hath departed"}) {
		t.Fatalf("departure notice %q", got)
	}
	if linger, ok := net.closed[2]; !ok || linger {
		t.Fatalf("departed connection closed=%v linger=%v, want closed without linger", ok, linger)
	}
	if !strings.Contains(logBuf.String(), "Connection #2 UDP 127.0.0.1:5 closed by peer, reason 1000: Goodbye") {
		t.Fatalf("log: %q", logBuf.String())
	}

	room.join(3)
	net.take(3)
	net.take(1)
	room.left(3, true, "#3", 5003, "Timed out")
	if got := net.take(1); !slices.Equal(got, []string{"Alas, BraveWarrior43333 hath fallen into shadow.  (Timed out)"}) {
		t.Fatalf("problem notice %q", got)
	}

	// A connection that never got admitted is only cleaned up.
	room.left(99, false, "#99", 1000, "")
	if _, ok := net.closed[99]; !ok {
		t.Fatal("unknown connection not closed")
	}
	if got := net.take(1); got != nil {
		t.Fatalf("unknown departure announced: %q", got)
	}
	room.received(99, "ghost")
	if len(net.sent) != 0 {
		t.Fatalf("message from unknown connection relayed: %v", net.sent)
	}

	room.shutdown()
	if got := net.take(1); !slices.Equal(got, []string{"Server is shutting down.  Goodbye."}) {
		t.Fatalf("shutdown: %q", got)
	}
	if linger := net.closed[1]; !linger {
		t.Fatal("shutdown close does not linger")
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, tabs\tand ünïcode": "plain text, tabs\tand ünïcode",
		"\x1b[2Jcleared":                `\x1b[2Jcleared`,
		"bell\a and\r\nnewline":         `bell\x07 and\x0d\x0anewline`,
		"bad \xff utf-8":                "bad \uFFFD utf-8",
		"c1 \u009b control":             `c1 \x9b control`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
