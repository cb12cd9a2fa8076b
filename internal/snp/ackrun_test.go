package snp

import "testing"

// TestAppendAckBlockSplitsLongRuns: runs longer than one block may carry
// become several blocks that decode to the same runs.
func TestAppendAckBlockSplitsLongRuns(t *testing.T) {
	for _, tc := range []struct{ acked, nacked uint64 }{
		{0, 0}, {7, 8}, {MaxAckRun, MaxAckRun}, {MaxAckRun + 1, 3}, {5, MaxAckRun + 1},
		{3*MaxAckRun + 17, 2*MaxAckRun + 9},
	} {
		blocks := AppendAckBlock(nil, tc.acked, tc.nacked)
		frame := AppendAck(nil, 100, 0, blocks)
		a, n, err := ParseAck(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("%+v: ParseAck = %d, %v", tc, n, err)
		}
		// Walk the blocks as a decoder does: acks, then nacks, newest first.
		var acked, nacked uint64
		seenNack := false
		it := a.Blocks()
		for blk, ok := it.Next(); ok; blk, ok = it.Next() {
			if blk.Acked > MaxAckRun || blk.Nacked > MaxAckRun {
				t.Fatalf("%+v: block %+v over the limit", tc, blk)
			}
			if seenNack && blk.Acked != 0 {
				t.Fatalf("%+v: acks after nacks change the meaning", tc)
			}
			acked += blk.Acked
			nacked += blk.Nacked
			seenNack = seenNack || blk.Nacked > 0
		}
		if acked != tc.acked || nacked != tc.nacked {
			t.Errorf("%+v: decoded %d acked, %d nacked", tc, acked, nacked)
		}
	}
}

// FuzzAppendAckBlock: any runs that fit one frame's block count encode
// into blocks a receiver accepts and that add up to the same runs.
func FuzzAppendAckBlock(f *testing.F) {
	f.Add(uint64(7), uint64(8))
	f.Add(uint64(MaxAckRun+1), uint64(2*MaxAckRun+5))
	f.Fuzz(func(t *testing.T, acked, nacked uint64) {
		if acked > 100*MaxAckRun || nacked > 100*MaxAckRun {
			return
		}
		blocks := AppendAckBlock(nil, acked, nacked)
		a, _, err := ParseAck(AppendAck(nil, 1, 0, blocks))
		if err != nil {
			t.Fatalf("%d/%d: %v", acked, nacked, err)
		}
		var sa, sn uint64
		it := a.Blocks()
		for blk, ok := it.Next(); ok; blk, ok = it.Next() {
			sa += blk.Acked
			sn += blk.Nacked
		}
		if sa != acked || sn != nacked {
			t.Fatalf("%d/%d decoded as %d/%d", acked, nacked, sa, sn)
		}
	})
}
