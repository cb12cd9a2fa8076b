package wire

import "testing"

func BenchmarkParseDataHeader(b *testing.B) {
	pkt := AppendDataHeader(nil, &DataHeader{ToConnID: 0x9abcdef0, PacketNumber: 7, Stats: []byte{0x18, 0x06}})
	pkt = append(pkt, make([]byte, 1200-len(pkt))...)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		h, chunk, err := ParseDataHeader(pkt)
		if err != nil || len(chunk) == 0 {
			b.Fatal(err)
		}
		if f, err := StatsAckFlags(h.Stats); err != nil || f != StatsAckRequestE2E|StatsAckRequestImmediate {
			b.Fatal(f, err)
		}
	}
}

func BenchmarkAppendDataHeader(b *testing.B) {
	buf := make([]byte, 0, 64)
	h := DataHeader{ToConnID: 0x9abcdef0, PacketNumber: 7}
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDataHeader(buf[:0], &h)
	}
}

func TestDataPathAllocatesNothing(t *testing.T) {
	pkt := AppendDataHeader(nil, &DataHeader{ToConnID: 1, PacketNumber: 2, Stats: []byte{0x18, 0x02}, HasTimeSincePrev: true})
	pkt = append(pkt, make([]byte, 1100)...)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		h, _, err := ParseDataHeader(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := StatsAckFlags(h.Stats); err != nil {
			t.Fatal(err)
		}
		buf = AppendDataHeader(buf[:0], &h)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}
