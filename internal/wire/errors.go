package wire

import (
	"errors"
	"fmt"
)

// Sentinel causes of a [FormatError], for errors.Is.
var (
	// ErrTruncated: the datagram ends before a field it announces.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: a field has a value the protocol does not allow.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownMessage: the lead byte is not a known message id.
	ErrUnknownMessage = errors.New("unknown message id")
	// ErrTooLong: the datagram is longer than MaxUDPPayload.
	ErrTooLong = errors.New("too long")
)

// FormatError describes what is wrong with a datagram and where.
type FormatError struct {
	Part   string // which part was being read, e.g. "data header"
	Offset int    // byte offset in the parsed buffer where the problem lies
	Reason string // what is wrong, in words
	Err    error  // ErrTruncated, ErrMalformed, ErrUnknownMessage, ErrTooLong or a protobuf error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("wire: %s: at byte %d: %s", e.Part, e.Offset, e.Reason)
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(part string, off int, cause error, format string, args ...any) error {
	return &FormatError{Part: part, Offset: off, Reason: fmt.Sprintf(format, args...), Err: cause}
}
