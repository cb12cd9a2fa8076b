package crypto

import (
	"errors"
	"testing"
)

func TestRecvWindowStart(t *testing.T) {
	w := NewRecvWindow(13)
	if w.Max() != 1 {
		t.Fatalf("max %d, want 1", w.Max())
	}
	for _, wire := range []uint16{0, 1} {
		if _, err := w.Expand(wire); !errors.Is(err, ErrDuplicate) {
			t.Errorf("wire %d: %v, want duplicate (handshake numbers)", wire, err)
		}
	}
	if n, err := w.Expand(2); err != nil || n != 2 {
		t.Fatalf("first data packet: %d %v", n, err)
	}
	old := NewRecvWindow(9)
	if n, err := old.Expand(1); err != nil || n != 1 {
		t.Fatalf("version 9 first packet: %d %v", n, err)
	}
}

func TestRecvWindowExpansion(t *testing.T) {
	w := NewRecvWindow(13)
	w.Reset(0x1FFFE)
	// Spec example: maxRecv 0x1FFFE, wire 0x0003 -> 0x20003.
	if n, err := w.Expand(0x0003); err != nil || n != 0x20003 {
		t.Fatalf("got %#x %v", n, err)
	}
	// Largest forward step and the number just behind max.
	if n, _ := w.Expand(uint16((0x1FFFE + 0x7FFF) & 0xFFFF)); n != 0x1FFFE+0x7FFF {
		t.Fatalf("forward 0x7fff: %#x", n)
	}
	if _, err := w.Expand(uint16((0x1FFFE - 0x8000) & 0xFFFF)); !errors.Is(err, ErrTooOld) {
		t.Fatalf("0x8000 back: %v", err)
	}
}

func TestRecvWindowOrderAndDuplicates(t *testing.T) {
	w := NewRecvWindow(13)
	recv := func(n uint64) error {
		full, err := w.Expand(uint16(n))
		if err != nil {
			return err
		}
		if full != n {
			t.Fatalf("expanded %d to %d", n, full)
		}
		if err := w.CheckLurch(full); err != nil {
			return err
		}
		w.MarkReceived(full)
		return nil
	}
	for _, n := range []uint64{2, 3, 5, 4, 10, 9, 200, 150, 199} {
		if err := recv(n); err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
	}
	for _, n := range []uint64{2, 5, 200, 150} {
		if err := recv(n); !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrTooOld) {
			t.Fatalf("repeat of %d: %v", n, err)
		}
	}
	// 200 is in the word [192,256); the window reaches back to 128.
	if err := recv(128); err != nil {
		t.Fatalf("128 is inside the window: %v", err)
	}
	if err := recv(127); !errors.Is(err, ErrTooOld) {
		t.Fatalf("127 is below the window: %v", err)
	}
	if err := recv(201); err != nil {
		t.Fatal(err)
	}
	if w.Max() != 201 {
		t.Fatalf("max %d", w.Max())
	}
}

func TestRecvWindowLurch(t *testing.T) {
	w := NewRecvWindow(13)
	w.MarkReceived(100)
	if err := w.CheckLurch(100 + MaxPacketNumberJump); err != nil {
		t.Fatalf("jump of exactly the limit: %v", err)
	}
	if err := w.CheckLurch(101 + MaxPacketNumberJump); !errors.Is(err, ErrLurch) {
		t.Fatalf("jump past the limit: %v", err)
	}
	if err := w.CheckLurch(50); err != nil {
		t.Fatalf("old packet is not a lurch: %v", err)
	}
}

// TestRecvWindowAgainstModel compares the window with a plain set over a
// long pseudo-random stream of reordered, duplicated and stale packets.
func TestRecvWindowAgainstModel(t *testing.T) {
	w := NewRecvWindow(13)
	seen := map[uint64]bool{0: true, 1: true}
	max := uint64(1)
	x := uint64(12345)
	rnd := func(n uint64) uint64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x % n }
	for i := 0; i < 200000; i++ {
		var n uint64
		switch r := rnd(10); {
		case r < 6:
			n = max + 1 + rnd(3)
		case r < 9:
			if max > 100 {
				n = max - rnd(100)
			} else {
				n = 2 + rnd(max)
			}
		default:
			n = max + rnd(300)
		}
		full, err := w.Expand(uint16(n))
		switch {
		case n > max:
			if err != nil || full != n {
				t.Fatalf("step %d: new packet %d (max %d): %d %v", i, n, max, full, err)
			}
		case seen[n]:
			if err == nil {
				t.Fatalf("step %d: duplicate %d accepted", i, n)
			}
		case err != nil:
			// Unseen but refused: must be stale, at least 64 below max.
			if !errors.Is(err, ErrTooOld) || max-n < 64 {
				t.Fatalf("step %d: %d (max %d) refused: %v", i, n, max, err)
			}
		default:
			if full != n {
				t.Fatalf("step %d: expanded %d to %d", i, n, full)
			}
		}
		if err == nil {
			w.MarkReceived(full)
			seen[full] = true
			if full > max {
				max = full
			}
		}
		if w.Max() != max {
			t.Fatalf("step %d: max %d, want %d", i, w.Max(), max)
		}
	}
}

func FuzzRecvWindow(f *testing.F) {
	f.Add([]byte{2, 0, 3, 0, 2, 0, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		w := NewRecvWindow(13)
		seen := map[uint64]bool{}
		for len(b) >= 2 {
			wire := uint16(b[0]) | uint16(b[1])<<8
			b = b[2:]
			prev := w.Max()
			n, err := w.Expand(wire)
			if err != nil {
				continue
			}
			if uint16(n) != wire {
				t.Fatalf("expanded %d to %d", wire, n)
			}
			if n <= 1 || seen[n] {
				t.Fatalf("accepted %d twice or a handshake number", n)
			}
			if d := int64(n) - int64(prev); d > 0x7fff || d < -0x8000 {
				t.Fatalf("expansion %d too far from %d", n, prev)
			}
			seen[n] = true
			w.MarkReceived(n)
		}
	})
}
