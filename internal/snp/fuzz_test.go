package snp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// vectorFrameSeeds returns, for each frame type, payload tails starting at
// frames of that type in the captured plaintexts (a few of each).
func vectorFrameSeeds(tb testing.TB) map[FrameType][][]byte {
	seeds := map[FrameType][][]byte{}
	for _, p := range loadVectorPlaintexts(tb) {
		var rd Reader
		rd.Reset(p.Plaintext, p.PktNum, 0, &trackingRefs{nextPkt: 30000})
		for {
			f, err := rd.Next()
			if err != nil {
				break
			}
			if len(seeds[f.Type]) < 40 {
				seeds[f.Type] = append(seeds[f.Type], p.Plaintext[f.Offset:])
			}
		}
	}
	return seeds
}

func FuzzReader(f *testing.F) {
	for i, p := range loadVectorPlaintexts(f) {
		if i%4 == 0 {
			f.Add(p.Plaintext, p.PktNum, int64(3), int64(1))
		}
	}
	f.Add([]byte{0x8f, 0x05, 0x37, 1, 0, 0, 0}, int64(7), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, payload []byte, pktNum, highest, nextPos int64) {
		if pktNum < 0 || highest < 0 || nextPos < 1 || nextPos > 1<<50 {
			return
		}
		refs := fixedRefs{highest: highest, nextPos: nextPos, nextPkt: pktNum + 1}
		var rd Reader
		rd.Reset(payload, pktNum, 1300, refs)
		prevEnd := 0
		for {
			fr, err := rd.Next()
			if err == io.EOF {
				return
			}
			var de *DecodeError
			if err != nil {
				if !errors.As(err, &de) && err != ErrSegmentBudget && err != ErrAckFromFuture {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if fr.Offset < prevEnd || fr.Offset >= len(payload) {
				t.Fatalf("frame offset %d outside [%d,%d)", fr.Offset, prevEnd, len(payload))
			}
			prevEnd = fr.Offset + 1
			switch fr.Type {
			case FrameUnreliable:
				if fr.MsgNum <= 0 {
					t.Fatalf("message number %d", fr.MsgNum)
				}
			case FrameReliable:
				if fr.Pos <= 0 {
					t.Fatalf("stream position %d", fr.Pos)
				}
			case FrameStopWaiting:
				if fr.Stop < 0 || fr.Stop >= pktNum {
					t.Fatalf("stop %d for packet %d", fr.Stop, pktNum)
				}
			case FrameAck:
				if fr.Ack.Latest < 0 || fr.Ack.Latest > pktNum {
					t.Fatalf("latest %d", fr.Ack.Latest)
				}
			case FrameSelectLane:
				if fr.Lane < 0 || fr.Lane >= MaxLanes {
					t.Fatalf("lane %d", fr.Lane)
				}
			}
		}
	})
}

func FuzzUnreliableSegment(f *testing.F) {
	for _, s := range vectorFrameSeeds(f)[FrameUnreliable] {
		f.Add(s, false)
	}
	f.Add([]byte{0x18, 0x02, 0xcc, 0x08, 0x01, 0x07}, true)
	f.Fuzz(func(t *testing.T, b []byte, inContext bool) {
		s, n, err := ParseUnreliableSegment(b, inContext)
		if err != nil {
			return
		}
		last := b[0]&7 == sizeToEnd
		if !last && len(s.Data) > MaxSegmentLen {
			t.Fatalf("explicit length %d", len(s.Data))
		}
		enc := AppendUnreliableSegment(nil, s, last)
		s2, n2, err := ParseUnreliableSegment(enc, inContext)
		if err != nil || n2 != len(enc) || s2.End != s.End || s2.NumKind != s.NumKind ||
			s2.Num != s.Num || s2.Offset != s.Offset || !bytes.Equal(s2.Data, s.Data) {
			t.Fatalf("round trip of %x (%d bytes): %x -> %+v, %v", b[:n], n, enc, s2, err)
		}
	})
}

func FuzzReliableSegment(f *testing.F) {
	for _, s := range vectorFrameSeeds(f)[FrameReliable] {
		f.Add(s, false)
	}
	f.Add([]byte{0x48, 0x05, 0x01, 0x03}, true)
	f.Fuzz(func(t *testing.T, b []byte, inContext bool) {
		s, _, err := ParseReliableSegment(b, inContext)
		if err != nil {
			return
		}
		last := b[0]&7 == sizeToEnd
		enc := AppendReliableSegment(nil, s, last)
		s2, n2, err := ParseReliableSegment(enc, inContext)
		if err != nil || n2 != len(enc) || s2.PosKind != s.PosKind || s2.Pos != s.Pos || !bytes.Equal(s2.Data, s.Data) {
			t.Fatalf("round trip %x -> %+v, %v", enc, s2, err)
		}
	})
}

func FuzzAck(f *testing.F) {
	for _, s := range vectorFrameSeeds(f)[FrameAck] {
		f.Add(s)
	}
	f.Add([]byte{0x9f, 0x14, 0x00, 0x3e, 0x00, 0x02, 0xca, 0x02, 0x01, 0x31})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, _, err := ParseAck(b)
		if err != nil || a.Wide {
			return
		}
		var blocks []AckBlock
		it := a.Blocks()
		for blk, ok := it.Next(); ok; blk, ok = it.Next() {
			blocks = append(blocks, blk)
		}
		if len(blocks) != a.NumBlocks {
			t.Fatalf("iterated %d blocks of %d", len(blocks), a.NumBlocks)
		}
		enc := AppendAck(nil, a.Latest, a.Delay, blocks)
		if len(enc) != AckLen(blocks) {
			t.Fatalf("AckLen %d, encoded %d", AckLen(blocks), len(enc))
		}
		a2, n2, err := ParseAck(enc)
		if err != nil || n2 != len(enc) || a2.Latest != a.Latest || a2.Delay != a.Delay || a2.NumBlocks != a.NumBlocks {
			t.Fatalf("round trip %x -> %+v, %v", enc, a2, err)
		}
		it = a2.Blocks()
		for i := range blocks {
			if blk, _ := it.Next(); blk != blocks[i] {
				t.Fatalf("block %d: %+v != %+v", i, blk, blocks[i])
			}
		}
	})
}

func FuzzStopWaiting(f *testing.F) {
	for _, s := range vectorFrameSeeds(f)[FrameStopWaiting] {
		f.Add(s, int64(40))
	}
	f.Fuzz(func(t *testing.T, b []byte, pktNum int64) {
		stop, _, err := ParseStopWaiting(b, pktNum)
		if err != nil {
			return
		}
		if stop < 0 || stop >= pktNum {
			t.Fatalf("stop %d for packet %d", stop, pktNum)
		}
		enc := AppendStopWaiting(nil, pktNum, stop)
		stop2, n, err := ParseStopWaiting(enc, pktNum)
		if err != nil || n != len(enc) || stop2 != stop {
			t.Fatalf("round trip %x -> %d, %v", enc, stop2, err)
		}
	})
}

func FuzzSelectLane(f *testing.F) {
	f.Add([]byte{0x88})
	f.Add([]byte{0x8f, 0x00})
	f.Add([]byte{0x8f, 0xc8, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		lane, _, err := ParseSelectLane(b)
		if err != nil {
			return
		}
		enc := AppendSelectLane(nil, lane)
		lane2, n, err := ParseSelectLane(enc)
		if err != nil || n != len(enc) || n != SelectLaneLen(lane) || lane2 != lane {
			t.Fatalf("round trip %x -> %d, %v", enc, lane2, err)
		}
	})
}

func FuzzMessageHeader(f *testing.F) {
	for _, s := range vectorFrameSeeds(f)[FrameReliable] {
		// The first stream bytes of a segment starting at position 1 are
		// a message header.
		if seg, _, err := ParseReliableSegment(s, false); err == nil && seg.Pos == 1 {
			f.Add(seg.Data)
		}
	}
	f.Add([]byte{0x70, 0x02, 0x3e})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseMessageHeader(b)
		if err != nil {
			return
		}
		enc := AppendMessageHeader(nil, h)
		if len(enc) > n || len(enc) != MessageHeaderLen(h) {
			t.Fatalf("re-encoded %d bytes from %d", len(enc), n)
		}
		h2, n2, err := ParseMessageHeader(enc)
		if err != nil || n2 != len(enc) || h2 != h {
			t.Fatalf("round trip %x -> %+v, %v", enc, h2, err)
		}
	})
}

// BenchmarkDecodePacket decodes a full captured data packet.
func BenchmarkDecodePacket(b *testing.B) {
	var payload []byte
	var pkt int64
	for _, p := range loadVectorPlaintexts(b) {
		if len(p.Plaintext) > len(payload) {
			payload, pkt = p.Plaintext, p.PktNum
		}
	}
	refs := &trackingRefs{nextPkt: 30000}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	var rd Reader
	for b.Loop() {
		rd.Reset(payload, pkt, 1300, refs)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}

// BenchmarkDecodeSmallFrames decodes a payload of many small segments.
func BenchmarkDecodeSmallFrames(b *testing.B) {
	var w Writer
	p := AppendStopWaiting(nil, 100, 90)
	p = AppendAck(p, 50, 10, []AckBlock{{3, 1}, {2, 2}})
	for i := range 60 {
		p = w.AppendUnreliable(p, int64(10+i), 0, true, make([]byte, 12), false)
	}
	refs := &trackingRefs{nextPkt: 30000}
	b.ReportAllocs()
	var rd Reader
	for b.Loop() {
		rd.Reset(p, 100, 1300, refs)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
