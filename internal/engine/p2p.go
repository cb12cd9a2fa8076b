package engine

import (
	"time"

	"github.com/mistnet/mist/internal/conn"
)

// NewP2P makes a connection whose crypto handshake travelled in signals
// (a P2P connection) over path p: it starts Connected, sends no handshake
// packets, and reports Connected to the owner at its first Kick. The owner
// decides when the route is confirmed (DataPacketsReceived).
func NewP2P(now time.Time, cfg Config, p Path, h conn.P2PHandshake) (*Conn, error) {
	c := newConn(&cfg, p)
	cc, err := conn.NewP2P(now, &cfg.Protocol, h)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return c, nil
}

// DataPacketsReceived counts the data packets that decrypted and were
// accepted.
func (c *Conn) DataPacketsReceived() uint64 { return c.cc.DataPacketsReceived() }

// RouteChanged resets the liveness measurements after the active path
// moved to another route and pings the peer over it at once.
func (c *Conn) RouteChanged(now time.Time) { c.cc.RouteChanged(now) }
