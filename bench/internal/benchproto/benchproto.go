// Package benchproto is the small protocol every bench server speaks, so one
// client can drive servers built on any library.
//
// The first byte of each message selects what the server does:
//
//	'E'  echo the whole message back with the same reliability
//	'S'  sink: count the message's bytes and the message
//	'Q'  reply reliably with 'Q', sink bytes (uint64 LE), sink messages (uint64 LE)
//
// Any other message, and the empty message, is ignored.
package benchproto

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// Operation codes, the first byte of a message.
const (
	OpEcho  byte = 'E'
	OpSink  byte = 'S'
	OpQuery byte = 'Q'
)

// QueryReplyLen is the size of a reply to 'Q'.
const QueryReplyLen = 1 + 8 + 8

// Counters are what the sink has seen on one connection.
type Counters struct {
	Bytes    uint64 // whole messages, including the op byte
	Messages uint64
}

// AppendQueryReply appends the reply to a 'Q' message.
func AppendQueryReply(dst []byte, c Counters) []byte {
	dst = append(dst, OpQuery)
	dst = binary.LittleEndian.AppendUint64(dst, c.Bytes)
	return binary.LittleEndian.AppendUint64(dst, c.Messages)
}

// ParseQueryReply decodes a reply to 'Q' and reports how many bytes it used.
func ParseQueryReply(b []byte) (Counters, int, error) {
	if len(b) < QueryReplyLen {
		return Counters{}, 0, fmt.Errorf("benchproto: query reply is %d bytes, want %d", len(b), QueryReplyLen)
	}
	if b[0] != OpQuery {
		return Counters{}, 0, fmt.Errorf("benchproto: query reply starts with %#02x, want 'Q'", b[0])
	}
	return Counters{
		Bytes:    binary.LittleEndian.Uint64(b[1:9]),
		Messages: binary.LittleEndian.Uint64(b[9:17]),
	}, QueryReplyLen, nil
}

// Session is the server side of one connection. Handle may be called from
// several goroutines (for example a stream reader and a datagram reader).
type Session struct {
	bytes    atomic.Uint64
	messages atomic.Uint64
}

// Counters returns the sink totals so far.
func (s *Session) Counters() Counters {
	return Counters{Bytes: s.bytes.Load(), Messages: s.messages.Load()}
}

// Handle processes one received message. reply is called at most once,
// synchronously, with the message to send back and whether it must be
// reliable; the reply buffer is only valid during the call.
func (s *Session) Handle(msg []byte, reliable bool, reply func(msg []byte, reliable bool)) {
	if len(msg) == 0 {
		return
	}
	switch msg[0] {
	case OpEcho:
		reply(msg, reliable)
	case OpSink:
		s.bytes.Add(uint64(len(msg)))
		s.messages.Add(1)
	case OpQuery:
		var buf [QueryReplyLen]byte
		reply(AppendQueryReply(buf[:0], s.Counters()), true)
	}
}
