package decode

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mistnet/mist/internal/crypto"
)

// received is the part of a scenario's received.json the tests compare.
type received struct {
	Client, Server struct {
		Received []MessageJSON `json:"received"`
	}
}

func scenarios(t *testing.T) []string {
	dirs, err := filepath.Glob("../../testdata/vectors/*/packets.jsonl")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// expected returns the messages each application logged, tagged with the
// direction they travelled: the server received c2s, the client s2c.
func expected(t *testing.T, dir string) (c2s, s2c []MessageJSON) {
	var r received
	if err := json.NewDecoder(open(t, filepath.Join(dir, "received.json"))).Decode(&r); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Server.Received {
		m.Dir = "c2s"
		c2s = append(c2s, m)
	}
	for _, m := range r.Client.Received {
		m.Dir = "s2c"
		s2c = append(s2c, m)
	}
	return c2s, s2c
}

// splitOutput parses message lines and separates them by direction.
func splitOutput(t *testing.T, out []byte) (c2s, s2c []MessageJSON) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m MessageJSON
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		if m.Dir == "c2s" {
			c2s = append(c2s, m)
		} else {
			s2c = append(s2c, m)
		}
	}
	return c2s, s2c
}

func compare(t *testing.T, what string, got, want []MessageJSON) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, the application received %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s message %d: got %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestVectorsReassemble replays every capture and compares the messages
// with what both GNS applications received: direction, lane, reliability,
// message number, size, hash and order.
func TestVectorsReassemble(t *testing.T) {
	for _, dir := range scenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var out, diag bytes.Buffer
			bad, err := Run(open(t, filepath.Join(dir, "keys.json")), open(t, filepath.Join(dir, "packets.jsonl")), &out, &diag, false)
			if err != nil || bad != 0 {
				t.Fatalf("Run: %d undecodable, %v\n%s", bad, err, diag.String())
			}
			gotC2S, gotS2C := splitOutput(t, out.Bytes())
			wantC2S, wantS2C := expected(t, dir)
			if len(wantC2S)+len(wantS2C) == 0 {
				t.Fatal("scenario has no received messages")
			}
			compare(t, "c2s", gotC2S, wantC2S)
			compare(t, "s2c", gotS2C, wantS2C)
		})
	}
}

// TestFramesOutput checks --frames against the frame counts the
// unencrypted-basic README states.
func TestFramesOutput(t *testing.T) {
	dir := "../../testdata/vectors/unencrypted-basic"
	var out, diag bytes.Buffer
	if _, err := Run(open(t, dir+"/keys.json"), open(t, dir+"/packets.jsonl"), &out, &diag, true); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	msgs := 0
	for line := range strings.Lines(out.String()) {
		var f struct {
			Dir   string `json:"dir"`
			Frame string `json:"frame"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatal(err)
		}
		if f.Frame == "" {
			msgs++
			continue
		}
		counts[f.Dir+" "+f.Frame]++
	}
	for k, want := range map[string]int{
		"c2s stop-waiting": 99, "s2c stop-waiting": 111,
		"c2s ack": 99, "s2c ack": 111,
		"c2s reliable segment": 93, "s2c reliable segment": 111,
		"c2s unreliable segment": 12, "s2c unreliable segment": 0,
	} {
		if counts[k] != want {
			t.Errorf("%s: %d frames, want %d", k, counts[k], want)
		}
	}
	if msgs != 20 {
		t.Errorf("%d message lines, want 20", msgs)
	}
}

// TestUndecodable damages datagrams and checks each is reported with its
// index and reason while the rest still decode.
func TestUndecodable(t *testing.T) {
	dir := "../../testdata/vectors/encrypted-basic"
	keys, err := os.ReadFile(dir + "/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.Lines(readString(t, dir+"/packets.jsonl")) {
		lines = append(lines, line)
	}
	// Flip a ciphertext byte of datagram 10 and truncate datagram 12 to
	// three bytes; both are data packets.
	lines[10] = mutatePayload(t, lines[10], func(b []byte) []byte { b[len(b)-20] ^= 1; return b })
	lines[12] = mutatePayload(t, lines[12], func(b []byte) []byte { return b[:3] })
	var out, diag bytes.Buffer
	bad, err := Run(bytes.NewReader(keys), strings.NewReader(strings.Join(lines, "")), &out, &diag, false)
	if err != nil || bad != 2 {
		t.Fatalf("Run: %d undecodable, %v; want 2\n%s", bad, err, diag.String())
	}
	report := diag.String()
	for _, want := range []string{"datagram 10 (", "failed authentication", "datagram 12 (", "shorter than"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}

	// A wrong private key is caught at the key derivation.
	d, _ := New(make([]byte, 32), make([]byte, 32))
	var firstErr error
	for i, line := range lines {
		var pl packetLine
		json.Unmarshal([]byte(line), &pl)
		payload, _ := hex.DecodeString(pl.PayloadHex)
		dirn, _ := ParseDir(pl.Dir)
		if err := d.Datagram(i, dirn, payload); err != nil {
			firstErr = err
			break
		}
	}
	var de *DatagramError
	if !errors.As(firstErr, &de) || !strings.Contains(firstErr.Error(), "derive different keys") {
		t.Errorf("wrong keys: %v", firstErr)
	}
}

func readString(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mutatePayload(t *testing.T, line string, f func([]byte) []byte) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "data" {
		t.Fatalf("datagram %v is %v, not data", m["index"], m["type"])
	}
	b, _ := hex.DecodeString(m["payload_hex"].(string))
	m["payload_hex"] = hex.EncodeToString(f(b))
	out, _ := json.Marshal(m)
	return string(out) + "\n"
}

// TestAuthErrorWraps: a DatagramError unwraps to its cause.
func TestAuthErrorWraps(t *testing.T) {
	err := &DatagramError{Index: 1, Err: crypto.ErrAuth}
	if !errors.Is(err, crypto.ErrAuth) {
		t.Fatal("DatagramError does not unwrap")
	}
}
