package trivialtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/p2p/signaling"
	"github.com/mistnet/mist/internal/p2p/trivial"
)

func TestForwardsBetweenRegisteredClients(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan []byte, 4)
	froms := make(chan string, 4)
	b, err := trivial.New(s.Addr(), "str:b", func(from string, blob []byte, _ signaling.RecvContext) {
		froms <- from
		got <- append([]byte(nil), blob...)
	}, trivial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := trivial.New(s.Addr(), "str:a", func(string, []byte, signaling.RecvContext) {}, trivial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Registered("str:a") || !s.Registered("str:b") {
		if time.Now().After(deadline) {
			t.Fatal("clients never registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.Send("str:nobody", []byte{9})
	a.Send("str:b", []byte{1, 2, 3})
	select {
	case blob := <-got:
		if !bytes.Equal(blob, []byte{1, 2, 3}) || <-froms != "str:a" {
			t.Fatalf("got %x", blob)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("signal not forwarded")
	}
}
