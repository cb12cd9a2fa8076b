package snp

// Writer appends segments to a payload under the same per-packet context a
// Reader tracks, choosing the compressed header forms GNS uses: a 32-bit
// absolute message number and a 48-bit absolute position for the first
// segment of each kind in a lane context, relative forms after that.
// The zero value starts a packet on lane 0.
type Writer struct {
	lane   int
	curMsg int64
	relEnd int64
}

// Reset starts a new packet on lane 0.
func (w *Writer) Reset() { *w = Writer{} }

// SelectLane appends a select-lane frame if lane differs from the current
// one, resetting the context.
func (w *Writer) SelectLane(dst []byte, lane int) []byte {
	if lane == w.lane {
		return dst
	}
	*w = Writer{lane: lane}
	return AppendSelectLane(dst, lane)
}

// UnreliableHeaderLen bounds the header size of an unreliable segment of
// message msgNum at offset, whatever the context (lead byte, number field,
// offset varint, length byte).
func UnreliableHeaderLen(msgNum int64, offset int) int {
	return 1 + max(4, varintLen(uint64(msgNum))) + varintLen(uint64(offset)) + 1
}

// ReliableHeaderLen bounds the header size of a reliable segment.
const ReliableHeaderLen = 1 + 6 + 1

// AppendUnreliable appends an unreliable segment of message msgNum. With
// last set it runs to the end of the payload. msgNum must not be below a
// number already written in this lane context, or the Writer re-selects
// the lane to start a fresh context (costing up to 3 bytes; see
// RestartLen).
func (w *Writer) AppendUnreliable(dst []byte, msgNum int64, offset int, end bool, data []byte, last bool) []byte {
	if w.curMsg > 0 && msgNum < w.curMsg {
		dst = w.restart(dst)
	}
	s := UnreliableSegment{End: end, Offset: uint32(offset), Data: data}
	switch {
	case w.curMsg == 0:
		s.NumKind, s.Num = NumAbs32, uint64(msgNum)&0xffffffff
	case msgNum == w.curMsg+1:
		s.NumKind = NumNext
	default:
		s.NumKind, s.Num = NumDelta, uint64(msgNum-w.curMsg)
	}
	w.curMsg = msgNum
	return AppendUnreliableSegment(dst, s, last)
}

// AppendReliable appends a reliable segment holding stream bytes starting
// at pos. Positions should ascend within a lane; going backwards costs a
// lane re-selection, as for AppendUnreliable.
func (w *Writer) AppendReliable(dst []byte, pos int64, data []byte, last bool) []byte {
	s := ReliableSegment{Data: data}
	kind, ok := GapKind(uint64(pos - w.relEnd))
	if w.relEnd > 0 && (pos < w.relEnd || !ok) {
		dst = w.restart(dst)
	}
	if w.relEnd == 0 {
		kind, s.Pos = PosAbs48, uint64(pos)&(1<<48-1)
	} else {
		s.Pos = uint64(pos - w.relEnd)
	}
	s.PosKind = kind
	w.relEnd = pos + int64(len(data))
	// The reader bumps its message number after every reliable segment
	// once one is established; keep in step.
	if w.curMsg > 0 {
		w.curMsg++
	}
	return AppendReliableSegment(dst, s, last)
}

// RestartLen bounds the extra bytes a Writer spends re-selecting a lane.
const RestartLen = 3

// restart re-selects the current lane, which resets the context on both
// sides so the next segment can use an absolute number or position.
func (w *Writer) restart(dst []byte) []byte {
	lane := w.lane
	*w = Writer{lane: lane}
	if lane >= 1 && lane <= 7 {
		return append(dst, byte(0x87+lane))
	}
	return appendVarint(append(dst, 0x8f), uint64(lane))
}

// ExtendLastSegment turns the segment whose lead byte is at p[lead], and
// which ends p with dataLen bytes of data behind an explicit length byte,
// into the "runs to the end" form GNS uses for the final frame: one byte
// shorter. lead may also point at a lane re-selection the Writer emitted
// just before the segment.
func ExtendLastSegment(p []byte, lead, dataLen int) []byte {
	if lead < len(p) && FrameTypeOf(p[lead]) == FrameSelectLane {
		if _, n, err := ParseSelectLane(p[lead:]); err == nil {
			lead += n
		}
	}
	if lead >= len(p) || (FrameTypeOf(p[lead]) != FrameUnreliable && FrameTypeOf(p[lead]) != FrameReliable) {
		return p
	}
	lenAt := len(p) - dataLen - 1
	if lenAt <= lead || p[lenAt] != byte(dataLen) || int(p[lead]&7) != dataLen>>8 {
		return p // not the layout described; leave it valid as it is
	}
	p[lead] |= sizeToEnd
	copy(p[lenAt:], p[lenAt+1:])
	return p[:len(p)-1]
}

// ReliableLen is the exact number of bytes AppendReliable would add for n
// data bytes at pos with an explicit length (one less when last).
func (w *Writer) ReliableLen(pos int64, n int) int {
	size := 1 + 1 + n // lead, length byte, data
	kind, ok := GapKind(uint64(pos - w.relEnd))
	switch {
	case w.relEnd > 0 && (pos < w.relEnd || !ok):
		size += w.restartLen() + posFieldLen[PosAbs48]
	case w.relEnd == 0:
		size += posFieldLen[PosAbs48]
	default:
		size += posFieldLen[kind]
	}
	return size
}

// UnreliableLen is the exact number of bytes AppendUnreliable would add
// for n data bytes of message msgNum at offset with an explicit length.
func (w *Writer) UnreliableLen(msgNum int64, offset, n int) int {
	size := 1 + 1 + n
	cur := w.curMsg
	if cur > 0 && msgNum < cur {
		size += w.restartLen()
		cur = 0
	}
	switch {
	case cur == 0:
		size += 4
	case msgNum == cur+1:
	default:
		size += varintLen(uint64(msgNum - cur))
	}
	if offset > 0 {
		size += varintLen(uint64(offset))
	}
	return size
}

func (w *Writer) restartLen() int { return SelectLaneLen(w.lane) }
