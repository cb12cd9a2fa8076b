// Package vectortest loads the GNS capture vectors in testdata/vectors for
// tests. Each scenario folder holds packets.jsonl (every datagram) and
// keys.json (both sides' key material); their README files describe the
// formats.
package vectortest

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// Hex is a byte string written as lowercase hex in the vector files.
type Hex []byte

// UnmarshalJSON decodes a JSON hex string.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Packet is one captured UDP datagram.
type Packet struct {
	Index   int    `json:"index"`
	TimeUS  int64  `json:"t_us"`
	Dir     string `json:"dir"` // "c2s" or "s2c"
	Type    string `json:"type"`
	Len     int    `json:"len"`
	Payload Hex    `json:"payload_hex"`

	// Control messages.
	ProtobufOffset int `json:"protobuf_offset"`
	ProtobufLen    int `json:"protobuf_len"`

	// Data packets.
	Flags        int    `json:"flags"`
	ToConnID     uint32 `json:"to_conn_id"`
	WireSeq      uint16 `json:"wire_seq"`
	PktNum       uint64 `json:"pkt_num"` // from the sender's log: ground truth, not for deriving
	StatsOffset  *int   `json:"stats_offset"`
	StatsLen     int    `json:"stats_len"`
	ChunkOffset  int    `json:"chunk_offset"`
	ChunkLen     int    `json:"chunk_len"`
	PlaintextLen int    `json:"plaintext_len"`
	Nonce        Hex    `json:"nonce_hex"`
	Plaintext    Hex    `json:"plaintext_hex"`
}

// Side is one peer's key material from keys.json.
type Side struct {
	Role                 string `json:"role"`
	ConnIDLocal          uint32 `json:"conn_id_local"`
	ConnIDRemote         uint32 `json:"conn_id_remote"`
	ProtocolVersionLocal uint32 `json:"protocol_version_local"`
	ProtocolVersionPeer  uint32 `json:"protocol_version_peer"`
	Cipher               int    `json:"cipher"`
	KDFIsServer          bool   `json:"kdf_is_server"`
	X25519Private        Hex    `json:"ephemeral_x25519_private"`
	X25519Public         Hex    `json:"ephemeral_x25519_public"`
	PeerX25519Public     Hex    `json:"peer_ephemeral_x25519_public"`
	NonceLocal           string `json:"nonce_local"`
	NonceRemote          string `json:"nonce_remote"`
	CertSignedLocal      Hex    `json:"cert_signed_local"`
	CertLocal            Hex    `json:"cert_local"`
	CertRemote           Hex    `json:"cert_remote"`
	CryptInfoSignedLocal Hex    `json:"crypt_info_signed_local"`
	CryptInfoLocal       Hex    `json:"crypt_info_local"`
	CryptInfoRemote      Hex    `json:"crypt_info_remote"`
	Premaster            Hex    `json:"premaster"`
	Salt                 Hex    `json:"hkdf_salt"`
	PRK                  Hex    `json:"prk"`
	Info                 Hex    `json:"hkdf_info"`
	KeySend              Hex    `json:"key_send"`
	KeyRecv              Hex    `json:"key_recv"`
	IVSend               Hex    `json:"iv_send"`
	IVRecv               Hex    `json:"iv_recv"`
}

// Nonces returns the decimal nonce strings as numbers.
func (s *Side) Nonces() (local, remote uint64, err error) {
	if local, err = strconv.ParseUint(s.NonceLocal, 10, 64); err != nil {
		return
	}
	remote, err = strconv.ParseUint(s.NonceRemote, 10, 64)
	return
}

// Keys is keys.json.
type Keys struct {
	Scenario   string `json:"scenario"`
	CipherName string `json:"cipher"`
	Client     Side   `json:"client"`
	Server     Side   `json:"server"`
}

// Scenario is one capture.
type Scenario struct {
	Name    string
	Keys    Keys
	Packets []Packet
}

// Dir returns testdata/vectors of this repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "vectors")
}

// Names lists the scenario folders.
func Names() ([]string, error) {
	entries, err := os.ReadDir(Dir())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("vectortest: no scenarios in %s", Dir())
	}
	return names, nil
}

// Load reads one scenario.
func Load(name string) (*Scenario, error) {
	dir := filepath.Join(Dir(), name)
	s := &Scenario{Name: name}
	kb, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(kb, &s.Keys); err != nil {
		return nil, fmt.Errorf("vectortest: %s/keys.json: %w", name, err)
	}
	f, err := os.Open(filepath.Join(dir, "packets.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p Packet
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("vectortest: %s/packets.jsonl line %d: %w", name, len(s.Packets)+1, err)
		}
		s.Packets = append(s.Packets, p)
	}
	return s, sc.Err()
}

var (
	loadOnce sync.Once
	loaded   []*Scenario
	loadErr  error
)

// LoadAll reads every scenario, once per process; callers share the
// result and must not modify it.
func LoadAll() ([]*Scenario, error) {
	loadOnce.Do(func() { loaded, loadErr = loadAll() })
	return loaded, loadErr
}

func loadAll() ([]*Scenario, error) {
	names, err := Names()
	if err != nil {
		return nil, err
	}
	var all []*Scenario
	for _, n := range names {
		s, err := Load(n)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return all, nil
}
