package reliability

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// firstDataPlaintext returns the SNP plaintext of the first data packet a
// direction sent in a capture.
func firstDataPlaintext(t *testing.T, scenario, dir string) []byte {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "vectors", scenario, "packets.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Type, Dir    string
			PayloadHex   string  `json:"payload_hex"`
			ChunkOffset  int     `json:"chunk_offset"`
			PlaintextHex *string `json:"plaintext_hex"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type != "data" || rec.Dir != dir {
			continue
		}
		if rec.PlaintextHex != nil {
			b, _ := hex.DecodeString(*rec.PlaintextHex)
			return b
		}
		b, _ := hex.DecodeString(rec.PayloadHex)
		return b[rec.ChunkOffset:]
	}
	t.Fatalf("%s: no %s data packet", scenario, dir)
	return nil
}

// TestFirstPacketMatchesGNS queues what the captured client queued right
// after connecting (16, 100, 500 and 100000 bytes, reliable) and checks
// that mist builds its first data packet byte for byte as GNS did: four
// reliable segments, the last one cut to fill the packet exactly.
func TestFirstPacketMatchesGNS(t *testing.T) {
	for _, tc := range []struct {
		scenario          string
		maxPlaintext, seg int
	}{
		{"unencrypted-basic", 1248, 1153}, // NULL cipher: no tag
		{"encrypted-basic", 1232, 1137},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			want := firstDataPlaintext(t, tc.scenario, "c2s")
			s := New(Config{MaxReliableSegment: tc.seg})
			for k, size := range []int{16, 100, 500, 100000} {
				b := make([]byte, size)
				for i := range b {
					b[i] = byte(k*31 + i) // the captures' payload pattern
				}
				if _, err := s.Send(t0, 0, b, SendReliable); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := s.AppendPacket(nil, t0, 2, tc.maxPlaintext, true)
			if !ok || !bytes.Equal(got, want) {
				n := 0
				for n < min(len(got), len(want)) && got[n] == want[n] {
					n++
				}
				t.Fatalf("packet of %d bytes differs from GNS's %d-byte packet at byte %d", len(got), len(want), n)
			}
		})
	}
}
