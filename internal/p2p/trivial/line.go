// Package trivial is a client for GameNetworkingSockets' trivial
// signaling protocol: plain TCP to a relay that forwards text lines
// between registered identities.
//
// # Protocol
//
// The first line a client sends is its identity ("str:alice\n"). Every
// later line is "<destination identity> <lowercase hex of the signal>\n";
// the server forwards it to the destination's connection as
// "<sender identity> <hex>\n", or drops it silently if the destination is
// not connected. Nothing else is ever sent: no acknowledgements, no
// errors. Identities cannot contain spaces.
//
// The client reconnects whenever the connection fails (registering again,
// at the next server when it was given several),
// keeps at most MaxQueue unsent lines (dropping the oldest), and drops
// received lines longer than MaxLineLength without buffering them.
package trivial

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// DefaultPort is the trivial signaling server's default TCP port.
const DefaultPort = 10000

// MaxLineLength bounds one line, terminator included: a 16 KiB signal
// in hex plus an identity fits with room to spare.
const MaxLineLength = 40 << 10

var (
	// ErrLine: a received line is not "<identity> <hex>".
	ErrLine = errors.New("trivial: malformed line")
	// ErrLineTooLong: a line exceeds MaxLineLength.
	ErrLineTooLong = errors.New("trivial: line too long")
	// ErrIdentity: an identity that cannot be sent in this protocol.
	ErrIdentity = errors.New("trivial: identity unusable in signaling lines")
)

// ParseLine parses one received line, without its "\n": the sender
// identity and the decoded signal. A "\r" before the newline is ignored,
// as is a trailing odd hex digit (as GNS's client does); any other
// non-hex character rejects the line.
func ParseLine(line []byte) (from string, blob []byte, err error) {
	if len(line) >= MaxLineLength {
		return "", nil, ErrLineTooLong
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return "", nil, fmt.Errorf("%w: no space", ErrLine)
	}
	from = string(line[:sp])
	if from == "" {
		return "", nil, fmt.Errorf("%w: no sender", ErrLine)
	}
	digits := line[sp+1:]
	digits = digits[:len(digits)&^1]
	blob = make([]byte, len(digits)/2)
	if _, err := hex.Decode(blob, digits); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrLine, err)
	}
	return from, blob, nil
}

// AppendLine appends the line sending blob to identity to, "\n" included.
func AppendLine(b []byte, to string, blob []byte) ([]byte, error) {
	if err := checkIdentity(to); err != nil {
		return b, err
	}
	if len(to)+2+2*len(blob) > MaxLineLength {
		return b, ErrLineTooLong
	}
	b = append(b, to...)
	b = append(b, ' ')
	b = hex.AppendEncode(b, blob)
	return append(b, '\n'), nil
}

// checkIdentity rejects what would break the line format.
func checkIdentity(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrIdentity)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: %q contains a space or control character", ErrIdentity, id)
		}
	}
	return nil
}
