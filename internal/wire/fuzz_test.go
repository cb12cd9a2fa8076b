package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
)

// seedVectors adds every captured datagram (or, with pick, a part of it).
func seedVectors(f *testing.F, pick func(typ string, b []byte) []byte) {
	for _, sc := range loadVectors(f) {
		for _, p := range sc.Packets {
			if b := pick(p.Type, p.Payload); b != nil {
				f.Add(b)
			}
		}
	}
}

func FuzzClassify(f *testing.F) {
	seedVectors(f, func(_ string, b []byte) []byte { return b })
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, err := Classify(b)
		if (kind == KindInvalid) != (err != nil) {
			t.Fatalf("kind %v with error %v", kind, err)
		}
	})
}

// FuzzControl covers framing and every control message body.
func FuzzControl(f *testing.F) {
	seedVectors(f, func(typ string, b []byte) []byte {
		if typ == "data" {
			return nil
		}
		return b
	})
	for _, tc := range goldenControl {
		b, _ := AppendControlMessage(nil, tc.msg)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, body, err := ParseControl(b)
		if err != nil {
			return
		}
		// Framing round trip: the body re-framed parses to the same body.
		again := AppendControl(nil, id, body)
		id2, body2, err := ParseControl(again)
		if err != nil || id2 != id || !bytes.Equal(body, body2) {
			t.Fatalf("framing round trip: %v %v %x", id2, err, body2)
		}
		_, msg, err := ParseControlMessage(b)
		if err != nil {
			return
		}
		enc, err := AppendControlMessage(nil, msg)
		if err != nil {
			if id.Padded() && proto.Size(msg) == 0 {
				return // an empty padded body is unsendable by design
			}
			t.Fatalf("re-encode: %v", err)
		}
		if len(enc) < MinDatagramLen {
			return // repeated fields collapsed into a datagram too short to send
		}
		_, msg2, err := ParseControlMessage(enc)
		if err != nil || !proto.Equal(msg, msg2) {
			t.Fatalf("message round trip: %v\n%v\n%v", err, msg, msg2)
		}
	})
}

func FuzzDataHeader(f *testing.F) {
	seedVectors(f, func(typ string, b []byte) []byte {
		if typ != "data" {
			return nil
		}
		return b[:min(len(b), 64)]
	})
	f.Add([]byte{0x83, 1, 2, 3, 4, 5, 6, 2, 0x18, 2, 0x10, 0, 0xaa})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, chunk, err := ParseDataHeader(b)
		if err != nil {
			return
		}
		if _, err := StatsAckFlags(h.Stats); err != nil {
			t.Fatalf("header accepted a stats blob StatsAckFlags rejects: %v", err)
		}
		hdr := b[:len(b)-len(chunk)]
		// The re-encoding is canonical: equal unless the stats varint
		// length was written with redundant bytes.
		again := AppendDataHeader(nil, &h)
		if len(again) != h.Len() {
			t.Fatalf("Len %d, wrote %d", h.Len(), len(again))
		}
		h2, chunk2, err := ParseDataHeader(append(again, chunk...))
		if err != nil || !bytes.Equal(chunk2, chunk) || h2.Flags != h.Flags || h2.ToConnID != h.ToConnID ||
			h2.PacketNumber != h.PacketNumber || !bytes.Equal(h2.Stats, h.Stats) || h2.TimeSincePrev != h.TimeSincePrev {
			t.Fatalf("round trip: %+v %v, want %+v", h2, err, h)
		}
		if len(again) == len(hdr) && !bytes.Equal(again, hdr) {
			t.Fatalf("re-encoded %x, want %x", again, hdr)
		}
	})
}

func FuzzStats(f *testing.F) {
	seedVectors(f, func(typ string, b []byte) []byte {
		if typ != "data" {
			return nil
		}
		if h, _, err := ParseDataHeader(b); err == nil && h.Stats != nil {
			return h.Stats
		}
		return nil
	})
	f.Add([]byte{0x18, 0x02})
	f.Add([]byte{0x0a, 0x00, 0x18, 0x06})
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, scanErr := StatsAckFlags(b)
		m, err := ParseStats(b)
		if err != nil {
			return
		}
		if scanErr != nil {
			t.Fatalf("protobuf parses but the scan fails: %v", scanErr)
		}
		want := m.GetFlags()
		if m.Stats != nil {
			want |= StatsAckRequestE2E
		}
		if flags != want {
			t.Fatalf("StatsAckFlags %#x, decoded %#x", flags, want)
		}
		enc, err := AppendStats(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseStats(enc)
		if err != nil || !proto.Equal(m, m2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// fuzzTyped runs one typed parser over arbitrary bodies framed with its id,
// seeded with the captured bodies of that message.
func fuzzTyped[T proto.Message](f *testing.F, id MsgID, parse func([]byte) (T, error)) {
	seedVectors(f, func(typ string, b []byte) []byte {
		if typ != id.String() {
			return nil
		}
		_, body, err := ParseControl(b)
		if err != nil {
			f.Fatal(err)
		}
		return body
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		if id.Padded() && (len(body) == 0 || len(body) > 0xFFFF) {
			return
		}
		m, err := parse(AppendControl(nil, id, body))
		if err != nil {
			return
		}
		enc, err := AppendControlMessage(nil, m)
		if err != nil || len(enc) < MinDatagramLen {
			return
		}
		m2, err := parse(enc)
		if err != nil || !proto.Equal(m, m2) {
			t.Fatalf("%v round trip: %v", id, err)
		}
	})
}

func FuzzChallengeRequest(f *testing.F) { fuzzTyped(f, MsgChallengeRequest, ParseChallengeRequest) }
func FuzzChallengeReply(f *testing.F)   { fuzzTyped(f, MsgChallengeReply, ParseChallengeReply) }
func FuzzConnectRequest(f *testing.F)   { fuzzTyped(f, MsgConnectRequest, ParseConnectRequest) }
func FuzzConnectOK(f *testing.F)        { fuzzTyped(f, MsgConnectOK, ParseConnectOK) }
func FuzzConnectionClosed(f *testing.F) { fuzzTyped(f, MsgConnectionClosed, ParseConnectionClosed) }
func FuzzNoConnection(f *testing.F)     { fuzzTyped(f, MsgNoConnection, ParseNoConnection) }
