package endpoint

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzGSORun checks the run rule on arbitrary batches: each byte pair is a
// datagram (size, destination).
func FuzzGSORun(f *testing.F) {
	f.Add([]byte{200, 0, 200, 0, 200, 0, 100, 0}, uint8(64))
	f.Add([]byte{100, 0, 200, 0, 200, 1, 0, 0}, uint8(2))
	f.Add(bytes.Repeat([]byte{255, 0}, 80), uint8(64))
	f.Fuzz(func(t *testing.T, in []byte, limit uint8) {
		if len(in) < 2 {
			return
		}
		dsts := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("[::1]:1")}
		var ms []Packet
		for i := 0; i+1 < len(in); i += 2 {
			// Sizes up to ~1,500 bytes so the byte limit is reachable.
			ms = append(ms, Packet{Buf: make([]byte, int(in[i])*6), Addr: dsts[in[i+1]&1]})
		}
		lim := max(int(limit)%(maxGSOSegments+1), 1)
		run := gsoRun(ms, lim)
		if run < 1 || run > len(ms) || (run > 1 && run > lim) {
			t.Fatalf("run %d of %d datagrams, limit %d", run, len(ms), lim)
		}
		size, total := len(ms[0].Buf), 0
		for i, p := range ms[:run] {
			total += len(p.Buf)
			last := i == run-1
			switch {
			case p.Addr != ms[0].Addr:
				t.Fatalf("datagram %d to %v in a run to %v", i, p.Addr, ms[0].Addr)
			case run > 1 && !last && len(p.Buf) != size:
				t.Fatalf("datagram %d: %d bytes inside a run of %d", i, len(p.Buf), size)
			case run > 1 && last && (len(p.Buf) == 0 || len(p.Buf) > size):
				t.Fatalf("last datagram %d bytes in a run of %d", len(p.Buf), size)
			}
		}
		if run > 1 && total > maxGSOBytes {
			t.Fatalf("run of %d bytes", total)
		}
		// The run stops only where the rule says so.
		if run < len(ms) && run < lim && size > 0 && len(ms[run-1].Buf) == size {
			next := ms[run]
			if next.Addr == ms[0].Addr && len(next.Buf) > 0 && len(next.Buf) <= size && total+len(next.Buf) <= maxGSOBytes {
				t.Fatalf("run of %d stopped before datagram %d that fits", run, run)
			}
		}
	})
}

// FuzzGROHandOut splits an arbitrary train into caller batches of
// arbitrary buffer sizes: segments come out in order, each whole or not at
// all, and only oversized ones are dropped.
func FuzzGROHandOut(f *testing.F) {
	f.Add(uint16(5300), uint16(1300), []byte{8, 8, 2})
	f.Add(uint16(100), uint16(0), []byte{1})
	f.Add(uint16(65535), uint16(1), []byte{255, 1, 0, 7})
	f.Fuzz(func(t *testing.T, length, segment uint16, caps []byte) {
		if length == 0 || len(caps) == 0 {
			return
		}
		data := make([]byte, length)
		for i := range data {
			data[i] = byte(i * 13)
		}
		seg := int(segment)
		if seg <= 0 || seg > len(data) {
			seg = len(data) // as segmentSize reports a datagram without GRO
		}
		src := netip.MustParseAddrPort("10.0.0.1:5")
		r := &mmsgReader{gro: true, slots: [][]byte{data}, received: []groSlot{{len: len(data), segment: seg, addr: src}}}
		pos := 0 // the next segment's offset, as the rule predicts it
		for round := 0; r.next < len(r.received); round++ {
			if round > len(data)+1 {
				t.Fatal("handOut makes no progress")
			}
			ms := make([]Packet, 1+int(caps[round%len(caps)])%8)
			for i := range ms {
				ms[i].Buf = make([]byte, 0, int(caps[(round+i)%len(caps)])*8)
			}
			caps := make([]int, len(ms))
			for i := range ms {
				caps[i] = cap(ms[i].Buf)
			}
			n := r.handOut(ms)
			filled := 0
			for i := range ms {
				// A segment too large for the buffer it meets is dropped
				// and the next one tried in the same buffer.
				for pos < len(data) && min(seg, len(data)-pos) > caps[i] {
					pos += seg
				}
				if pos >= len(data) {
					break
				}
				want := data[pos:min(pos+seg, len(data))]
				if i >= n || !bytes.Equal(ms[i].Buf, want) || ms[i].N != len(want) || ms[i].Addr != src {
					t.Fatalf("round %d packet %d (of %d): got %d bytes, want the %d at offset %d", round, i, n, len(ms[i].Buf), len(want), pos)
				}
				pos += seg
				filled++
			}
			if n != filled {
				t.Fatalf("round %d: handOut filled %d, want %d", round, n, filled)
			}
		}
		if pos < len(data) {
			t.Fatalf("train ended at %d of %d bytes", pos, len(data))
		}
	})
}
