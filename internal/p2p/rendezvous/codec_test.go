package rendezvous

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// unhex decodes hex written with spaces and line breaks between fields.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenSignals are encodings written by hand from the field tables, one
// field per line.
var goldenSignals = []struct {
	name string
	msg  *pb.Rendezvous
	hex  string
}{
	{
		name: "ack only",
		msg: &pb.Rendezvous{
			ToConnectionId:   proto.Uint32(0x11223344),
			IceEnabled:       proto.Bool(true),
			FromIdentity:     proto.String("str:b"),
			FromConnectionId: proto.Uint32(0x55667788),
			AckReliableMsg:   proto.Uint32(3),
		},
		hex: `
			0d 44332211     // 1 to_connection_id, fixed32 little-endian
			38 01           // 7 ice_enabled
			42 05 7374723a62 // 8 from_identity "str:b"
			4d 88776655     // 9 from_connection_id
			58 03           // 11 ack_reliable_msg`,
	},
	{
		name: "connect request with port 0 and the ICE password",
		msg: &pb.Rendezvous{
			ConnectRequest: &pb.Rendezvous_ConnectRequest{
				Crypt:           &pb.CryptInfoSigned{Info: []byte{1, 2}, Signature: []byte{3}},
				Cert:            &pb.CertificateSigned{Cert: []byte{0xaa}},
				ToVirtualPort:   proto.Uint32(0),
				FromVirtualPort: proto.Uint32(7),
			},
			IceEnabled:       proto.Bool(true),
			FromIdentity:     proto.String("str:a"),
			FromConnectionId: proto.Uint32(0x01020304),
			ToIdentity:       proto.String("str:b"),
			AckReliableMsg:   proto.Uint32(0),
			FirstReliableMsg: proto.Uint32(1),
			ReliableMessages: []*pb.Rendezvous_ReliableMessage{{
				Ice: &pb.ICERendezvous{Auth: &pb.ICERendezvous_Auth{PwdFrag: proto.String("abcde")}},
			}},
		},
		hex: `
			22 12           // 4 connect_request, 18 bytes
			  32 07         //   6 crypt
			    0a 02 0102  //     1 info
			    12 01 03    //     2 signature
			  3a 03         //   7 cert
			    22 01 aa    //     4 cert
			  48 00         //   9 to_virtual_port 0, present
			  50 07         //   10 from_virtual_port
			38 01           // 7 ice_enabled
			42 05 7374723a61 // 8 from_identity "str:a"
			4d 04030201     // 9 from_connection_id
			52 05 7374723a62 // 10 to_identity "str:b"
			58 00           // 11 ack_reliable_msg 0, present
			60 01           // 12 first_reliable_msg
			6a 0b           // 13 reliable_messages[0]
			  0a 09         //   1 ice
			    12 07       //     2 auth
			      0a 05 6162636465 // 1 pwd_frag "abcde"`,
	},
	{
		name: "connect OK with a candidate",
		msg: &pb.Rendezvous{
			ToConnectionId: proto.Uint32(0x01020304),
			ConnectOk: &pb.Rendezvous_ConnectOK{
				Crypt: &pb.CryptInfoSigned{Info: []byte{9}},
				Cert:  &pb.CertificateSigned{Cert: []byte{8}},
			},
			FromConnectionId: proto.Uint32(0xdeadbeef),
			FirstReliableMsg: proto.Uint32(2),
			ReliableMessages: []*pb.Rendezvous_ReliableMessage{{
				Ice: &pb.ICERendezvous{AddCandidate: &pb.ICECandidate{Candidate: proto.String("candidate:1 0 udp 9 1.2.3.4 5 typ host")}},
			}},
		},
		hex: `
			0d 04030201     // 1 to_connection_id
			2a 0a           // 5 connect_ok
			  2a 03 0a 01 09 // 5 crypt {info}
			  32 03 22 01 08 // 6 cert {cert}
			4d efbeadde     // 9 from_connection_id
			60 02           // 12 first_reliable_msg
			6a 2c           // 13 reliable_messages[0], 44 bytes
			  0a 2a         //   1 ice
			    0a 28       //     1 add_candidate
			      1a 26     //       3 candidate, 38 bytes
			        63616e6469646174653a3120302075647020392031 2e322e332e3420352074797020686f7374`,
	},
	{
		name: "no connection",
		msg: &pb.Rendezvous{
			ToConnectionId:   proto.Uint32(1),
			ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(ReasonNoConnection)},
			FromIdentity:     proto.String("str:a"),
			FromConnectionId: proto.Uint32(2),
		},
		hex: `
			0d 01000000     // 1 to_connection_id
			32 03           // 6 connection_closed
			  30 8f4e       //   6 reason_code 9999
			42 05 7374723a61 // 8 from_identity
			4d 02000000     // 9 from_connection_id`,
	},
	{
		name: "close with reason and application message",
		msg: &pb.Rendezvous{
			ConnectionClosed: &pb.Rendezvous_ConnectionClosed{Debug: proto.String("bye"), ReasonCode: proto.Uint32(1000)},
			ApplicationMessages: []*pb.Rendezvous_ApplicationMessage{{
				Data: []byte("hi"), MsgNum: proto.Uint64(300), LaneIdx: proto.Uint32(1),
			}},
		},
		hex: `
			32 08           // 6 connection_closed
			  2a 03 627965  //   5 debug "bye"
			  30 e807       //   6 reason_code 1000
			7a 09           // 15 application_messages[0]
			  0a 02 6869    //   1 data
			  10 ac02       //   2 msg_num 300
			  20 01         //   4 lane_idx`,
	},
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	return strings.Join(out, " ")
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range goldenSignals {
		t.Run(g.name, func(t *testing.T) {
			want := unhex(t, stripComments(g.hex))
			got, err := Append(nil, g.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding\n got %x\nwant %x", got, want)
			}
			back, err := Parse(want)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, g.msg) {
				t.Fatalf("decoded %v, want %v", back, g.msg)
			}
		})
	}
}

// TestPresenceOfZeroValues: a proto3-style encoder that omits zeros would
// make a GNS receiver see "no virtual port" and "no ack".
func TestPresenceOfZeroValues(t *testing.T) {
	m, err := Parse(unhex(t, "22 04 4800 5000 5800"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ConnectRequest.ToVirtualPort == nil || m.ConnectRequest.FromVirtualPort == nil || m.AckReliableMsg == nil {
		t.Fatalf("zero-valued fields lost their presence: %v", m)
	}
	if m.FirstReliableMsg != nil || m.ToConnectionId != nil {
		t.Fatalf("absent fields became present: %v", m)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated field", []byte{0x0d, 0x01, 0x02}, ErrMalformed},
		{"group never closed", []byte{0x0b}, ErrMalformed},
		{"length past end", []byte{0x22, 0x10, 0x00}, ErrMalformed},
		{"too large", make([]byte, MaxSignalSize+1), ErrTooLarge},
	} {
		if _, err := Parse(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestUnknownFieldsSurvive(t *testing.T) {
	in := unhex(t, "42 05 7374723a61  f8 01 05") // from_identity, then field 31 varint 5
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("re-encoded %x, want %x", out, in)
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range goldenSignals {
		f.Add(unhex(f, stripComments(g.hex)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		enc, err := Append(nil, m)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return
			}
			t.Fatal(err)
		}
		back, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-encoded signal does not parse: %v", err)
		}
		if !proto.Equal(m, back) {
			t.Fatalf("round trip changed the message:\n%v\n%v", m, back)
		}
	})
}
