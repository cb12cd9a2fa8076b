package snp

import "io"

// Refs supplies the receiver state that truncated numbers in a payload are
// expanded against. The Reader consults it as it goes, so changes the caller
// makes while handling one frame affect the next.
type Refs interface {
	// HighestMsgNum is the highest message number seen so far on lane
	// (0 if none): the reference for absolute unreliable message numbers.
	HighestMsgNum(lane int) int64
	// NextStreamPos is the next reliable stream position the lane expects
	// (1 at the start): the reference for absolute stream positions.
	NextStreamPos(lane int) int64
	// NextPacketToSend is the number of the next packet the receiver will
	// send: the reference for the ack frame's latest packet.
	NextPacketToSend() int64
}

// Reader decodes the frames of one plaintext payload, tracking the
// per-packet context (current lane, last message number and stream
// position) that segment headers are compressed against. The zero value is
// unusable; call Reset.
type Reader struct {
	b      []byte
	off    int
	pktNum int64
	refs   Refs
	budget int // segments still allowed in this packet

	lane   int
	curMsg int64 // 0: no unreliable number established in this context
	relEnd int64 // 0: no reliable position established in this context

	sticky error // set once Next fails
}

// Reset starts decoding payload, received as packet pktNum. maxSegments is
// the receiver's RecvMaxSegmentsPerPacket (values < 1 mean no limit).
func (r *Reader) Reset(payload []byte, pktNum int64, maxSegments int, refs Refs) {
	if maxSegments < 1 {
		maxSegments = int(^uint(0) >> 1)
	}
	*r = Reader{b: payload, pktNum: pktNum, refs: refs, budget: maxSegments}
}

// Lane is the lane the next segment would belong to.
func (r *Reader) Lane() int { return r.lane }

// Next decodes the next frame. It returns io.EOF after the last one,
// ErrSegmentBudget or ErrAckFromFuture when decoding must stop early (see
// their docs), and a *DecodeError for a malformed frame. After any error,
// Next keeps returning it.
func (r *Reader) Next() (Frame, error) {
	if r.sticky != nil {
		return Frame{}, r.sticky
	}
	if r.off >= len(r.b) {
		return Frame{}, io.EOF
	}
	f, err := r.next()
	if err != nil {
		r.sticky = wrap(err, r.b, r.off)
		return Frame{}, r.sticky
	}
	return f, nil
}

func (r *Reader) next() (Frame, error) {
	b := r.b[r.off:]
	lead := b[0]
	f := Frame{Type: FrameTypeOf(lead), Offset: r.off, Lane: r.lane}
	switch f.Type {
	case FrameUnreliable:
		if r.budget == 0 {
			return f, ErrSegmentBudget
		}
		r.budget--
		s, n, err := ParseUnreliableSegment(b, r.curMsg > 0)
		if err != nil {
			return f, err
		}
		switch s.NumKind {
		case NumAbs16, NumAbs32:
			width := uint(16)
			if s.NumKind == NumAbs32 {
				width = 32
			}
			num := ExpandNearest(s.Num, width, r.refs.HighestMsgNum(r.lane))
			if num <= 0 {
				return f, &parseErr{"unreliable message number expands to zero or less"}
			}
			r.curMsg = num
		case NumNext:
			r.curMsg++
		case NumDelta:
			next := r.curMsg + int64(s.Num)
			if s.Num > 1<<62 || next < r.curMsg {
				return f, &parseErr{"unreliable message number overflows"}
			}
			r.curMsg = next
		}
		f.MsgNum, f.FragOffset, f.End, f.Data = r.curMsg, s.Offset, s.End, s.Data
		r.off += n
	case FrameReliable:
		if r.budget == 0 {
			return f, ErrSegmentBudget
		}
		r.budget--
		s, n, err := ParseReliableSegment(b, r.relEnd > 0)
		if err != nil {
			return f, err
		}
		var pos int64
		if s.PosKind < PosGap0 {
			width := [...]uint{PosAbs24: 24, PosAbs32: 32, PosAbs48: 48}[s.PosKind]
			pos = ExpandStreamPos(s.Pos, width, r.refs.NextStreamPos(r.lane))
			if pos <= 0 {
				return f, &parseErr{"reliable stream position expands to zero or less"}
			}
		} else {
			pos = r.relEnd + int64(s.Pos)
		}
		if pos > 1<<62 {
			return f, &parseErr{"reliable stream position out of range"}
		}
		r.relEnd = pos + int64(len(s.Data))
		if r.curMsg > 0 {
			r.curMsg++
		}
		f.Pos, f.Data = pos, s.Data
		r.off += n
	case FrameStopWaiting:
		stop, n, err := ParseStopWaiting(b, r.pktNum)
		if err != nil {
			return f, err
		}
		f.Stop = stop
		r.off += n
	case FrameAck:
		a, n, err := ParseAck(b)
		if err != nil {
			return f, err
		}
		width := uint(16)
		if a.Wide {
			width = 32
		}
		next := r.refs.NextPacketToSend()
		a.Latest = ExpandNearest(uint64(a.Latest), width, next)
		if a.Latest < 0 {
			return f, &parseErr{"ack latest packet number below zero"}
		}
		if a.Latest >= next {
			return f, ErrAckFromFuture
		}
		// Every ack and nack run must stay at or above packet 0.
		end := a.Latest + 1
		it := a.Blocks()
		for blk, ok := it.Next(); ok; blk, ok = it.Next() {
			run := blk.Acked + blk.Nacked
			if run > uint64(end) {
				return f, &parseErr{"ack block reaches below packet 0"}
			}
			end -= int64(run)
		}
		f.Ack = a
		r.off += n
	case FrameSelectLane:
		lane, n, err := ParseSelectLane(b)
		if err != nil {
			return f, err
		}
		r.lane, r.curMsg, r.relEnd = lane, 0, 0
		f.Lane = lane
		r.off += n
	default:
		return f, &parseErr{"reserved lead byte"}
	}
	return f, nil
}
