package signaling

import "bytes"

// asciiSpace is what GNS's example server strips from identities: Python's
// bytes.strip() set.
const asciiSpace = " \t\n\r\v\f"

// ParseIdentity returns the identity a greeting line registers: the line
// (with or without its terminator) trimmed of ASCII whitespace. It is empty
// when the line holds nothing else.
func ParseIdentity(line []byte) []byte {
	return bytes.Trim(line, asciiSpace)
}

// ParseSignal splits a signal line "DESTINATION PAYLOAD" at its first
// space. dest is trimmed of ASCII whitespace; payload is everything after
// the space, including the line terminator, which is forwarded as received.
// ok is false for a line without a space or with an empty destination,
// which the protocol ignores.
func ParseSignal(line []byte) (dest, payload []byte, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return nil, nil, false
	}
	dest = bytes.Trim(line[:i], asciiSpace)
	if len(dest) == 0 {
		return nil, nil, false
	}
	return dest, line[i+1:], true
}

// AppendForward appends the line the destination receives for a signal:
// "SENDER PAYLOAD", the payload carrying its own terminator.
func AppendForward(b []byte, sender string, payload []byte) []byte {
	b = append(b, sender...)
	b = append(b, ' ')
	return append(b, payload...)
}
