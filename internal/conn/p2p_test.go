package conn

import (
	"testing"
	"time"

	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
)

// p2pPair makes two connections whose keys came from a signalled handshake.
func p2pPair(t *testing.T) (a, b *Conn, as, bs *fakeSession) {
	t.Helper()
	var k1, k2 [crypto.KeySize]byte
	var iv1, iv2 [crypto.IVSize]byte
	k1[0], k2[0], iv1[0], iv2[0] = 1, 2, 3, 4
	mk := func(k [crypto.KeySize]byte, iv [crypto.IVSize]byte) *crypto.Cipher {
		c, err := crypto.NewCipher(pb.Cipher_CIPHER_AES_256_GCM, k, iv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := testConfig(0x11112222, clientAddr, &as)
	cb := testConfig(0x33334444, serverAddr, &bs)
	var err error
	a, err = NewP2P(t0, &ca, P2PHandshake{RemoteID: 0x33334444, PeerVersion: 13, Send: mk(k1, iv1), Recv: mk(k2, iv2)})
	if err != nil {
		t.Fatal(err)
	}
	b, err = NewP2P(t0, &cb, P2PHandshake{IsServer: true, RemoteID: 0x11112222, PeerVersion: 13, Send: mk(k2, iv2), Recv: mk(k1, iv1)})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, as, bs
}

func drain(c *Conn) [][]byte {
	var out [][]byte
	c.Drain(func(b []byte) { out = append(out, append([]byte(nil), b...)) })
	return out
}

func TestP2PStartsConnectedWithoutHandshakePackets(t *testing.T) {
	a, b, _, bs := p2pPair(t)
	if a.State() != StateConnected || b.State() != StateConnected {
		t.Fatalf("states %v %v, want Connected", a.State(), b.State())
	}
	if a.Pending() || b.Pending() {
		t.Fatal("a P2P connection queued handshake packets")
	}
	a.RequestPing(t0)
	a.Service(t0)
	pkts := drain(a)
	if len(pkts) != 1 {
		t.Fatalf("ping: %d packets, want 1", len(pkts))
	}
	h, _, err := wire.ParseDataHeader(pkts[0])
	if err != nil || h.PacketNumber != 2 || h.ToConnID != 0x33334444 {
		t.Fatalf("first data packet %+v, %v: want number 2 to the peer's id", h, err)
	}
	if b.DataPacketsReceived() != 0 {
		t.Fatal("counted a packet before any arrived")
	}
	b.Receive(t0, pkts[0])
	if b.DataPacketsReceived() != 1 {
		t.Fatalf("DataPacketsReceived = %d after one packet", b.DataPacketsReceived())
	}
	if bs.acks != 1 {
		t.Fatalf("the ping asked for %d acks, want 1", bs.acks)
	}
	// A forged packet (wrong key) does not count.
	forged := append([]byte(nil), pkts[0]...)
	forged[len(forged)-1] ^= 1
	b.Receive(t0.Add(time.Millisecond), forged)
	if b.DataPacketsReceived() != 1 {
		t.Fatal("a packet that failed to decrypt was counted")
	}
}

func TestP2PNeedsKeysAndPeerID(t *testing.T) {
	var s *fakeSession
	cfg := testConfig(0x11112222, clientAddr, &s)
	if _, err := NewP2P(t0, &cfg, P2PHandshake{RemoteID: 5}); err == nil {
		t.Fatal("NewP2P accepted a handshake without ciphers")
	}
}
