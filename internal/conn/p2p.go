package conn

import (
	"errors"
	"time"

	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/wire"
)

// P2PHandshake is the outcome of a crypto handshake that travelled in
// signals instead of UDP handshake packets (a P2P connection): everything
// the data path needs.
type P2PHandshake struct {
	// IsServer is set on the side that accepted the connection.
	IsServer bool
	// RemoteID is the peer's connection id.
	RemoteID uint32
	// RemoteIdentity is the peer's identity, checked against its certificate.
	RemoteIdentity identity.Identity
	// Authenticated: the peer's certificate was CA-signed.
	Authenticated bool
	// PeerVersion is the peer's protocol version from its crypt info.
	PeerVersion uint32
	// Send and Recv are the two directions' ciphers.
	Send, Recv *crypto.Cipher
}

// NewP2P makes a connection whose handshake is already done: it starts
// Connected, sends no handshake packets, and numbers its first data packet
// 2 for peers of protocol 10 and later, the signalled connect request and
// OK standing for packet 1 (as with UDP).
func NewP2P(now time.Time, cfg *Config, h P2PHandshake) (*Conn, error) {
	if h.Send == nil || h.Recv == nil {
		return nil, errors.New("conn: P2P handshake without ciphers")
	}
	if h.RemoteID == 0 {
		return nil, errors.New("conn: P2P handshake without the peer's connection id")
	}
	c, err := newConn(now, cfg)
	if err != nil {
		return nil, err
	}
	c.isServer = h.IsServer
	c.remoteID = h.RemoteID
	c.remoteIdentity = h.RemoteIdentity
	c.authenticated = h.Authenticated
	c.peerVersion = h.PeerVersion
	c.sendCipher, c.recvCipher = h.Send, h.Recv
	c.state, c.wireState = StateConnecting, StateConnecting
	c.established(now)
	return c, nil
}

// DataPacketsReceived counts the data packets that decrypted and were
// accepted; a P2P connection's route is confirmed by the first.
func (c *Conn) DataPacketsReceived() uint64 { return c.dataRecv }

// RequestPing has the next data packet ask the peer for an immediate ack,
// as GNS does on a newly selected P2P route to confirm it quickly. A
// quiet connection sends that packet at the next Service.
func (c *Conn) RequestPing(now time.Time) {
	if c.state != StateConnected {
		return
	}
	c.keepaliveDue |= wire.StatsAckRequestE2E | wire.StatsAckRequestImmediate
	if c.replyTimeoutAt.IsZero() {
		c.replyTimeoutAt = now.Add(c.replyWait(false))
	}
}

// RouteChanged resets what the path measured: the new route has its own
// round trip, and acks overdue on the old one say nothing about it.
func (c *Conn) RouteChanged(now time.Time) {
	c.timeoutCount = 0
	c.timeoutStart = time.Time{}
	c.replyTimeoutAt = time.Time{}
	c.RequestPing(now)
}
