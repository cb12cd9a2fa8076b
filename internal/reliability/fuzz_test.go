package reliability

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/snp"
)

// vectorPayloads returns some NULL-cipher plaintexts from the captures.
func vectorPayloads(tb testing.TB) [][]byte {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "vectors", "unencrypted-basic", "packets.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Type        string `json:"type"`
			PayloadHex  string `json:"payload_hex"`
			ChunkOffset int    `json:"chunk_offset"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Type != "data" {
			continue
		}
		b, _ := hex.DecodeString(rec.PayloadHex)
		out = append(out, b[rec.ChunkOffset:])
	}
	return out
}

// FuzzSessionReceive feeds hostile payloads to a session that has some
// state (a message in flight, a partial stream) and checks that it never
// panics, returns only end-reason errors, and keeps its memory bounded.
func FuzzSessionReceive(f *testing.F) {
	for i, p := range vectorPayloads(f) {
		if i%5 == 0 {
			f.Add(p, p, int64(2), i%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, p1, p2 []byte, pkt int64, lend bool) {
		if pkt < 2 || pkt > 1<<40 {
			return
		}
		s := New(Config{NagleTime: -1, RecvBufferSize: 64 * 1024, LendUnreliable: lend})
		s.Send(t0, 0, make([]byte, 3000), SendReliable)
		for n := int64(2); n < 5; n++ {
			s.AppendPacket(nil, t0, n, 1232, true)
		}
		deliver := func(m Message) bool {
			if len(m.Data) > s.cfg.RecvMaxMessageSize {
				t.Fatalf("delivered %d bytes", len(m.Data))
			}
			if m.Lent && (m.Reliable || !lend) {
				t.Fatalf("lent a message it should have given (reliable %v, lending %v)", m.Reliable, lend)
			}
			if !m.Lent {
				bufpool.Put(m.Data)
			}
			return true
		}
		for i, p := range [][]byte{p1, p2, p1} {
			err := s.Receive(t0.Add(time.Duration(i)*time.Millisecond), pkt+int64(i), p, deliver)
			var e *Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error without end reason: %v", err)
			}
			if err != nil {
				return
			}
		}
		for _, l := range s.recvLanes {
			if len(l.buf) > 64*1024 || len(l.frags) > maxBufferedFragments+1 || len(l.holes) > maxHolesExtend+1 {
				t.Fatalf("receive state grew: buf %d, frags %d, holes %d", len(l.buf), len(l.frags), len(l.holes))
			}
		}
		if held := heldBytes(s); held != s.recvHeld || held > 64*1024+recvSlack {
			t.Fatalf("receive buffers hold %d bytes, accounted %d", held, s.recvHeld)
		}
		if len(s.gaps) >= maxPacketGaps {
			t.Fatalf("%d gaps", len(s.gaps))
		}
		// Whatever happened, the session still builds valid packets.
		out := s.AppendAckPacket(nil, t0.Add(time.Second), 10, 1232, true)
		var r snp.Reader
		r.Reset(out, 10, 0, peerRefs{})
		for {
			if _, err := r.Next(); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("session wrote an undecodable packet %x: %v", out, err)
				}
				break
			}
		}
	})
}

// peerRefs stands in for the peer that would decode our packets: it has
// sent plenty of packets, so any ack we write names one of them.
type peerRefs struct{}

func (peerRefs) HighestMsgNum(int) int64 { return 0 }
func (peerRefs) NextStreamPos(int) int64 { return 1 }
func (peerRefs) NextPacketToSend() int64 { return 30000 }
