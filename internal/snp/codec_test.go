package snp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// unhex decodes hex written with spaces, "|" separators and // comments.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "//")
		clean.WriteString(strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(line))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixedRefs is a Refs with constant answers.
type fixedRefs struct{ highest, nextPos, nextPkt int64 }

func (r fixedRefs) HighestMsgNum(int) int64 { return r.highest }
func (r fixedRefs) NextStreamPos(int) int64 { return r.nextPos }
func (r fixedRefs) NextPacketToSend() int64 { return r.nextPkt }

func decodeAll(t *testing.T, payload []byte, pktNum int64, refs Refs) []Frame {
	t.Helper()
	var rd Reader
	rd.Reset(payload, pktNum, 0, refs)
	var out []Frame
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out = append(out, f)
	}
}

// Example A of the protocol notes: the client's first data packet carries
// reliable message 1, "hello".
func TestGoldenExampleA(t *testing.T) {
	want := unhex(t, `
		80 01                   // stop-waiting, 1-byte form, v=1: stop = 2-(1+1) = 0
		98 01 00 ff ff          // ack, w=1, 0 blocks, latest=1, delay unknown
		57 01 00 00 00 00 00    // reliable, 48-bit absolute pos=1, runs to the end
		05 68 65 6c 6c 6f       // message header: next number, size 5; "hello"`)
	var stream []byte
	stream = AppendMessageHeader(stream, MessageHeader{NumGap: 1, Size: 5})
	stream = append(stream, "hello"...)

	var w Writer
	got := AppendStopWaiting(nil, 2, 0)
	got = AppendAck(got, 1, AckDelayUnknown, nil)
	got = w.AppendReliable(got, 1, stream, true)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, want)
	}

	fs := decodeAll(t, want, 2, fixedRefs{nextPos: 1, nextPkt: 2})
	if len(fs) != 3 || fs[0].Stop != 0 || fs[1].Ack.Latest != 1 || fs[1].Ack.NumBlocks != 0 ||
		fs[1].Ack.Delay != AckDelayUnknown || fs[2].Pos != 1 || !bytes.Equal(fs[2].Data, stream) {
		t.Fatalf("decoded %+v", fs)
	}
	h, n, err := ParseMessageHeader(fs[2].Data)
	if err != nil || n != 1 || h.NumGap != 1 || h.Size != 5 {
		t.Fatalf("header %+v %d %v", h, n, err)
	}

	// Not the last frame: explicit length byte, sss=0.
	seg := w2(t, func(w *Writer, b []byte) []byte { return w.AppendReliable(b, 1, stream, false) })
	if want := unhex(t, "50 010000000000 06 05 68656c6c6f"); !bytes.Equal(seg, want) {
		t.Fatalf("explicit-length segment %x, want %x", seg, want)
	}
	// 24-bit absolute position, which GNS never sends but decoders accept.
	fs = decodeAll(t, unhex(t, "47 010000 05 68656c6c6f"), 2, fixedRefs{nextPos: 1})
	if fs[0].Pos != 1 || len(fs[0].Data) != 6 {
		t.Fatalf("24-bit form decoded %+v", fs[0])
	}
}

func w2(t *testing.T, f func(*Writer, []byte) []byte) []byte {
	t.Helper()
	var w Writer
	return f(&w, nil)
}

// Example B: an unreliable message in the client's packet 3.
func TestGoldenExampleB(t *testing.T) {
	want := unhex(t, `
		80 00                  // stop-waiting v=0: stop = 3-1 = 2
		98 02 00 2e 00         // ack latest=2, delay=46*32us
		37 02 00 00 00         // unreliable: e=1 m=1 (32-bit absolute) o=0 sss=7; msgnum 2
		70 69 6e 67            // "ping"`)
	var w Writer
	got := AppendStopWaiting(nil, 3, 2)
	got = AppendAck(got, 2, EncodeAckDelay(1500*time.Microsecond), nil)
	got = w.AppendUnreliable(got, 2, 0, true, []byte("ping"), true)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, want)
	}
	fs := decodeAll(t, want, 3, fixedRefs{highest: 1, nextPkt: 3})
	if f := fs[2]; f.MsgNum != 2 || !f.End || f.FragOffset != 0 || string(f.Data) != "ping" {
		t.Fatalf("decoded %+v", f)
	}
	// Explicit length; and the 16-bit absolute form.
	for _, tc := range []struct{ enc string }{{"30 02000000 04 70696e67"}, {"27 0200 70696e67"}} {
		fs := decodeAll(t, unhex(t, tc.enc), 3, fixedRefs{highest: 1})
		if fs[0].MsgNum != 2 || string(fs[0].Data) != "ping" {
			t.Errorf("%s decoded %+v", tc.enc, fs[0])
		}
	}

	// Mixed context: unreliable #5, a reliable segment (bumps the context
	// to 6), then unreliable #7 needs no number field.
	var mw Writer
	p := mw.AppendUnreliable(nil, 5, 0, true, []byte("a"), false)
	p = mw.AppendReliable(p, 1, []byte{0}, false)
	third := len(p)
	p = mw.AppendUnreliable(p, 7, 0, true, []byte("b"), true)
	if want := unhex(t, "27 62"); !bytes.Equal(p[third:], want) {
		t.Fatalf("third frame %x, want %x", p[third:], want)
	}
	fs = decodeAll(t, p, 9, fixedRefs{highest: 4, nextPos: 1})
	if fs[0].MsgNum != 5 || fs[2].MsgNum != 7 {
		t.Fatalf("mixed context decoded %d, %d", fs[0].MsgNum, fs[2].MsgNum)
	}
}

// Example C: an ack with two blocks.
func TestGoldenExampleC(t *testing.T) {
	want := unhex(t, `
		80 04      // stop-waiting v=4: stop = 45-5 = 40
		9a         // ack, w=1, 2 blocks
		14 00      // latest 20
		3e 00      // delay 62*32us
		31         // block: 3 acked (18..20), 1 nacked (17)
		32         // block: 3 acked (14..16), 2 nacked (12,13)`)
	blocks := []AckBlock{{3, 1}, {3, 2}}
	got := AppendStopWaiting(nil, 45, 40)
	got = AppendAck(got, 20, EncodeAckDelay(2*time.Millisecond), blocks)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded %x want %x", got, want)
	}
	if n := AckLen(blocks); n != len(want)-2 {
		t.Errorf("AckLen %d, want %d", n, len(want)-2)
	}
	fs := decodeAll(t, want, 45, fixedRefs{nextPkt: 30})
	a := fs[1].Ack
	if a.Latest != 20 || a.Delay != 62 || a.NumBlocks != 2 {
		t.Fatalf("ack %+v", a)
	}
	it := a.Blocks()
	for i, w := range blocks {
		b, ok := it.Next()
		if !ok || b != w {
			t.Fatalf("block %d = %+v, want %+v", i, b, w)
		}
	}
	if _, ok := it.Next(); ok {
		t.Fatal("extra block")
	}

	// Ack 20, nack 10: 1 100 1 010, then varints 2 and 1.
	if got := AppendAck(nil, 20, 62, []AckBlock{{20, 10}}); !bytes.Equal(got[5:], unhex(t, "ca 02 01")) {
		t.Errorf("long block %x", got[5:])
	}
	// 32-bit latest (w=0) is accepted from protocol 13 peers.
	fs = decodeAll(t, unhex(t, "92 14000000 3e00 31 32"), 45, fixedRefs{nextPkt: 30})
	if fs[0].Ack.Latest != 20 || !fs[0].Ack.Wide || fs[0].Ack.NumBlocks != 2 {
		t.Errorf("wide ack %+v", fs[0].Ack)
	}
	// More than 6 blocks: count byte.
	nine := make([]AckBlock, 9)
	for i := range nine {
		nine[i] = AckBlock{1, 1}
	}
	got = AppendAck(nil, 20, 0, nine)
	if got[0] != 0x9f || got[5] != 9 || len(got) != 6+9 {
		t.Errorf("nine blocks %x", got)
	}
	fs = decodeAll(t, got, 45, fixedRefs{nextPkt: 30})
	if fs[0].Ack.NumBlocks != 9 {
		t.Errorf("nine blocks decoded as %d", fs[0].Ack.NumBlocks)
	}
}

// Example D: a 2000-byte message after #1 (reliable) and #2 (unreliable).
func TestGoldenExampleD(t *testing.T) {
	h := MessageHeader{NumGap: 2, Size: 2000}
	hdr := AppendMessageHeader(nil, h)
	// 0x70: m=1 (gap varint), s=1 (size varint), low size bits 2000&31=16;
	// gap 2; size>>5 = 62.
	if want := unhex(t, "70 02 3e"); !bytes.Equal(hdr, want) {
		t.Fatalf("header %x want %x", hdr, want)
	}
	if MessageHeaderLen(h) != 3 {
		t.Errorf("MessageHeaderLen = %d", MessageHeaderLen(h))
	}
	got, n, err := ParseMessageHeader(append(hdr, 1, 2, 3))
	if err != nil || n != 3 || got != h {
		t.Fatalf("parsed %+v %d %v", got, n, err)
	}
	// Second packet: 48-bit position 1144 = 0x478.
	var w Writer
	seg := w.AppendReliable(nil, 1144, []byte{9}, true)
	if want := unhex(t, "57 780400000000 09"); !bytes.Equal(seg, want) {
		t.Fatalf("segment %x want %x", seg, want)
	}
	for i := 1; i < len(hdr); i++ {
		if _, _, err := ParseMessageHeader(hdr[:i]); err != ErrIncomplete {
			t.Errorf("prefix %d: %v, want ErrIncomplete", i, err)
		}
	}
	var de *DecodeError
	if _, _, err := ParseMessageHeader([]byte{0x80}); !errors.As(err, &de) {
		t.Errorf("bit 7 set: %v", err)
	}
}

func TestGoldenSmallForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"stop 2-byte", AppendStopWaiting(nil, 1000, 1), "81 e6 03"},             // v = 1000-1-1 = 998
		{"stop 3-byte", AppendStopWaiting(nil, 1<<20, 0), "82 ff ff 0f"},         // v = 2^20-1
		{"stop 8-byte", AppendStopWaiting(nil, 1<<30, 0), "83 ffffff3f00000000"}, // v = 2^30-1
		{"lane 1", AppendSelectLane(nil, 1), "88"},
		{"lane 7", AppendSelectLane(nil, 7), "8e"},
		{"lane 0", AppendSelectLane(nil, 0), "8f 00"},
		{"lane 200", AppendSelectLane(nil, 200), "8f c8 01"},
		{"header small", AppendMessageHeader(nil, MessageHeader{NumGap: 1, Size: 31}), "1f"},
		{"header empty gap 3", AppendMessageHeader(nil, MessageHeader{NumGap: 3, Size: 0}), "40 03"},
		// Unreliable, not last, offset 1100: 0x08 offset flag, delta form after #1.
		{"unreliable offset", func() []byte {
			var w Writer
			b := w.AppendUnreliable(nil, 1, 0, true, nil, false) // 30 01000000 00
			return w.AppendUnreliable(b, 3, 1100, false, []byte{7}, false)
		}(), "30 01000000 00 | 18 02 cc08 01 07"},
		// Relative gap forms after a first reliable segment ending at 11.
		{"reliable gaps", func() []byte {
			var w Writer
			b := w.AppendReliable(nil, 10, []byte{1}, false)       // 50 0a0000000000 01 01
			b = w.AppendReliable(b, 11, []byte{2}, false)          // 40 01 02  (gap 0)
			b = w.AppendReliable(b, 12+5, []byte{3}, false)        // 48 05 01 03 (u8 gap)
			return w.AppendReliable(b, 18+0x1234, []byte{4}, true) // 57 3412 04 (u16 gap)
		}(), "50 0a0000000000 01 01 | 40 01 02 | 48 05 01 03 | 57 3412 04"},
	} {
		if want := unhex(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s: %x, want %x", tc.name, tc.got, want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    error // nil: a *DecodeError
	}{
		{"invalid 0x60", "60", nil},
		{"reserved 0x84", "84", nil},
		{"reserved 0xa0", "a0", nil},
		{"reserved 0xff", "ff", nil},
		{"size code 5", "55 010000000000 00", nil},
		{"size code 6", "26 0100", nil},
		{"overrun", "50 010000000000 05 01", nil},
		{"reliable mm=11", "5f 01", nil},
		{"truncated stop", "81 01", nil},
		{"stop negative", "80 05", nil},
		{"unreliable number zero", "37 00000000", nil},
		{"ack below zero", "99 0100 ffff 30", nil}, // latest 1, block acks 3
		{"ack count too big", "99 0100 ffff 80 a18d06", nil},
		{"lane too big", "8f 8002", nil},
		{"varint runs off", "8f 80", nil},
		{"ack from the future", "98 0900 ffff", ErrAckFromFuture},
	} {
		var rd Reader
		rd.Reset(unhex(t, tc.payload), 5, 0, fixedRefs{nextPos: 1, nextPkt: 9})
		var err error
		for err == nil {
			_, err = rd.Next()
		}
		var de *DecodeError
		switch {
		case tc.want != nil && err != tc.want:
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case tc.want == nil && !errors.As(err, &de):
			t.Errorf("%s: %v, want a DecodeError", tc.name, err)
		}
		if _, again := rd.Next(); again != err {
			t.Errorf("%s: error not sticky", tc.name)
		}
	}
}

func TestSegmentBudget(t *testing.T) {
	var w Writer
	p := w.AppendReliable(nil, 1, []byte{1}, false)
	p = w.AppendReliable(p, 2, []byte{2}, false)
	p = w.AppendReliable(p, 3, []byte{3}, true)
	var rd Reader
	rd.Reset(p, 2, 2, fixedRefs{nextPos: 1})
	n := 0
	var err error
	for {
		if _, err = rd.Next(); err != nil {
			break
		}
		n++
	}
	if n != 2 || err != ErrSegmentBudget {
		t.Fatalf("decoded %d segments then %v; want 2 then ErrSegmentBudget", n, err)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		low   uint64
		width uint
		ref   int64
		want  int64
	}{
		{2, 16, 1, 2},
		{0xffff, 16, 0x10000, 0xffff},
		{0x0001, 16, 0xfff0, 0x10001},
		{5, 32, 0x1_0000_0000, 0x1_0000_0005},
		{0xffff_fff0, 32, 0x1_0000_0005, 0xffff_fff0},
	} {
		if got := ExpandNearest(tc.low, tc.width, tc.ref); got != tc.want {
			t.Errorf("ExpandNearest(%#x, %d, %#x) = %#x, want %#x", tc.low, tc.width, tc.ref, got, tc.want)
		}
	}
	if got := ExpandStreamPos(5, 24, 1<<24+0x900000); got != 2<<24+5 {
		t.Errorf("stream pos wrapped forward: %#x", got)
	}
	if got := ExpandStreamPos(0x478, 48, 7); got != 0x478 {
		t.Errorf("stream pos %#x", got)
	}
}

func TestEncodeAckDelay(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want uint16
	}{
		{0, 0}, {31 * time.Microsecond, 0}, {32 * time.Microsecond, 1},
		{1500 * time.Microsecond, 46}, {0xfffe << 5 * time.Microsecond, 0xfffe},
		{3 * time.Second, AckDelayUnknown}, {-time.Second, 0},
	} {
		if got := EncodeAckDelay(tc.d); got != tc.want {
			t.Errorf("EncodeAckDelay(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
