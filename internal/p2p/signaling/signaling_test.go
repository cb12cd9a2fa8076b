package signaling

import "testing"

func TestFuncs(t *testing.T) {
	var got []byte
	var released int
	var s ConnectionSignaling = Funcs{
		OnSend:    func(h Header, b []byte) bool { got = append(got, b...); return h.Conn == 1 },
		OnRelease: func() { released++ },
	}
	if !s.SendSignal(Header{Conn: 1}, []byte("ab")) || s.SendSignal(Header{Conn: 2}, []byte("c")) {
		t.Fatal("SendSignal result not passed through")
	}
	s.Release()
	Funcs{OnSend: func(Header, []byte) bool { return true }}.Release() // nil OnRelease
	if string(got) != "abc" || released != 1 {
		t.Fatalf("got %q, released %d", got, released)
	}
}
