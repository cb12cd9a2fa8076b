package conn

import "testing"

// The reference vectors of the SipHash paper: key 00..0f, messages 00..(n-1).
func TestSipHash24Vectors(t *testing.T) {
	const k0, k1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	want := map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5}
	for n, w := range want {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := sipHash24(k0, k1, msg); got != w {
			t.Errorf("len %d: got %#x, want %#x", n, got, w)
		}
	}
}
