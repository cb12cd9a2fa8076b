package main

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, kind := range []byte{payloadReliable, payloadUnreliable} {
		for _, seq := range []uint64{0, 1, 9, 49, 99, 1 << 40} {
			msg := appendPayload(nil, kind, 7, seq)
			if got, want := len(msg), payloadHeaderLen+bodyLen(kind, seq); got != want {
				t.Fatalf("kind %d seq %d: length %d, want %d", kind, seq, got, want)
			}
			k, stream, s, err := parsePayload(msg)
			if err != nil || k != kind || stream != 7 || s != seq {
				t.Fatalf("kind %d seq %d: parsed (%d, %d, %d, %v)", kind, seq, k, stream, s, err)
			}
		}
	}
}

func TestPayloadRejectsDamage(t *testing.T) {
	good := appendPayload(nil, payloadReliable, 3, 49) // a large message
	cases := map[string][]byte{
		"empty":     nil,
		"short":     good[:payloadHeaderLen-1],
		"truncated": good[:len(good)-1],
		"extended":  append(bytes.Clone(good), 0),
		"bad kind":  append([]byte{9}, good[1:]...),
	}
	for _, i := range []int{0, 2, 10, 12, payloadHeaderLen, len(good) / 2, len(good) - 1} {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		cases["flipped byte "+strconv.Itoa(i)] = b
	}
	for name, b := range cases {
		if _, _, _, err := parsePayload(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
	}
}

func TestPayloadBodiesDiffer(t *testing.T) {
	// Two streams' messages with equal sequence numbers must not be
	// interchangeable: a mix-up between connections would go unnoticed.
	a := appendPayload(nil, payloadReliable, 1, 5)
	b := appendPayload(nil, payloadReliable, 2, 5)
	if bytes.Equal(a[payloadHeaderLen:], b[payloadHeaderLen:]) {
		t.Fatal("bodies of different streams are identical")
	}
}

func TestReliableTracker(t *testing.T) {
	var inOrder reliableTracker
	for seq := range uint64(5) {
		inOrder.observe(seq)
	}
	if !inOrder.ok(5) {
		t.Fatalf("in-order stream not ok: %+v", inOrder)
	}
	if inOrder.ok(6) {
		t.Fatal("a missing last message was not noticed")
	}

	for name, seqs := range map[string][]uint64{
		"gap":       {0, 1, 3, 4},
		"duplicate": {0, 1, 1, 2, 3},
		"reordered": {0, 2, 1, 3},
	} {
		var tr reliableTracker
		for _, s := range seqs {
			tr.observe(s)
		}
		if tr.ok(4) {
			t.Errorf("%s %v: reported ok", name, seqs)
		}
		if tr.firstError == "" {
			t.Errorf("%s: no description of the anomaly", name)
		}
	}
}

func TestUnreliableTracker(t *testing.T) {
	var tr unreliableTracker
	for _, s := range []uint64{0, 2, 1, 5, 5, 70, 3} {
		tr.observe(s)
	}
	if tr.received != 6 || tr.duplicates != 1 || tr.reordered != 2 {
		t.Fatalf("received %d duplicates %d reordered %d, want 6 1 2", tr.received, tr.duplicates, tr.reordered)
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add(appendPayload(nil, payloadReliable, 0, 0))
	f.Add(appendPayload(nil, payloadReliable, 1, 9))
	f.Add(appendPayload(nil, payloadUnreliable, 2, 3))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, stream, seq, err := parsePayload(b)
		if err != nil {
			return
		}
		// Anything accepted must be exactly what the sender would produce.
		if again := appendPayload(nil, kind, stream, seq); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, but the encoding of (%d, %d, %d) is %x", b, kind, stream, seq, again)
		}
	})
}
