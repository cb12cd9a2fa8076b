package signaling

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func FuzzParseSignal(f *testing.F) {
	f.Add([]byte("str:peer_server 0d4433aa\n"))
	f.Add([]byte("steamid:76561197960287930 0a0b\r\n"))
	f.Add([]byte(" str:x  payload with spaces\n"))
	f.Add([]byte("nospace\n"))
	f.Add([]byte("  \n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		dest, payload, ok := ParseSignal(line)
		if !ok {
			return
		}
		if len(dest) == 0 || !bytes.Equal(dest, ParseIdentity(dest)) {
			t.Fatalf("dest %q is empty or not trimmed", dest)
		}
		// The line is DEST(with its whitespace) ' ' PAYLOAD.
		head := line[:len(line)-len(payload)-1]
		if !bytes.Equal(ParseIdentity(head), dest) || line[len(head)] != ' ' || bytes.IndexByte(head, ' ') >= 0 {
			t.Fatalf("line %q split as %q / %q", line, dest, payload)
		}
		out := AppendForward(nil, "str:sender", payload)
		d2, p2, ok2 := ParseSignal(out)
		if !ok2 || string(d2) != "str:sender" || !bytes.Equal(p2, payload) {
			t.Fatalf("forwarded line %q does not parse back", out)
		}
	})
}

// chunkConn serves data in reads of at most chunk bytes.
type chunkConn struct {
	net.Conn
	data  []byte
	chunk int
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}
func (c *chunkConn) SetReadDeadline(time.Time) error { return nil }

// FuzzLineReader: the reader returns exactly the '\n'-terminated lines of
// its input, in order, or stops at the first one longer than its limit.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("str:a\nstr:b 00ff\n"), uint8(3), uint8(16))
	f.Add([]byte("no terminator"), uint8(1), uint8(4))
	f.Add(bytes.Repeat([]byte("x"), 100), uint8(7), uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		c := &chunkConn{data: data, chunk: int(chunk%64) + 1}
		limit := int(max) + 1
		r := newLineReader(c, 4, limit)
		rest := data
		for {
			line, err := r.next(time.Time{}, time.Second, time.Now)
			i := bytes.IndexByte(rest, '\n')
			if err != nil {
				switch {
				case err == errLineTooLong:
					if i >= 0 && i <= limit {
						t.Fatalf("line of %d bytes refused with limit %d", i, limit)
					}
				case err == io.EOF:
					if i >= 0 {
						t.Fatalf("EOF with a line left: %q", rest)
					}
				default:
					t.Fatal(err)
				}
				return
			}
			if i < 0 || !bytes.Equal(line, rest[:i+1]) {
				t.Fatalf("got %q, want the next line of %q", line, rest)
			}
			if i > limit {
				t.Fatalf("line of %d bytes passed limit %d", i, limit)
			}
			rest = rest[i+1:]
		}
	})
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(100, 0)
	b := newTokenBucket(10, 2, now)
	if b.take(now) != 0 || b.take(now) != 0 {
		t.Fatal("burst not available")
	}
	if w := b.take(now); w != 100*time.Millisecond {
		t.Fatalf("third line waits %v, want 100ms", w)
	}
	if w := b.take(now.Add(100 * time.Millisecond)); w != 100*time.Millisecond {
		t.Fatalf("after paying the debt, the next waits %v, want 100ms", w)
	}
	if w := b.take(now.Add(10 * time.Second)); w != 0 {
		t.Fatalf("after a long pause: wait %v", w)
	}
	free := newTokenBucket(-1, 0, now)
	for range 1000 {
		if free.take(now) != 0 {
			t.Fatal("unlimited bucket waited")
		}
	}
}
