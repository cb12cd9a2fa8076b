package reliability

import (
	"io"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/snp"
)

// TestAckAfterPacketNumberJumps: a peer that jumps its packet numbers
// (each jump within what a connection accepts) and never raises its stop
// value makes the receiver merge gaps far longer than one ack block may
// describe. Every ack frame the receiver writes must still decode and be
// accepted by a sender of those packets.
func TestAckAfterPacketNumberJumps(t *testing.T) {
	const jump = 16000 // a connection ends on jumps over 16384
	a, b := New(Config{}), New(Config{})
	now := t0
	pkt := int64(2)
	ackFrames, blocks := 0, 0
	var longest int64
	for i := range 400 {
		now = now.Add(time.Millisecond)
		if _, err := a.Send(now, 0, []byte("payload"), SendReliable|SendNoNagle); err != nil {
			t.Fatal(err)
		}
		out := a.AppendAckPacket(nil, now, pkt, 1232, true)
		if err := b.Receive(now, pkt, out, nil); err != nil {
			t.Fatalf("jump %d: receiver: %v", i, err)
		}
		pkt += jump
		for _, g := range b.gaps {
			longest = max(longest, g.e-g.b)
		}
		// The receiver answers at once; its packet carries the ack.
		b.RequestAck(now, true)
		reply := b.AppendAckPacket(nil, now, int64(i+2), 1232, false)
		// A fresh sender of the same packets validates the ack, so that
		// the stop value of a stays where it is.
		v := New(Config{})
		v.ObserveSent(pkt - jump)
		var r snp.Reader
		r.Reset(reply, int64(i+2), 0, v)
		for {
			f, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("jump %d: ack packet does not decode: %v", i, err)
			}
			if f.Type == snp.FrameAck {
				ackFrames++
				blocks += f.Ack.NumBlocks
				if f.Ack.NumBlocks > maxAckBlocks {
					t.Fatalf("jump %d: %d ack blocks", i, f.Ack.NumBlocks)
				}
			}
		}
		if err := New(Config{}).validateAck(pkt-jump, int64(i+2), reply); err != nil {
			t.Fatalf("jump %d: sender rejects the ack: %v", i, err)
		}
	}
	if longest <= snp.MaxAckRun {
		t.Fatalf("longest gap %d packets: the test did not produce a gap longer than one block carries", longest)
	}
	if ackFrames != 400 || blocks == 0 {
		t.Errorf("%d ack frames with %d blocks in all", ackFrames, blocks)
	}
}

// validateAck has s, a sender of packets up to sent, process packet pktNum.
func (s *Session) validateAck(sent, pktNum int64, payload []byte) error {
	s.ObserveSent(sent)
	return s.Receive(t0, pktNum, payload, nil)
}
