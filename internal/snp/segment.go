package snp

// NumKind says how an unreliable segment encodes its message number.
type NumKind uint8

const (
	// NumAbs16 and NumAbs32: the low 16 or 32 bits of the number, used by
	// the first unreliable segment of a lane context.
	NumAbs16 NumKind = iota
	NumAbs32
	// NumNext: no field, the previous number in the context plus one.
	NumNext
	// NumDelta: a varint added to the previous number in the context.
	NumDelta
)

// UnreliableSegment is the raw form of an unreliable segment frame
// (lead byte 00emosss).
type UnreliableSegment struct {
	End     bool    // e: this segment completes the message
	NumKind NumKind // how Num is encoded
	Num     uint64  // truncated number (NumAbs*), delta (NumDelta), or unused
	Offset  uint32  // byte offset of Data within the message
	Data    []byte
}

const (
	unrelEnd    = 0x20
	unrelNum    = 0x10
	unrelOffset = 0x08
)

// AppendUnreliableSegment appends s. NumAbs* forms belong to the first
// unreliable segment of a context, NumNext/NumDelta to later ones. With last
// set, the segment runs to the end of the payload; otherwise len(s.Data)
// must not exceed MaxSegmentLen.
func AppendUnreliableSegment(dst []byte, s UnreliableSegment, last bool) []byte {
	lead := len(dst)
	var b byte
	if s.End {
		b |= unrelEnd
	}
	if s.NumKind == NumAbs32 || s.NumKind == NumDelta {
		b |= unrelNum
	}
	if s.Offset > 0 {
		b |= unrelOffset
	}
	dst = append(dst, b)
	switch s.NumKind {
	case NumAbs16:
		dst = appendLE(dst, s.Num, 2)
	case NumAbs32:
		dst = appendLE(dst, s.Num, 4)
	case NumDelta:
		dst = appendVarint(dst, s.Num)
	}
	if s.Offset > 0 {
		dst = appendVarint(dst, uint64(s.Offset))
	}
	dst = appendSize(dst, lead, len(s.Data), last)
	return append(dst, s.Data...)
}

// ParseUnreliableSegment parses an unreliable segment at the start of b,
// which must extend to the end of the payload (a segment without a length
// takes all of it). inContext tells whether an earlier unreliable segment
// of the same lane context set the message number, which changes what the
// m bit means.
func ParseUnreliableSegment(b []byte, inContext bool) (UnreliableSegment, int, error) {
	var s UnreliableSegment
	if len(b) == 0 {
		return s, 0, errShort
	}
	lead := b[0]
	s.End = lead&unrelEnd != 0
	off := 1
	switch {
	case !inContext && lead&unrelNum == 0:
		if len(b) < off+2 {
			return s, 0, errShort
		}
		s.NumKind, s.Num = NumAbs16, le16(b[off:])
		off += 2
	case !inContext:
		if len(b) < off+4 {
			return s, 0, errShort
		}
		s.NumKind, s.Num = NumAbs32, le32(b[off:])
		off += 4
	case lead&unrelNum == 0:
		s.NumKind = NumNext
	default:
		v, n := readVarint(b[off:], maxVarint64)
		if n == 0 {
			return s, 0, errVarint
		}
		s.NumKind, s.Num = NumDelta, v
		off += n
	}
	if lead&unrelOffset != 0 {
		v, n := readVarint(b[off:], maxVarint32)
		if n == 0 {
			return s, 0, errVarint
		}
		s.Offset = uint32(v)
		off += n
	}
	data, end, err := segmentData(b, off, lead&7)
	if err != nil {
		return s, 0, err
	}
	s.Data = data
	return s, end, nil
}

// PosKind says how a reliable segment encodes its stream position.
type PosKind uint8

const (
	// PosAbs24, PosAbs32, PosAbs48: the low bits of the absolute position,
	// used by the first reliable segment of a lane context.
	PosAbs24 PosKind = iota
	PosAbs32
	PosAbs48
	// PosGap0 .. PosGap32: gap from the end of the previous reliable
	// segment in the context, in no field, a u8, a u16 or a u32.
	PosGap0
	PosGap8
	PosGap16
	PosGap32
)

var posFieldLen = [...]int{PosAbs24: 3, PosAbs32: 4, PosAbs48: 6, PosGap0: 0, PosGap8: 1, PosGap16: 2, PosGap32: 4}

// ReliableSegment is the raw form of a reliable segment frame (lead byte
// 010mmsss).
type ReliableSegment struct {
	PosKind PosKind
	Pos     uint64 // truncated absolute position, or gap
	Data    []byte
}

// GapKind returns the smallest relative form for gap, and false if the gap
// needs more than 32 bits.
func GapKind(gap uint64) (PosKind, bool) {
	switch {
	case gap == 0:
		return PosGap0, true
	case gap <= 0xff:
		return PosGap8, true
	case gap <= 0xffff:
		return PosGap16, true
	case gap <= 0xffffffff:
		return PosGap32, true
	}
	return 0, false
}

// AppendReliableSegment appends s; see AppendUnreliableSegment for last.
func AppendReliableSegment(dst []byte, s ReliableSegment, last bool) []byte {
	lead := len(dst)
	mm := byte(s.PosKind)
	if s.PosKind >= PosGap0 {
		mm = byte(s.PosKind - PosGap0)
	}
	dst = append(dst, 0x40|mm<<3)
	dst = appendLE(dst, s.Pos, posFieldLen[s.PosKind])
	dst = appendSize(dst, lead, len(s.Data), last)
	return append(dst, s.Data...)
}

// ParseReliableSegment parses a reliable segment at the start of b.
// inContext tells whether an earlier reliable segment of the same lane
// context set the position, making the mm bits a relative gap.
func ParseReliableSegment(b []byte, inContext bool) (ReliableSegment, int, error) {
	var s ReliableSegment
	if len(b) == 0 {
		return s, 0, errShort
	}
	lead := b[0]
	mm := (lead >> 3) & 3
	if inContext {
		s.PosKind = PosGap0 + PosKind(mm)
	} else {
		if mm == 3 {
			return s, 0, errReservedWidth
		}
		s.PosKind = PosKind(mm)
	}
	n := posFieldLen[s.PosKind]
	if len(b) < 1+n {
		return s, 0, errShort
	}
	s.Pos = readLE(b[1:], n)
	data, end, err := segmentData(b, 1+n, lead&7)
	if err != nil {
		return s, 0, err
	}
	s.Data = data
	return s, end, nil
}

// readLE reads an n-byte little-endian field.
func readLE(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
