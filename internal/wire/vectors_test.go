package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire/vectortest"
)

func loadVectors(t testing.TB) []*vectortest.Scenario {
	t.Helper()
	all, err := vectortest.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// rawField returns the raw bytes of the first length-delimited field num of
// a protobuf message, to compare embedded messages byte for byte.
func rawField(t *testing.T, msg []byte, num protowire.Number) []byte {
	t.Helper()
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(l))
		}
		msg = msg[l:]
		m := protowire.ConsumeFieldValue(n, typ, msg)
		if m < 0 {
			t.Fatalf("bad field %d: %v", n, protowire.ParseError(m))
		}
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(msg)
			return v
		}
		msg = msg[m:]
	}
	t.Fatalf("field %d not found", num)
	return nil
}

func TestVectorsEveryDatagramParses(t *testing.T) {
	for _, sc := range loadVectors(t) {
		t.Run(sc.Name, func(t *testing.T) {
			var control, data int
			for _, p := range sc.Packets {
				b := []byte(p.Payload)
				if len(b) != p.Len {
					t.Fatalf("#%d: payload is %d bytes, log says %d", p.Index, len(b), p.Len)
				}
				kind, err := Classify(b)
				if err != nil {
					t.Fatalf("#%d: classify: %v", p.Index, err)
				}
				if p.Type == "data" {
					if kind != KindData {
						t.Fatalf("#%d: kind %v, want data", p.Index, kind)
					}
					checkDataPacket(t, p)
					data++
					continue
				}
				if kind != KindControl {
					t.Fatalf("#%d: kind %v, want control", p.Index, kind)
				}
				checkControl(t, sc, p)
				control++
			}
			if data == 0 || control < 6 {
				t.Fatalf("only %d data and %d control datagrams checked", data, control)
			}
		})
	}
}

func checkControl(t *testing.T, sc *vectortest.Scenario, p vectortest.Packet) {
	t.Helper()
	b := []byte(p.Payload)
	id, body, err := ParseControl(b)
	if err != nil {
		t.Fatalf("#%d: %v", p.Index, err)
	}
	if id.String() != p.Type {
		t.Fatalf("#%d: id %v, log says %s", p.Index, id, p.Type)
	}
	if want := b[p.ProtobufOffset : p.ProtobufOffset+p.ProtobufLen]; !bytes.Equal(body, want) {
		t.Fatalf("#%d: body differs from the logged protobuf range", p.Index)
	}
	_, msg, err := ParseControlMessage(b)
	if err != nil {
		t.Fatalf("#%d: %v", p.Index, err)
	}
	// GNS writes fields in ascending order, as we do: re-encoding must give
	// the captured datagram back exactly, padding included.
	again, err := AppendControlMessage(nil, msg)
	if err != nil {
		t.Fatalf("#%d: re-encode: %v", p.Index, err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("#%d: %v re-encodes to\n%x\nwant\n%x", p.Index, id, again, b)
	}
	switch m := msg.(type) {
	case *pb.ConnectRequest:
		side := &sc.Keys.Client
		if got := rawField(t, body, 4); !bytes.Equal(got, side.CertSignedLocal) {
			t.Fatalf("#%d: ConnectRequest cert differs from cert_signed_local", p.Index)
		}
		if got := rawField(t, body, 7); !bytes.Equal(got, side.CryptInfoSignedLocal) {
			t.Fatalf("#%d: ConnectRequest crypt differs from crypt_info_signed_local", p.Index)
		}
		if m.GetClientConnectionId() != side.ConnIDLocal || !bytes.Equal(m.GetCert().GetCert(), side.CertLocal) {
			t.Fatalf("#%d: ConnectRequest fields disagree with keys.json", p.Index)
		}
	case *pb.ConnectOK:
		side := &sc.Keys.Server
		if got := rawField(t, body, 8); !bytes.Equal(got, side.CertSignedLocal) {
			t.Fatalf("#%d: ConnectOK cert differs from cert_signed_local", p.Index)
		}
		if got := rawField(t, body, 7); !bytes.Equal(got, side.CryptInfoSignedLocal) {
			t.Fatalf("#%d: ConnectOK crypt differs from crypt_info_signed_local", p.Index)
		}
		if m.GetServerConnectionId() != side.ConnIDLocal || m.GetClientConnectionId() != side.ConnIDRemote {
			t.Fatalf("#%d: ConnectOK ids disagree with keys.json", p.Index)
		}
	case *pb.ChallengeRequest:
		if m.GetConnectionId() != sc.Keys.Client.ConnIDLocal || m.GetProtocolVersion() != 13 {
			t.Fatalf("#%d: ChallengeRequest %v", p.Index, m)
		}
	}
}

func checkDataPacket(t *testing.T, p vectortest.Packet) {
	t.Helper()
	b := []byte(p.Payload)
	h, chunk, err := ParseDataHeader(b)
	if err != nil {
		t.Fatalf("#%d: %v", p.Index, err)
	}
	if int(h.Flags|DataFlagMarker) != p.Flags || h.ToConnID != p.ToConnID || h.PacketNumber != p.WireSeq {
		t.Fatalf("#%d: header %+v, log says flags %#x to %d seq %d", p.Index, h, p.Flags, p.ToConnID, p.WireSeq)
	}
	if len(chunk) != p.ChunkLen || len(b)-len(chunk) != p.ChunkOffset {
		t.Fatalf("#%d: chunk at %d (%d bytes), log says %d (%d)", p.Index, len(b)-len(chunk), len(chunk), p.ChunkOffset, p.ChunkLen)
	}
	if p.StatsOffset != nil {
		if want := b[*p.StatsOffset : *p.StatsOffset+p.StatsLen]; !bytes.Equal(h.Stats, want) {
			t.Fatalf("#%d: stats %x, want %x", p.Index, h.Stats, want)
		}
		st, err := ParseStats(h.Stats)
		if err != nil {
			t.Fatalf("#%d: %v", p.Index, err)
		}
		flags, err := StatsAckFlags(h.Stats)
		if err != nil {
			t.Fatal(err)
		}
		if st.Stats != nil && flags&StatsAckRequestE2E == 0 {
			t.Fatalf("#%d: stats present but ack flags %#x lack the implied E2E bit", p.Index, flags)
		}
		if again, _ := AppendStats(nil, st); !bytes.Equal(again, h.Stats) {
			t.Fatalf("#%d: stats re-encode to %x, want %x", p.Index, again, h.Stats)
		}
	} else if h.Stats != nil {
		t.Fatalf("#%d: unexpected stats blob", p.Index)
	}
	if again := AppendDataHeader(nil, &h); !bytes.Equal(again, b[:p.ChunkOffset]) {
		t.Fatalf("#%d: header re-encodes to %x, want %x", p.Index, again, b[:p.ChunkOffset])
	}
}

// TestVectorsStatsBlobs makes sure the capture's stats blobs were seen.
func TestVectorsStatsBlobs(t *testing.T) {
	n := 0
	for _, sc := range loadVectors(t) {
		for _, p := range sc.Packets {
			if p.Type == "data" && p.Flags&DataFlagStats != 0 {
				h, _, err := ParseDataHeader(p.Payload)
				if err != nil || h.Stats == nil {
					t.Fatalf("%s #%d: %v", sc.Name, p.Index, err)
				}
				var st pb.UDPStats
				if err := proto.Unmarshal(h.Stats, &st); err != nil || st.GetStats().GetInstantaneous() == nil {
					t.Fatalf("%s #%d: stats %x do not hold an instantaneous report: %v", sc.Name, p.Index, h.Stats, err)
				}
				n++
			}
		}
	}
	if n < 2 {
		t.Fatalf("found %d stats blobs, want at least 2", n)
	}
}
