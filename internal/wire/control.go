package wire

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// Size limits of the UDP transport.
const (
	// MinDatagramLen is the shortest datagram any receiver accepts.
	MinDatagramLen = 5
	// MinPaddedLen is the size padded control messages are zero-filled to,
	// and the shortest one a receiver accepts.
	MinPaddedLen = 512
	// MaxUDPPayload is the largest datagram GNS sends or expects. Every
	// GNS send path is bounded by it (the MTU option tops out there), and
	// its receive path refuses a data packet whose payload exceeds it, so
	// a longer datagram is not GNS traffic: Classify refuses it.
	MaxUDPPayload = 1300
	// MaxEncryptedChunk is the largest encrypted data chunk (ciphertext and
	// tag) per data packet.
	MaxEncryptedChunk = 1248
	// paddedHeaderLen is the id byte plus the uint16 body length.
	paddedHeaderLen = 3
)

// MsgID is the lead byte of a control message.
type MsgID uint8

// Control message ids.
const (
	MsgChallengeRequest MsgID = 32
	MsgChallengeReply   MsgID = 33
	MsgConnectRequest   MsgID = 34
	MsgConnectOK        MsgID = 35
	MsgConnectionClosed MsgID = 36
	MsgNoConnection     MsgID = 37
)

var msgNames = [...]string{"ChallengeRequest", "ChallengeReply", "ConnectRequest", "ConnectOK", "ConnectionClosed", "NoConnection"}

// Known reports whether id is one of the six control messages.
func (id MsgID) Known() bool { return id >= MsgChallengeRequest && id <= MsgNoConnection }

// Padded reports whether messages with this id use the padded layout.
func (id MsgID) Padded() bool { return id == MsgChallengeRequest || id == MsgConnectionClosed }

func (id MsgID) String() string {
	if id.Known() {
		return msgNames[id-MsgChallengeRequest]
	}
	return fmt.Sprintf("MsgID(%d)", uint8(id))
}

// Kind is what a datagram's lead bytes say it is.
type Kind uint8

const (
	// KindInvalid datagrams are dropped: too short or an unknown lead byte.
	KindInvalid Kind = iota
	// KindData is a data packet (lead byte has 0x80 set).
	KindData
	// KindControl is one of the six control messages.
	KindControl
	// KindConnectionless is Source-engine traffic (FF FF FF FF), ignored.
	KindConnectionless
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindControl:
		return "control"
	case KindConnectionless:
		return "connectionless"
	}
	return "invalid"
}

// Classify says what kind of datagram b is. For KindInvalid the error says
// why it must be dropped: too short, longer than MaxUDPPayload, or an
// unknown lead byte.
func Classify(b []byte) (Kind, error) {
	if len(b) < MinDatagramLen {
		return KindInvalid, formatErr("datagram", len(b), ErrTruncated,
			"%d bytes, shorter than the %d-byte minimum", len(b), MinDatagramLen)
	}
	if len(b) > MaxUDPPayload {
		return KindInvalid, formatErr("datagram", MaxUDPPayload, ErrTooLong,
			"%d bytes, longer than the %d-byte maximum", len(b), MaxUDPPayload)
	}
	if b[0] == 0xFF && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF {
		return KindConnectionless, nil
	}
	if b[0]&0x80 != 0 {
		return KindData, nil
	}
	if !MsgID(b[0]).Known() {
		return KindInvalid, formatErr("datagram", 0, ErrUnknownMessage,
			"lead byte 0x%02x is neither a data packet nor a control message id (32..37)", b[0])
	}
	return KindControl, nil
}

// ParseControl splits a control datagram into its id and protobuf body,
// using the padded or plain layout the id calls for. The body aliases b.
func ParseControl(b []byte) (MsgID, []byte, error) {
	if len(b) < MinDatagramLen {
		return 0, nil, formatErr("control message", len(b), ErrTruncated,
			"%d bytes, shorter than the %d-byte minimum", len(b), MinDatagramLen)
	}
	id := MsgID(b[0])
	if !id.Known() {
		return 0, nil, formatErr("control message", 0, ErrUnknownMessage,
			"lead byte 0x%02x is not a control message id (32..37)", b[0])
	}
	if !id.Padded() {
		return id, b[1:], nil
	}
	if len(b) < MinPaddedLen {
		return id, nil, formatErr(id.String(), len(b), ErrTruncated,
			"padded message is %d bytes, shorter than the %d-byte minimum", len(b), MinPaddedLen)
	}
	n := int(binary.LittleEndian.Uint16(b[1:3]))
	if n == 0 {
		return id, nil, formatErr(id.String(), 1, ErrMalformed, "padded message declares an empty body")
	}
	if paddedHeaderLen+n > len(b) {
		return id, nil, formatErr(id.String(), 1, ErrTruncated,
			"declared body length %d runs past the end of the %d-byte datagram", n, len(b))
	}
	return id, b[paddedHeaderLen : paddedHeaderLen+n], nil
}

// AppendControl appends a control datagram with the given id and protobuf
// body, padding it when the id requires. It panics if id is unknown or a
// padded body is larger than 65535 bytes: both are programming errors.
func AppendControl(dst []byte, id MsgID, body []byte) []byte {
	if !id.Known() {
		panic("wire: AppendControl with unknown message id " + id.String())
	}
	if !id.Padded() {
		return append(append(dst, byte(id)), body...)
	}
	if len(body) > 0xFFFF {
		panic("wire: padded control body longer than 65535 bytes")
	}
	start := len(dst)
	dst = append(dst, byte(id))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(body)))
	dst = append(dst, body...)
	return padTo(dst, start)
}

// padTo zero-fills the datagram that starts at dst[start] to MinPaddedLen.
func padTo(dst []byte, start int) []byte {
	for len(dst)-start < MinPaddedLen {
		dst = append(dst, 0)
	}
	return dst
}

// newMessage returns an empty protobuf of the type carried by id.
func newMessage(id MsgID) proto.Message {
	switch id {
	case MsgChallengeRequest:
		return new(pb.ChallengeRequest)
	case MsgChallengeReply:
		return new(pb.ChallengeReply)
	case MsgConnectRequest:
		return new(pb.ConnectRequest)
	case MsgConnectOK:
		return new(pb.ConnectOK)
	case MsgConnectionClosed:
		return new(pb.ConnectionClosed)
	case MsgNoConnection:
		return new(pb.NoConnection)
	}
	return nil
}

// MessageID returns the control message id that carries m's type.
func MessageID(m proto.Message) (MsgID, bool) {
	switch m.(type) {
	case *pb.ChallengeRequest:
		return MsgChallengeRequest, true
	case *pb.ChallengeReply:
		return MsgChallengeReply, true
	case *pb.ConnectRequest:
		return MsgConnectRequest, true
	case *pb.ConnectOK:
		return MsgConnectOK, true
	case *pb.ConnectionClosed:
		return MsgConnectionClosed, true
	case *pb.NoConnection:
		return MsgNoConnection, true
	}
	return 0, false
}

// ParseControlMessage parses a whole control datagram into its id and
// decoded body, one of the *pb message types named like the id.
func ParseControlMessage(b []byte) (MsgID, proto.Message, error) {
	id, body, err := ParseControl(b)
	if err != nil {
		return id, nil, err
	}
	m := newMessage(id)
	if err := proto.Unmarshal(body, m); err != nil {
		return id, nil, formatErr(id.String()+" body", len(b)-len(body), err, "invalid protobuf: %v", err)
	}
	return id, m, nil
}

// AppendControlMessage encodes m as a control datagram with the id that
// carries its type (fields in ascending number order, as GNS writes them).
// A plain message with almost no fields can come out shorter than
// MinDatagramLen; receivers drop such datagrams.
func AppendControlMessage(dst []byte, m proto.Message) ([]byte, error) {
	id, ok := MessageID(m)
	if !ok {
		return dst, fmt.Errorf("wire: %T is not a control message body", m)
	}
	start := len(dst)
	if !id.Padded() {
		return proto.MarshalOptions{}.MarshalAppend(append(dst, byte(id)), m)
	}
	dst = append(dst, byte(id), 0, 0)
	dst, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - paddedHeaderLen
	if n == 0 || n > 0xFFFF {
		return dst[:start], fmt.Errorf("wire: %v body is %d bytes; padded bodies must be 1..65535", id, n)
	}
	binary.LittleEndian.PutUint16(dst[start+1:], uint16(n))
	return padTo(dst, start), nil
}

// parseTyped parses a datagram that must carry the message id want.
func parseTyped[T proto.Message](b []byte, want MsgID) (T, error) {
	var zero T
	id, m, err := ParseControlMessage(b)
	if err != nil {
		return zero, err
	}
	if id != want {
		return zero, formatErr("control message", 0, ErrMalformed, "got %v, want %v", id, want)
	}
	return m.(T), nil
}

// ParseChallengeRequest parses a ChallengeRequest datagram.
func ParseChallengeRequest(b []byte) (*pb.ChallengeRequest, error) {
	return parseTyped[*pb.ChallengeRequest](b, MsgChallengeRequest)
}

// ParseChallengeReply parses a ChallengeReply datagram.
func ParseChallengeReply(b []byte) (*pb.ChallengeReply, error) {
	return parseTyped[*pb.ChallengeReply](b, MsgChallengeReply)
}

// ParseConnectRequest parses a ConnectRequest datagram.
func ParseConnectRequest(b []byte) (*pb.ConnectRequest, error) {
	return parseTyped[*pb.ConnectRequest](b, MsgConnectRequest)
}

// ParseConnectOK parses a ConnectOK datagram.
func ParseConnectOK(b []byte) (*pb.ConnectOK, error) {
	return parseTyped[*pb.ConnectOK](b, MsgConnectOK)
}

// ParseConnectionClosed parses a ConnectionClosed datagram.
func ParseConnectionClosed(b []byte) (*pb.ConnectionClosed, error) {
	return parseTyped[*pb.ConnectionClosed](b, MsgConnectionClosed)
}

// ParseNoConnection parses a NoConnection datagram.
func ParseNoConnection(b []byte) (*pb.NoConnection, error) {
	return parseTyped[*pb.NoConnection](b, MsgNoConnection)
}

// AppendChallengeRequest appends m as a padded ChallengeRequest datagram.
func AppendChallengeRequest(dst []byte, m *pb.ChallengeRequest) ([]byte, error) {
	return AppendControlMessage(dst, m)
}

// AppendChallengeReply appends m as a ChallengeReply datagram.
func AppendChallengeReply(dst []byte, m *pb.ChallengeReply) ([]byte, error) {
	return AppendControlMessage(dst, m)
}

// AppendConnectRequest appends m as a ConnectRequest datagram.
func AppendConnectRequest(dst []byte, m *pb.ConnectRequest) ([]byte, error) {
	return AppendControlMessage(dst, m)
}

// AppendConnectOK appends m as a ConnectOK datagram.
func AppendConnectOK(dst []byte, m *pb.ConnectOK) ([]byte, error) {
	return AppendControlMessage(dst, m)
}

// AppendConnectionClosed appends m as a padded ConnectionClosed datagram.
func AppendConnectionClosed(dst []byte, m *pb.ConnectionClosed) ([]byte, error) {
	return AppendControlMessage(dst, m)
}

// AppendNoConnection appends m as a NoConnection datagram.
func AppendNoConnection(dst []byte, m *pb.NoConnection) ([]byte, error) {
	return AppendControlMessage(dst, m)
}
