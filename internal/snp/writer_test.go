package snp

import (
	"io"
	"math/rand/v2"
	"testing"
)

// TestWriterLens checks that ReliableLen and UnreliableLen predict exactly
// what the Writer appends, across mixed segment sequences (including the
// lane re-selections for backward steps), and that a Reader decodes the
// result back to the same numbers and positions.
func TestWriterLens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		var w Writer
		type seg struct {
			reliable bool
			num, pos int64
			off, n   int
		}
		var segs []seg
		var p []byte
		lane := 0
		if round%3 == 0 {
			lane = rng.IntN(12)
			p = w.SelectLane(p, lane)
		}
		for range 1 + rng.IntN(6) {
			s := seg{reliable: rng.IntN(2) == 0, n: rng.IntN(40)}
			if s.reliable {
				s.pos = 1 + rng.Int64N(1<<34)
				before := len(p)
				want := w.ReliableLen(s.pos, s.n)
				p = w.AppendReliable(p, s.pos, make([]byte, s.n), false)
				if got := len(p) - before; got != want {
					t.Fatalf("round %d: ReliableLen %d, appended %d", round, want, got)
				}
			} else {
				s.num, s.off = 1+rng.Int64N(1<<20), rng.IntN(30000)
				before := len(p)
				want := w.UnreliableLen(s.num, s.off, s.n)
				p = w.AppendUnreliable(p, s.num, s.off, rng.IntN(2) == 0, make([]byte, s.n), false)
				if got := len(p) - before; got != want {
					t.Fatalf("round %d: UnreliableLen %d, appended %d", round, want, got)
				}
			}
			segs = append(segs, s)
		}
		var r Reader
		r.Reset(p, 5, 0, fixedRefs{highest: 1 << 19, nextPos: 1 << 33})
		i := 0
		for {
			f, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if f.Type == FrameSelectLane {
				if f.Lane != lane {
					t.Fatalf("round %d: lane %d, want %d", round, f.Lane, lane)
				}
				continue
			}
			s := segs[i]
			i++
			if s.reliable && f.Pos != s.pos || !s.reliable && (f.MsgNum != s.num || int(f.FragOffset) != s.off) || len(f.Data) != s.n {
				t.Fatalf("round %d segment %d: decoded %+v, wrote %+v", round, i-1, f, s)
			}
		}
		if i != len(segs) {
			t.Fatalf("round %d: decoded %d segments of %d", round, i, len(segs))
		}
	}
}
