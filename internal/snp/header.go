package snp

// MessageHeader precedes each message in a lane's reliable stream.
type MessageHeader struct {
	// NumGap is the message number minus the number of the previous
	// reliable message on the lane (previous starts at 0). Greater than 1
	// when unreliable messages took numbers in between.
	NumGap uint64
	Size   uint64 // body length in bytes
}

// MaxMessageHeaderLen bounds the header size: lead byte and two varints.
const MaxMessageHeaderLen = 1 + 2*maxVarint64

const (
	hdrNumVarint  = 0x40
	hdrSizeVarint = 0x20
)

// AppendMessageHeader appends a reliable message header. GNS writes the
// number varint only for gaps other than 1 and the size varint only for
// sizes of 32 or more.
func AppendMessageHeader(dst []byte, h MessageHeader) []byte {
	lead := byte(h.Size & 0x1f)
	if h.NumGap != 1 {
		lead |= hdrNumVarint
	}
	if h.Size >= 32 {
		lead |= hdrSizeVarint
	}
	dst = append(dst, lead)
	if h.NumGap != 1 {
		dst = appendVarint(dst, h.NumGap)
	}
	if h.Size >= 32 {
		dst = appendVarint(dst, h.Size>>5)
	}
	return dst
}

// MessageHeaderLen is the encoded size of h.
func MessageHeaderLen(h MessageHeader) int {
	n := 1
	if h.NumGap != 1 {
		n += varintLen(h.NumGap)
	}
	if h.Size >= 32 {
		n += varintLen(h.Size >> 5)
	}
	return n
}

// ParseMessageHeader parses a message header at the start of b, which holds
// the reliable stream bytes received so far. It returns ErrIncomplete when
// more bytes are needed and a *DecodeError (Frame "message header") when the
// header is invalid. The size is not checked against any limit.
func ParseMessageHeader(b []byte) (MessageHeader, int, error) {
	var h MessageHeader
	if len(b) == 0 {
		return h, 0, ErrIncomplete
	}
	lead := b[0]
	if lead&0x80 != 0 {
		return h, 0, &DecodeError{Lead: lead, Frame: "message header", Reason: errHeaderBit7.reason}
	}
	off := 1
	h.NumGap = 1
	if lead&hdrNumVarint != 0 {
		v, n, err := streamVarint(b[off:], lead)
		if err != nil {
			return h, 0, err
		}
		h.NumGap = v
		off += n
	}
	h.Size = uint64(lead & 0x1f)
	if lead&hdrSizeVarint != 0 {
		v, n, err := streamVarint(b[off:], lead)
		if err != nil {
			return h, 0, err
		}
		if v >= 1<<58 {
			return h, 0, &DecodeError{Lead: lead, Frame: "message header", Reason: "message size overflows 64 bits"}
		}
		h.Size |= v << 5
		off += n
	}
	return h, off, nil
}

// streamVarint reads a varint in the reliable stream, telling "not all here
// yet" from "can never be valid".
func streamVarint(b []byte, lead byte) (uint64, int, error) {
	v, n := readVarint(b, maxVarint64)
	if n > 0 {
		return v, n, nil
	}
	if len(b) >= maxVarint64 {
		return 0, 0, &DecodeError{Lead: lead, Frame: "message header", Reason: errVarint.reason}
	}
	return 0, 0, ErrIncomplete
}
