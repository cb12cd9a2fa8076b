package mist

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestUDPConnectSendReceive(t *testing.T) {
	for _, unenc := range []int32{0, 3} {
		t.Run(fmt.Sprint("Unencrypted=", unenc), func(t *testing.T) {
			opts := append([]ConfigValue{Int32Value(OptUnencrypted, unenc)}, fastOpts...)
			p := newUDPPair(t, opts, opts)
			info, _ := p.client.ConnectionInfo(p.cconn)
			if (info.Flags&ConnInfoUnencrypted != 0) != (unenc == 3) {
				t.Errorf("flags %b", info.Flags)
			}
			sizes := []int{1, 0, 100, 1200, 5000, 100_000, MaxMessageSize}
			for i, n := range sizes {
				msg := bytes.Repeat([]byte{byte(i + 1)}, n)
				if _, r := p.client.SendMessageToConnection(p.cconn, msg, SendReliable); r != ResultOK {
					t.Fatalf("send %d bytes: %v", n, r)
				}
			}
			got := receiveAll(t, p.server, p.sconn, len(sizes))
			for i, m := range got {
				if len(m.Data) != sizes[i] || (sizes[i] > 0 && m.Data[0] != byte(i+1)) || m.MessageNumber != int64(i+1) {
					t.Errorf("message %d: %d bytes, number %d", i, len(m.Data), m.MessageNumber)
				}
				m.Release()
			}
		})
	}
}

// A message carries the time its packet arrived.
func TestUDPTimeReceived(t *testing.T) {
	p := newUDPPair(t, nil, nil)
	before := time.Now()
	if _, r := p.client.SendMessageToConnection(p.cconn, []byte("when"), SendReliableNoNagle); r != ResultOK {
		t.Fatal(r)
	}
	m := receiveAll(t, p.server, p.sconn, 1)[0]
	defer m.Release()
	if m.TimeReceived.Before(before) || m.TimeReceived.After(time.Now()) {
		t.Fatalf("TimeReceived %v outside [%v, now]", m.TimeReceived, before)
	}
}
