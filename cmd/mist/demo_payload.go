package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Every demo message carries enough to check it on arrival: which stream it
// belongs to, its sequence number on that stream, and a CRC over the rest.
// The body is generated from (stream, seq), so its length and every byte are
// known to the receiver too.
//
//	kind   1 byte   payloadReliable or payloadUnreliable
//	stream 2 bytes  big endian
//	seq    8 bytes  big endian, 0, 1, 2, ... per stream and kind
//	crc    4 bytes  CRC-32 (IEEE) of kind, stream, seq and body
//	body   bodyLen(kind, seq) bytes
const (
	payloadReliable   byte = 1
	payloadUnreliable byte = 2

	payloadHeaderLen = 1 + 2 + 8 + 4
)

// bodyLen varies message sizes so the demo exercises both single-packet
// messages and reliable messages split across many segments.
func bodyLen(kind byte, seq uint64) int {
	if kind == payloadUnreliable {
		return 16 + int(seq%7)*120 // up to 736 bytes: always one packet
	}
	switch {
	case seq%50 == 49:
		return 20000 + int(seq%13)*1000 // large: about 16 to 27 segments
	case seq%10 == 9:
		return 1500 + int(seq%5)*300 // just over one packet
	default:
		return 40 + int(seq%11)*60
	}
}

// fillBody writes the deterministic body of message (kind, stream, seq).
func fillBody(b []byte, kind byte, stream uint16, seq uint64) {
	x := bodySeed(kind, stream, seq)
	for i := range b {
		x = xorshift32(x)
		b[i] = byte(x)
	}
}

func bodySeed(kind byte, stream uint16, seq uint64) uint32 {
	x := uint32(seq)*2654435761 ^ uint32(seq>>32)*40503 ^ uint32(stream)<<16 ^ uint32(kind)<<8
	if x == 0 {
		x = 1 // xorshift never leaves zero
	}
	return x
}

// xorshift32 is a cheap position-dependent sequence, so a shifted or
// truncated body does not verify.
func xorshift32(x uint32) uint32 {
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	return x
}

// bodyMatches reports whether body is the body of message (kind, stream, seq).
func bodyMatches(body []byte, kind byte, stream uint16, seq uint64) bool {
	x := bodySeed(kind, stream, seq)
	for _, c := range body {
		x = xorshift32(x)
		if c != byte(x) {
			return false
		}
	}
	return true
}

// appendPayload appends demo message (kind, stream, seq) to dst.
func appendPayload(dst []byte, kind byte, stream uint16, seq uint64) []byte {
	start := len(dst)
	n := bodyLen(kind, seq)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint16(dst, stream)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, 0, 0, 0, 0) // crc, filled in below
	dst = append(dst, make([]byte, n)...)
	msg := dst[start:]
	fillBody(msg[payloadHeaderLen:], kind, stream, seq)
	binary.BigEndian.PutUint32(msg[11:15], payloadCRC(msg))
	return dst
}

func payloadCRC(msg []byte) uint32 {
	h := crc32.NewIEEE()
	h.Write(msg[:11])
	h.Write(msg[payloadHeaderLen:])
	return h.Sum32()
}

// errCorrupt reports a demo message whose content does not verify.
var errCorrupt = errors.New("corrupt demo message")

// parsePayload checks a received demo message and returns its identity.
func parsePayload(msg []byte) (kind byte, stream uint16, seq uint64, err error) {
	if len(msg) < payloadHeaderLen {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", errCorrupt, len(msg), payloadHeaderLen)
	}
	kind = msg[0]
	stream = binary.BigEndian.Uint16(msg[1:3])
	seq = binary.BigEndian.Uint64(msg[3:11])
	if kind != payloadReliable && kind != payloadUnreliable {
		return 0, 0, 0, fmt.Errorf("%w: unknown kind %d", errCorrupt, kind)
	}
	if want := bodyLen(kind, seq); len(msg)-payloadHeaderLen != want {
		return 0, 0, 0, fmt.Errorf("%w: stream %d seq %d has a %d-byte body, want %d",
			errCorrupt, stream, seq, len(msg)-payloadHeaderLen, want)
	}
	if got, want := binary.BigEndian.Uint32(msg[11:15]), payloadCRC(msg); got != want {
		return 0, 0, 0, fmt.Errorf("%w: stream %d seq %d: CRC %08x, computed %08x", errCorrupt, stream, seq, got, want)
	}
	// The CRC catches damage in transit; regenerating the body also catches
	// a well-formed message delivered to the wrong place.
	if !bodyMatches(msg[payloadHeaderLen:], kind, stream, seq) {
		return 0, 0, 0, fmt.Errorf("%w: stream %d seq %d: body differs from what was sent", errCorrupt, stream, seq)
	}
	return kind, stream, seq, nil
}

// reliableTracker checks one reliable stream: every message must arrive
// exactly once and in order.
type reliableTracker struct {
	next       uint64 // sequence number expected next
	received   uint64 // messages that arrived in order
	skipped    uint64 // sequence numbers jumped over (lost or reordered)
	backwards  uint64 // arrivals below next: duplicated or reordered
	firstError string // the first anomaly, for the summary
}

func (t *reliableTracker) observe(seq uint64) {
	switch {
	case seq == t.next:
		t.received++
		t.next++
	case seq > t.next:
		t.note(fmt.Sprintf("got seq %d while expecting %d", seq, t.next))
		t.skipped += seq - t.next
		t.received++
		t.next = seq + 1
	default:
		t.note(fmt.Sprintf("got seq %d again or late (next expected %d)", seq, t.next))
		t.backwards++
	}
}

func (t *reliableTracker) note(s string) {
	if t.firstError == "" {
		t.firstError = s
	}
}

// ok reports whether exactly sent messages arrived, once each, in order.
func (t *reliableTracker) ok(sent uint64) bool {
	return t.skipped == 0 && t.backwards == 0 && t.received == sent && t.next == sent
}

// maxTrackedUnreliable bounds the memory an unreliable tracker uses; later
// sequence numbers are counted but not checked for duplicates.
const maxTrackedUnreliable = 1 << 22

// unreliableTracker counts an unreliable stream: loss and reordering are
// allowed, duplicates are not (GNS never delivers a packet twice).
type unreliableTracker struct {
	seen       []uint64 // bit set of sequence numbers received
	received   uint64
	duplicates uint64
	reordered  uint64
	maxSeq     uint64
	any        bool
}

func (t *unreliableTracker) observe(seq uint64) {
	if t.any && seq < t.maxSeq {
		t.reordered++
	}
	if !t.any || seq > t.maxSeq {
		t.maxSeq = seq
	}
	t.any = true
	if seq < maxTrackedUnreliable {
		word, bit := seq/64, uint64(1)<<(seq%64)
		for uint64(len(t.seen)) <= word {
			t.seen = append(t.seen, 0)
		}
		if t.seen[word]&bit != 0 {
			t.duplicates++
			return
		}
		t.seen[word] |= bit
	}
	t.received++
}
