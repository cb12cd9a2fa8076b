package snp

import (
	"errors"
	"fmt"
)

// A DecodeError reports a malformed frame. GNS closes the connection on any
// of these (end reason 5002, Misc_InternalError).
type DecodeError struct {
	Offset int    // offset of the frame's lead byte in the payload
	Lead   byte   // the lead byte
	Frame  string // frame kind, as far as the lead byte tells
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("snp: %s frame (lead 0x%02x) at offset %d: %s", e.Frame, e.Lead, e.Offset, e.Reason)
}

// errShort is the reason used when a frame runs past the end of its input.
const reasonShort = "truncated"

var (
	// ErrSegmentBudget means the packet holds more segments than the
	// receiver allows (RecvMaxSegmentsPerPacket). Decoding stops there; the
	// frames before it keep their effect, and the packet must not be acked.
	ErrSegmentBudget = errors.New("snp: too many segments in one packet")

	// ErrAckFromFuture means an ack frame names a packet the receiver has
	// not sent yet. GNS abandons the rest of the packet without recording it
	// as received; it does not close the connection.
	ErrAckFromFuture = errors.New("snp: ack for a packet not yet sent")

	// ErrIncomplete is returned by ParseMessageHeader when the header runs
	// past the bytes available so far.
	ErrIncomplete = errors.New("snp: incomplete message header")
)

// parseErr is a parse failure without position; Reader adds the offset.
type parseErr struct{ reason string }

func (e *parseErr) Error() string { return "snp: " + e.reason }

var (
	errShort         = &parseErr{reasonShort}
	errBadLength     = &parseErr{"reserved segment size code (5 or 6)"}
	errOverrun       = &parseErr{"segment length runs past the end of the payload"}
	errVarint        = &parseErr{"malformed varint"}
	errReservedWidth = &parseErr{"reserved position width 11"}
	errBlockCount    = &parseErr{"ack or nack count above 100000"}
	errLane          = &parseErr{"lane number above 255"}
	errHeaderBit7    = &parseErr{"message header byte has bit 7 set"}
)

// wrap turns a parse failure into a DecodeError at off.
func wrap(err error, b []byte, off int) error {
	pe, ok := err.(*parseErr)
	if !ok {
		return err
	}
	lead := byte(0)
	if off < len(b) {
		lead = b[off]
	}
	return &DecodeError{Offset: off, Lead: lead, Frame: FrameTypeOf(lead).String(), Reason: pe.reason}
}
