package quicsys

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/mistnet/mist/bench/internal/systest"
)

func TestDriver(t *testing.T) {
	systest.Exercise(t, System{}, systest.Expect{Reliable: true, Swarm: 20})
}

func TestFrameRoundTrip(t *testing.T) {
	var stream []byte
	msgs := [][]byte{{}, []byte("E0123"), bytes.Repeat([]byte{'S'}, 70000)}
	for _, m := range msgs {
		stream = appendFrame(stream, m)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	var buf []byte
	for i, want := range msgs {
		var err error
		buf, err = readFrame(r, buf)
		if err != nil || !bytes.Equal(buf, want) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(buf), err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, []byte("Q")))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		if again := appendFrame(nil, msg); !bytes.Equal(again, b[:len(again)]) {
			t.Fatalf("round trip % x -> % x", b, again)
		}
	})
}
