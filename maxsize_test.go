package mist

import (
	"bytes"
	"testing"
)

// A message of the maximum size goes through with every option at its
// default, including SendBufferSize (512 KiB, the same number).
func TestMaxSizeMessageWithDefaults(t *testing.T) {
	p := newUDPPair(t, nil, nil)
	want := lossyPayload(7, MaxMessageSize)
	if _, r := p.client.SendMessageToConnection(p.cconn, want, SendReliable); r != ResultOK {
		t.Fatalf("send %d bytes with the default send buffer: %v", MaxMessageSize, r)
	}
	if _, r := p.client.SendMessageToConnection(p.cconn, make([]byte, MaxMessageSize+1), SendReliable); r != ResultInvalidParam {
		t.Fatalf("send %d bytes: %v, want InvalidParam", MaxMessageSize+1, r)
	}
	buf := make([]*Message, 1)
	waitFor(t, "the 512 KiB message", func() bool {
		if p.server.ReceiveMessagesOnConnection(p.sconn, buf) != 1 {
			return false
		}
		defer buf[0].Release()
		if !bytes.Equal(buf[0].Data, want) {
			t.Fatalf("received %d bytes, not the message sent", len(buf[0].Data))
		}
		return true
	}, p.server, p.client)
}
