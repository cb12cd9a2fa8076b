package snp

// FrameType is the kind of an SNP frame, decided by its lead byte.
type FrameType uint8

const (
	FrameInvalid FrameType = iota // reserved or invalid lead byte
	FrameUnreliable
	FrameReliable
	FrameStopWaiting
	FrameAck
	FrameSelectLane
)

func (t FrameType) String() string {
	switch t {
	case FrameUnreliable:
		return "unreliable segment"
	case FrameReliable:
		return "reliable segment"
	case FrameStopWaiting:
		return "stop-waiting"
	case FrameAck:
		return "ack"
	case FrameSelectLane:
		return "select-lane"
	}
	return "invalid"
}

// FrameTypeOf classifies a lead byte.
func FrameTypeOf(lead byte) FrameType {
	switch {
	case lead < 0x40: // 00emosss
		return FrameUnreliable
	case lead < 0x60: // 010mmsss
		return FrameReliable
	case lead < 0x80: // 011xxxxx: rejected by GNS's decoder
		return FrameInvalid
	case lead < 0x84: // 100000ww
		return FrameStopWaiting
	case lead < 0x88: // 100001xx: reserved
		return FrameInvalid
	case lead < 0x90: // 10001nnn
		return FrameSelectLane
	case lead < 0xa0: // 1001wnnn
		return FrameAck
	}
	return FrameInvalid
}

// Size limits of the frame layer.
const (
	// MaxSegmentLen is the longest segment an explicit length field can
	// describe (3 bits in the lead byte, then one byte).
	MaxSegmentLen = 4*256 + 255

	// MaxLanes is the number of lanes a lane-select frame may address.
	MaxLanes = 256

	// MaxAckBlocks is the most blocks one ack frame can carry.
	MaxAckBlocks = 255

	// maxAckCountHigh caps the varint holding the upper bits of an ack or
	// nack count.
	maxAckCountHigh = 100000

	// MaxAckRun is the longest run of acked or nacked packets one ack block
	// may carry: a receiver (GNS, mist) rejects larger counts as fatal.
	// Longer runs take several blocks, with zero nacks or zero acks.
	MaxAckRun = maxAckCountHigh<<3 | 7
)

// Frame is one decoded frame. Which fields are set depends on Type; Data
// aliases the payload.
type Frame struct {
	Type   FrameType
	Offset int // where the lead byte is in the payload
	Lane   int // the segment's lane, or the newly selected lane

	// Unreliable segments.
	MsgNum     int64
	FragOffset uint32
	End        bool // this segment ends its message

	// Reliable segments: stream position of Data[0].
	Pos int64

	Data []byte // segment data

	Stop int64 // stop-waiting: lowest packet number still of interest
	Ack  Ack
}

// segment size codes in the low 3 bits of a segment lead byte.
const sizeToEnd = 7

// appendSize writes the size code into the lead byte at dst[lead] and, for an
// explicit length, the length byte. With last set the segment runs to the
// end of the payload and no length is written.
func appendSize(dst []byte, lead, n int, last bool) []byte {
	if last {
		dst[lead] |= sizeToEnd
		return dst
	}
	dst[lead] |= byte(n >> 8)
	return append(dst, byte(n))
}

// segmentData reads the length (if any) at b[off:] and returns the data.
func segmentData(b []byte, off int, code byte) ([]byte, int, error) {
	switch {
	case code == sizeToEnd:
		return b[off:], len(b), nil
	case code > 4:
		return nil, 0, errBadLength
	}
	if off >= len(b) {
		return nil, 0, errShort
	}
	n := int(code)<<8 | int(b[off])
	off++
	if n > len(b)-off {
		return nil, 0, errOverrun
	}
	return b[off : off+n], off + n, nil
}
