package decode

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// keyFile is the part of a capture's keys.json the decoder needs.
type keyFile struct {
	Client struct {
		Private string `json:"ephemeral_x25519_private"`
	} `json:"client"`
	Server struct {
		Private string `json:"ephemeral_x25519_private"`
	} `json:"server"`
}

// packetLine is the part of a packets.jsonl line the decoder needs.
type packetLine struct {
	Dir        string `json:"dir"`
	PayloadHex string `json:"payload_hex"`
}

// Run replays a capture: keys is its keys.json, packets its packets.jsonl.
// It writes one JSON line per delivered message to out (and, with frames
// set, one per decoded SNP frame, before the messages it completes) and
// one line per undecodable datagram to diag. It returns how many
// datagrams could not be decoded; the error is for unusable input.
func Run(keys, packets io.Reader, out, diag io.Writer, frames bool) (int, error) {
	var kf keyFile
	if err := json.NewDecoder(keys).Decode(&kf); err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	cpriv, err := hex.DecodeString(kf.Client.Private)
	if err != nil || len(cpriv) == 0 {
		return 0, fmt.Errorf("keys: client.ephemeral_x25519_private is missing or not hex")
	}
	spriv, err := hex.DecodeString(kf.Server.Private)
	if err != nil || len(spriv) == 0 {
		return 0, fmt.Errorf("keys: server.ephemeral_x25519_private is missing or not hex")
	}
	d, err := New(cpriv, spriv)
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	var writeErr error
	d.OnMessage = func(m Message) {
		if err := enc.Encode(m.JSON()); err != nil && writeErr == nil {
			writeErr = err
		}
	}
	if frames {
		d.OnFrame = func(f Frame) {
			if err := enc.Encode(f.JSON()); err != nil && writeErr == nil {
				writeErr = err
			}
		}
	}

	sc := bufio.NewScanner(packets)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	bad := 0
	for index := 0; sc.Scan(); index++ {
		var line packetLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return bad, fmt.Errorf("packets line %d: %w", index+1, err)
		}
		dir, err := ParseDir(line.Dir)
		if err != nil {
			return bad, fmt.Errorf("packets line %d: %w", index+1, err)
		}
		payload, err := hex.DecodeString(line.PayloadHex)
		if err != nil {
			return bad, fmt.Errorf("packets line %d: payload_hex: %w", index+1, err)
		}
		if err := d.Datagram(index, dir, payload); err != nil {
			bad++
			var de *DatagramError
			if !errors.As(err, &de) {
				return bad, err
			}
			fmt.Fprintln(diag, err)
		}
	}
	if err := sc.Err(); err != nil {
		return bad, fmt.Errorf("packets: %w", err)
	}
	if err := bw.Flush(); err != nil && writeErr == nil {
		writeErr = err
	}
	return bad, writeErr
}
