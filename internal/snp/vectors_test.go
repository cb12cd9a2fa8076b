package snp

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// vectorPacket is one captured data packet's plaintext.
type vectorPacket struct {
	Scenario  string
	Index     int
	Dir       string
	PktNum    int64
	Plaintext []byte
}

// loadVectorPlaintexts reads the SNP plaintexts of every data packet in
// the conformance vectors: the logged plaintext for AES-GCM captures, the
// chunk itself for NULL-cipher ones.
func loadVectorPlaintexts(tb testing.TB) []vectorPacket {
	tb.Helper()
	vectorsOnce.Do(func() { vectorsCache, vectorsErr = readVectorPlaintexts() })
	if vectorsErr != nil {
		tb.Fatal(vectorsErr)
	}
	return vectorsCache
}

var (
	vectorsOnce  sync.Once
	vectorsCache []vectorPacket
	vectorsErr   error
)

func readVectorPlaintexts() ([]vectorPacket, error) {
	dirs, err := filepath.Glob("../../testdata/vectors/*/packets.jsonl")
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("no vectors found: %v", err)
	}
	var out []vectorPacket
	for _, path := range dirs {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				Index        int     `json:"index"`
				Dir          string  `json:"dir"`
				Type         string  `json:"type"`
				PktNum       int64   `json:"pkt_num"`
				PayloadHex   string  `json:"payload_hex"`
				ChunkOffset  int     `json:"chunk_offset"`
				PlaintextHex *string `json:"plaintext_hex"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return nil, err
			}
			if rec.Type != "data" {
				continue
			}
			var pt []byte
			if rec.PlaintextHex != nil {
				pt, err = hex.DecodeString(*rec.PlaintextHex)
			} else {
				pt, err = hex.DecodeString(rec.PayloadHex)
				if err == nil {
					pt = pt[rec.ChunkOffset:]
				}
			}
			if err != nil {
				return nil, err
			}
			out = append(out, vectorPacket{filepath.Base(filepath.Dir(path)), rec.Index, rec.Dir, rec.PktNum, pt})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// trackingRefs follows a capture closely enough to expand its numbers.
type trackingRefs struct {
	highest [MaxLanes]int64
	nextPos [MaxLanes]int64
	nextPkt int64
}

func (r *trackingRefs) HighestMsgNum(lane int) int64 { return r.highest[lane] }
func (r *trackingRefs) NextStreamPos(lane int) int64 {
	if r.nextPos[lane] == 0 {
		return 1
	}
	return r.nextPos[lane]
}
func (r *trackingRefs) NextPacketToSend() int64 { return r.nextPkt }

func (r *trackingRefs) note(f Frame) {
	switch f.Type {
	case FrameUnreliable:
		r.highest[f.Lane] = max(r.highest[f.Lane], f.MsgNum)
	case FrameReliable:
		r.nextPos[f.Lane] = max(r.nextPos[f.Lane], f.Pos+int64(len(f.Data)))
	}
}

// TestVectorFramesDecode decodes every captured plaintext and checks the
// facts the vector READMEs state about them.
func TestVectorFramesDecode(t *testing.T) {
	pkts := loadVectorPlaintexts(t)
	refs := map[string]*trackingRefs{}
	sent := map[string]int64{} // highest packet number sent, per scenario+dir
	counts := map[FrameType]int{}
	perDir := map[string]int{} // "scenario/dir/type" -> frames
	for _, p := range pkts {
		key := p.Scenario + "/" + p.Dir
		other := p.Scenario + "/c2s"
		if p.Dir == "c2s" {
			other = p.Scenario + "/s2c"
		}
		sent[key] = max(sent[key], p.PktNum)
		r := refs[key]
		if r == nil {
			r = &trackingRefs{}
			refs[key] = r
		}
		r.nextPkt = max(sent[other]+1, 2)
		var rd Reader
		rd.Reset(p.Plaintext, p.PktNum, 0, r)
		first := true
		for {
			f, err := rd.Next()
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s #%d: %v", p.Scenario, p.Index, err)
			}
			if first && f.Type != FrameStopWaiting {
				t.Errorf("%s #%d: first frame is %v, GNS always starts with stop-waiting", p.Scenario, p.Index, f.Type)
			}
			first = false
			if f.Type == FrameStopWaiting && (f.Stop < 0 || f.Stop >= p.PktNum) {
				t.Errorf("%s #%d: stop value %d outside [0,%d)", p.Scenario, p.Index, f.Stop, p.PktNum)
			}
			counts[f.Type]++
			perDir[key+"/"+f.Type.String()]++
			r.note(f)
		}
	}
	for _, ft := range []FrameType{FrameStopWaiting, FrameAck, FrameReliable, FrameUnreliable} {
		if counts[ft] == 0 {
			t.Errorf("no %v frames in the vectors", ft)
		}
	}
	// Counts stated in unencrypted-basic/README.md.
	for k, want := range map[string]int{
		"unencrypted-basic/c2s/stop-waiting":       99,
		"unencrypted-basic/c2s/ack":                99,
		"unencrypted-basic/c2s/reliable segment":   93,
		"unencrypted-basic/c2s/unreliable segment": 12,
		"unencrypted-basic/s2c/reliable segment":   111,
		"unencrypted-basic/s2c/unreliable segment": 0,
	} {
		if perDir[k] != want {
			t.Errorf("%s: %d frames, README says %d", k, perDir[k], want)
		}
	}
	t.Logf("%d packets, frames: %v", len(pkts), counts)
}
