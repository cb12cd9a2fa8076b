package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// unhex decodes hex with spaces and newlines, for commented golden bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

func padded(b []byte) []byte {
	return append(b, make([]byte, MinPaddedLen-len(b))...)
}

var goldenControl = []struct {
	name string
	msg  proto.Message
	want string // without padding; padded ids are zero-filled to 512
}{
	{
		name: "ChallengeRequest",
		msg: &pb.ChallengeRequest{
			ConnectionId: proto.Uint32(0x12345678), MyTimestamp: proto.Uint64(100000000), ProtocolVersion: proto.Uint32(13),
		},
		want: `20                          // id 32 ChallengeRequest
		       10 00                       // body length 16, LE
		       0d 78 56 34 12              // 1 connection_id fixed32
		       19 00 e1 f5 05 00 00 00 00  // 3 my_timestamp fixed64 = 100000000
		       20 0d                       // 4 protocol_version = 13`,
	},
	{
		name: "ChallengeReply",
		msg: &pb.ChallengeReply{
			ConnectionId: proto.Uint32(0x12345678), Challenge: proto.Uint64(0x1122334455660061),
			YourTimestamp: proto.Uint64(100000000), ProtocolVersion: proto.Uint32(13),
		},
		want: `21                          // id 33 ChallengeReply, no length, no padding
		       0d 78 56 34 12              // 1 connection_id
		       11 61 00 66 55 44 33 22 11  // 2 challenge fixed64
		       19 00 e1 f5 05 00 00 00 00  // 3 your_timestamp
		       20 0d                       // 4 protocol_version`,
	},
	{
		name: "ConnectRequest",
		msg: &pb.ConnectRequest{
			ClientConnectionId: proto.Uint32(0x12345678), Challenge: proto.Uint64(0x1122334455660061),
			Cert:        &pb.CertificateSigned{Cert: []byte{0x08, 0x01}},
			MyTimestamp: proto.Uint64(1), PingEstMs: proto.Uint32(7),
			Crypt: &pb.CryptInfoSigned{Info: []byte{0x20, 0x0d}, Signature: []byte{0xaa}},
		},
		want: `22                          // id 34 ConnectRequest
		       0d 78 56 34 12              // 1 client_connection_id
		       11 61 00 66 55 44 33 22 11  // 2 challenge
		       22 04 22 02 08 01           // 4 cert { 4 cert = 08 01 }
		       29 01 00 00 00 00 00 00 00  // 5 my_timestamp
		       30 07                       // 6 ping_est_ms
		       3a 07 0a 02 20 0d 12 01 aa  // 7 crypt { 1 info, 2 signature }`,
	},
	{
		name: "ConnectOK",
		msg: &pb.ConnectOK{
			ClientConnectionId: proto.Uint32(0x12345678), YourTimestamp: proto.Uint64(2), DelayTimeUsec: proto.Uint32(300),
			ServerConnectionId: proto.Uint32(0x9abcdef0),
			Crypt:              &pb.CryptInfoSigned{Info: []byte{0x20, 0x0d}},
			Cert:               &pb.CertificateSigned{Cert: []byte{0x08, 0x01}},
		},
		want: `23                          // id 35 ConnectOK
		       0d 78 56 34 12              // 1 client_connection_id
		       19 02 00 00 00 00 00 00 00  // 3 your_timestamp
		       20 ac 02                    // 4 delay_time_usec = 300
		       2d f0 de bc 9a              // 5 server_connection_id
		       3a 04 0a 02 20 0d           // 7 crypt
		       42 04 22 02 08 01           // 8 cert`,
	},
	{
		name: "ConnectionClosed",
		msg: &pb.ConnectionClosed{
			ReasonCode: proto.Uint32(1000), ToConnectionId: proto.Uint32(0x9abcdef0), FromConnectionId: proto.Uint32(0x12345678),
		},
		want: `24                          // id 36 ConnectionClosed
		       0d 00                       // body length 13
		       18 e8 07                    // 3 reason_code = 1000
		       25 f0 de bc 9a              // 4 to_connection_id
		       2d 78 56 34 12              // 5 from_connection_id`,
	},
	{
		name: "NoConnection",
		msg:  &pb.NoConnection{FromConnectionId: proto.Uint32(0x9abcdef0), ToConnectionId: proto.Uint32(0x12345678)},
		want: `25                          // id 37 NoConnection
		       15 f0 de bc 9a              // 2 from_connection_id
		       1d 78 56 34 12              // 3 to_connection_id`,
	},
}

func TestGoldenControl(t *testing.T) {
	for _, tc := range goldenControl {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			id, _ := MessageID(tc.msg)
			if id.Padded() {
				want = padded(want)
			}
			got, err := AppendControlMessage(nil, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			gotID, msg, err := ParseControlMessage(want)
			if err != nil {
				t.Fatal(err)
			}
			if gotID != id || !proto.Equal(msg, tc.msg) {
				t.Fatalf("parse: %v %v, want %v %v", gotID, msg, id, tc.msg)
			}
		})
	}
}

// The typed helpers must agree with the generic ones and refuse other ids.
func TestTypedHelpers(t *testing.T) {
	req := &pb.ChallengeRequest{ConnectionId: proto.Uint32(1)}
	b, err := AppendChallengeRequest(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MinPaddedLen {
		t.Fatalf("padded ChallengeRequest is %d bytes", len(b))
	}
	got, err := ParseChallengeRequest(b)
	if err != nil || got.GetConnectionId() != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseNoConnection(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseNoConnection of a ChallengeRequest: %v", err)
	}
	closed, _ := AppendConnectionClosed(nil, &pb.ConnectionClosed{ReasonCode: proto.Uint32(1001), Debug: proto.String("bye")})
	if c, err := ParseConnectionClosed(closed); err != nil || c.GetDebug() != "bye" {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := AppendConnectionClosed(nil, &pb.ConnectionClosed{}); err == nil {
		t.Fatal("empty padded body accepted; receivers reject it")
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Kind
	}{
		{"80 01 02 03 04", KindData},
		{"ff ff ff ff 00", KindConnectionless},
		{"ff ff ff fe 00", KindData},
		{"20 00 00 00 00", KindControl},
		{"25 00 00 00 00", KindControl},
		{"26 00 00 00 00", KindInvalid},
		{"1f 00 00 00 00", KindInvalid},
		{"80 01 02 03", KindInvalid},
		{"", KindInvalid},
	} {
		got, err := Classify(unhex(t, tc.in))
		if got != tc.want || (err != nil) != (tc.want == KindInvalid) {
			t.Errorf("Classify(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseControlErrors(t *testing.T) {
	short := padded(unhex(t, "20 10 00"))[:511]
	empty := padded(unhex(t, "24 00 00"))
	over := padded(unhex(t, "24 fe 01")) // 510 + 3 > 512
	for _, tc := range []struct {
		name  string
		in    []byte
		cause error
		msg   string
	}{
		{"padded too short", short, ErrTruncated, "shorter than the 512-byte minimum"},
		{"padded empty body", empty, ErrMalformed, "empty body"},
		{"padded length overruns", over, ErrTruncated, "declared body length 510"},
		{"unknown id", []byte{0x30, 0, 0, 0, 0}, ErrUnknownMessage, "0x30"},
		{"too short", []byte{0x21, 0x0d}, ErrTruncated, "2 bytes"},
	} {
		_, _, err := ParseControl(tc.in)
		if !errors.Is(err, tc.cause) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want %v mentioning %q", tc.name, err, tc.cause, tc.msg)
		}
	}
	// Zero padding after a plain body is not a valid protobuf.
	plain := append(unhex(t, "25 15 f0 de bc 9a"), 0, 0)
	if _, _, err := ParseControlMessage(plain); err == nil {
		t.Error("padded plain message parsed")
	}
	// Exactly 512 bytes with a body that fills all of it is fine.
	full := append([]byte{0x24, 0xfd, 0x01, 0x12, 0xfa, 0x03}, bytes.Repeat([]byte{'x'}, 506)...)
	if _, m, err := ParseControlMessage(full); err != nil || len(m.(*pb.ConnectionClosed).GetDebug()) != 506 {
		t.Errorf("full-size padded message: %v", err)
	}
}

func TestGoldenDataHeader(t *testing.T) {
	// Spec example: client to server 0x9ABCDEF0, packet 2, keepalive stats.
	want := unhex(t, `
		81           // lead: data marker | stats present
		f0 de bc 9a  // to_connection_id, LE
		02 00        // packet number low 16 bits
		02           // stats length varint
		18 02        // UDPStats.flags = ACK_REQUEST_E2E
		aa bb        // chunk`)
	h := DataHeader{ToConnID: 0x9abcdef0, PacketNumber: 2, Stats: []byte{0x18, 0x02}}
	got := append(AppendDataHeader(nil, &h), 0xaa, 0xbb)
	if !bytes.Equal(got, want) {
		t.Fatalf("encode: got %x want %x", got, want)
	}
	if h.Len() != len(want)-2 {
		t.Fatalf("Len %d", h.Len())
	}
	p, chunk, err := ParseDataHeader(want)
	if err != nil {
		t.Fatal(err)
	}
	if p.Flags != DataFlagStats || p.ToConnID != 0x9abcdef0 || p.PacketNumber != 2 || !bytes.Equal(p.Stats, []byte{0x18, 0x02}) || !bytes.Equal(chunk, []byte{0xaa, 0xbb}) {
		t.Fatalf("parse: %+v %x", p, chunk)
	}
	if f, err := StatsAckFlags(p.Stats); err != nil || f != StatsAckRequestE2E {
		t.Fatalf("ack flags %#x %v", f, err)
	}

	// Without the blob, with the time field.
	want = unhex(t, `
		82           // lead: data marker | time-since-previous present
		f0 de bc 9a  // to_connection_id
		ff ff        // packet number 65535
		10 00        // 16 units of 16 µs
		01           // chunk`)
	p, chunk, err = ParseDataHeader(want)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := p.TimeSincePrevious(); !ok || d.Microseconds() != 256 || p.PacketNumber != 0xffff || len(chunk) != 1 || p.Stats != nil {
		t.Fatalf("parse: %+v", p)
	}
	if got := append(AppendDataHeader(nil, &p), chunk...); !bytes.Equal(got, want) {
		t.Fatalf("re-encode %x want %x", got, want)
	}
}

func TestDataHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		in, msg string
	}{
		{"80 01 02 03 04 05", "shorter than the 7-byte"},
		{"01 01 02 03 04 05 06", "lacks the 0x80"},
		{"81 01 02 03 04 05 06", "varint length is cut off"},
		{"81 01 02 03 04 05 06 80", "varint length is cut off"},
		{"81 01 02 03 04 05 06 05 18 02", "stats blob length 5 exceeds the 2 bytes"},
		{"81 01 02 03 04 05 06 02 18 80", "invalid protobuf flags value"},
		{"81 01 02 03 04 05 06 01 07", "invalid protobuf field tag"},
		{"82 01 02 03 04 05 06 01", "only 1 bytes remain"},
		{"83 01 02 03 04 05 06 00 01", "only 1 bytes remain"},
	} {
		_, _, err := ParseDataHeader(unhex(t, tc.in))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want mention of %q", tc.in, err, tc.msg)
		}
	}
}

func TestStatsAckFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"18 04", StatsAckRequestImmediate},
		{"0a 00", StatsAckRequestE2E}, // quality report implies E2E
		{"0a 00 18 06", StatsAckRequestE2E | StatsAckRequestImmediate},
		{"18 04 18 02", StatsAckRequestE2E},    // last value wins, as in protobuf
		{"a0 06 01 18 02", StatsAckRequestE2E}, // unknown field skipped
		{"1d 04 00 00 00", 0},                  // field 3 with the wrong wire type is unknown
	} {
		got, err := StatsAckFlags(unhex(t, tc.in))
		if err != nil || got != tc.want {
			t.Errorf("StatsAckFlags(%s) = %#x, %v; want %#x", tc.in, got, err, tc.want)
		}
	}
}

// TestClassifyRefusesOversize: GNS never sends a datagram over
// MaxUDPPayload bytes, so one is not GNS traffic whatever its lead byte.
func TestClassifyRefusesOversize(t *testing.T) {
	for _, lead := range []byte{0x80, 0x20, 0x22, 0x24} {
		b := make([]byte, MaxUDPPayload+1)
		b[0] = lead
		if kind, err := Classify(b); kind != KindInvalid || !errors.Is(err, ErrTooLong) {
			t.Errorf("lead %#x, %d bytes: Classify = %v, %v; want KindInvalid, ErrTooLong", lead, len(b), kind, err)
		}
		if kind, err := Classify(b[:MaxUDPPayload]); kind == KindInvalid {
			t.Errorf("lead %#x, %d bytes refused: %v", lead, MaxUDPPayload, err)
		}
	}
}
