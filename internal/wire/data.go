package wire

import (
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// DataHeaderLen is the size of the fixed data packet header.
const DataHeaderLen = 7

// Data packet lead-byte flags.
const (
	// DataFlagMarker is always set on data packets.
	DataFlagMarker = 0x80
	// DataFlagStats: a varint length and a UDPStats protobuf follow the header.
	DataFlagStats = 0x01
	// DataFlagTimeSincePrev: a uint16 LE time since the previous packet
	// (16 µs units) follows the header and the stats blob.
	DataFlagTimeSincePrev = 0x02
)

// timeSincePrevUnit is the resolution of the time-since-previous field.
const timeSincePrevUnit = 16 * time.Microsecond

// Ack-request flags of the stats blob (pb.UDPStats.Flags).
const (
	StatsAckRequestE2E       = uint32(pb.UDPStats_ACK_REQUEST_E2E)
	StatsAckRequestImmediate = uint32(pb.UDPStats_ACK_REQUEST_IMMEDIATE)
	StatsNotPrimaryTransport = uint32(pb.UDPStats_NOT_PRIMARY_TRANSPORT_E2E)
)

// DataHeader is everything in a data packet before the encrypted chunk.
type DataHeader struct {
	// Flags is the lead byte without DataFlagMarker. On append, the stats
	// and time bits are derived from Stats and HasTimeSincePrev; other bits
	// are written as given (GNS ignores them).
	Flags uint8
	// ToConnID is the recipient's connection id.
	ToConnID uint32
	// PacketNumber is the low 16 bits of the sender's packet number.
	PacketNumber uint16
	// Stats is the raw UDPStats protobuf, nil when absent. After a parse it
	// aliases the datagram.
	Stats []byte
	// HasTimeSincePrev says whether TimeSincePrev is present.
	HasTimeSincePrev bool
	// TimeSincePrev is the gap since the sender's previous packet in units
	// of 16 µs.
	TimeSincePrev uint16
}

// TimeSincePrevious returns the time-since-previous field as a duration,
// and false when the field is absent.
func (h *DataHeader) TimeSincePrevious() (time.Duration, bool) {
	return time.Duration(h.TimeSincePrev) * timeSincePrevUnit, h.HasTimeSincePrev
}

// Len is the number of bytes AppendDataHeader writes for h.
func (h *DataHeader) Len() int {
	n := DataHeaderLen
	if h.Stats != nil {
		n += protowire.SizeVarint(uint64(len(h.Stats))) + len(h.Stats)
	}
	if h.HasTimeSincePrev {
		n += 2
	}
	return n
}

// ParseDataHeader parses the header of data packet b and returns it with
// the chunk that follows (ciphertext and tag, or plaintext with the NULL
// cipher). The chunk and h.Stats alias b. It allocates nothing unless it
// fails.
func ParseDataHeader(b []byte) (h DataHeader, chunk []byte, err error) {
	if len(b) < DataHeaderLen {
		return h, nil, formatErr("data header", len(b), ErrTruncated,
			"%d-byte datagram is shorter than the %d-byte data header", len(b), DataHeaderLen)
	}
	if b[0]&DataFlagMarker == 0 {
		return h, nil, formatErr("data header", 0, ErrMalformed,
			"lead byte 0x%02x lacks the 0x80 data marker", b[0])
	}
	h.Flags = b[0] &^ DataFlagMarker
	h.ToConnID = binary.LittleEndian.Uint32(b[1:5])
	h.PacketNumber = binary.LittleEndian.Uint16(b[5:7])
	off := DataHeaderLen
	if h.Flags&DataFlagStats != 0 {
		n, vlen := protowire.ConsumeVarint(b[off:])
		if vlen < 0 {
			return h, nil, formatErr("data header", off, ErrTruncated,
				"flag 0x01 announces a stats blob but its varint length is cut off or invalid")
		}
		if n > uint64(len(b)-off-vlen) {
			return h, nil, formatErr("data header", off, ErrTruncated,
				"stats blob length %d exceeds the %d bytes left in the datagram", n, len(b)-off-vlen)
		}
		off += vlen
		h.Stats = b[off : off+int(n) : off+int(n)]
		if err := scanStats(h.Stats, off, nil); err != nil {
			return h, nil, err
		}
		off += int(n)
	}
	if h.Flags&DataFlagTimeSincePrev != 0 {
		if len(b)-off < 2 {
			return h, nil, formatErr("data header", off, ErrTruncated,
				"flag 0x02 announces a time-since-previous field but only %d bytes remain", len(b)-off)
		}
		h.HasTimeSincePrev = true
		h.TimeSincePrev = binary.LittleEndian.Uint16(b[off:])
		off += 2
	}
	return h, b[off:], nil
}

// AppendDataHeader appends h to dst. The stats flag is set when h.Stats is
// non-nil and the time flag when h.HasTimeSincePrev is true.
func AppendDataHeader(dst []byte, h *DataHeader) []byte {
	flags := h.Flags &^ (DataFlagStats | DataFlagTimeSincePrev)
	if h.Stats != nil {
		flags |= DataFlagStats
	}
	if h.HasTimeSincePrev {
		flags |= DataFlagTimeSincePrev
	}
	dst = append(dst, DataFlagMarker|flags)
	dst = binary.LittleEndian.AppendUint32(dst, h.ToConnID)
	dst = binary.LittleEndian.AppendUint16(dst, h.PacketNumber)
	if h.Stats != nil {
		dst = protowire.AppendVarint(dst, uint64(len(h.Stats)))
		dst = append(dst, h.Stats...)
	}
	if h.HasTimeSincePrev {
		dst = binary.LittleEndian.AppendUint16(dst, h.TimeSincePrev)
	}
	return dst
}

// StatsAckFlags returns the effective ack-request flags of a stats blob:
// its flags field, plus StatsAckRequestE2E when a quality report is present
// (GNS implies that bit). It allocates nothing.
func StatsAckFlags(blob []byte) (uint32, error) {
	var flags uint32
	err := scanStats(blob, 0, &flags)
	return flags, err
}

// scanStats checks the top-level structure of a UDPStats protobuf without
// decoding it; base is the blob's offset in the datagram, for errors. When
// flags is non-nil it receives the effective ack-request flags.
func scanStats(blob []byte, base int, flags *uint32) error {
	var f uint32
	hasQuality := false
	for off := 0; off < len(blob); {
		num, typ, n := protowire.ConsumeTag(blob[off:])
		if n < 0 {
			return statsErr(base+off, n, "field tag")
		}
		val := blob[off+n:]
		off += n
		switch {
		case num == 1 && typ == protowire.BytesType:
			hasQuality = true
		case num == 3 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(val)
			if m < 0 {
				return statsErr(base+off, m, "flags value")
			}
			f = uint32(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, val)
		if m < 0 {
			return statsErr(base+off, m, fmt.Sprintf("value of field %d", num))
		}
		off += m
	}
	if hasQuality {
		f |= StatsAckRequestE2E
	}
	if flags != nil {
		*flags = f
	}
	return nil
}

func statsErr(off, code int, what string) error {
	return formatErr("stats blob", off, ErrMalformed, "invalid protobuf %s: %v", what, protowire.ParseError(code))
}

// ParseStats decodes a stats blob.
func ParseStats(blob []byte) (*pb.UDPStats, error) {
	m := new(pb.UDPStats)
	if err := proto.Unmarshal(blob, m); err != nil {
		return nil, formatErr("stats blob", 0, err, "invalid protobuf: %v", err)
	}
	return m, nil
}

// AppendStats appends the encoding of m (no length prefix). GNS omits the
// flags field when the only flag needed is the one implied by a quality
// report; callers wanting that form clear it first.
func AppendStats(dst []byte, m *pb.UDPStats) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}
