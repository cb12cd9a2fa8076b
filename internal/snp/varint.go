package snp

import "google.golang.org/protobuf/encoding/protowire"

// Varint byte limits, by the width of the value they decode into. Bits beyond
// the width are dropped, as GNS does.
const (
	maxVarint32 = 5
	maxVarint64 = 10
)

// appendVarint appends v in protobuf base-128 form.
func appendVarint(dst []byte, v uint64) []byte { return protowire.AppendVarint(dst, v) }

// varintLen is the encoded length of v.
func varintLen(v uint64) int { return protowire.SizeVarint(v) }

// readVarint decodes a varint of at most maxBytes bytes from b. It reports
// n == 0 if b ends first or the limit is reached with the continuation bit
// still set. (protowire.ConsumeVarint has no byte limit and refuses what
// overflows 64 bits; GNS bounds the bytes by the width read into and drops
// the excess bits, and so does this.)
func readVarint(b []byte, maxBytes int) (v uint64, n int) {
	var shift uint
	for i := 0; i < len(b) && i < maxBytes; i++ {
		c := b[i]
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if maxBytes == maxVarint32 {
				v &= 0xffffffff
			}
			return v, i + 1
		}
	}
	return 0, 0
}

func le16(b []byte) uint64 { return uint64(b[0]) | uint64(b[1])<<8 }
func le24(b []byte) uint64 { return le16(b) | uint64(b[2])<<16 }
func le32(b []byte) uint64 { return le24(b) | uint64(b[3])<<24 }
func le48(b []byte) uint64 { return le32(b) | uint64(b[4])<<32 | uint64(b[5])<<40 }
func le64(b []byte) uint64 { return le48(b) | uint64(b[6])<<48 | uint64(b[7])<<56 }

// appendLE appends the low n bytes of v, least significant first.
func appendLE(dst []byte, v uint64, n int) []byte {
	for i := 0; i < n; i++ {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// ExpandNearest returns the number closest to ref whose low `width` bits
// equal low (width 16 or 32): how truncated message and packet numbers are
// widened.
func ExpandNearest(low uint64, width uint, ref int64) int64 {
	mask := uint64(1)<<width - 1
	diff := (low - uint64(ref)) & mask
	// Sign-extend the width-bit difference.
	d := int64(diff<<(64-width)) >> (64 - width)
	return ref + d
}

// ExpandStreamPos widens a truncated reliable stream position (width 24, 32
// or 48 bits) against the next position the receiver expects. Unlike
// ExpandNearest it only ever moves forward: a value more than half the range
// behind expected is taken to have wrapped.
func ExpandStreamPos(low uint64, width uint, expected int64) int64 {
	mask := int64(1)<<width - 1
	p := (expected &^ mask) | int64(low)
	if p+(mask>>1) < expected {
		p += mask + 1
	}
	return p
}
