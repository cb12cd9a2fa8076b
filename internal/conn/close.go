package conn

import (
	"time"

	"github.com/mistnet/mist/internal/bufpool"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// maxDebugLen is how much close text GNS keeps.
const maxDebugLen = 127

// sendConnectionClosed queues a padded ConnectionClosed with the end reason.
func (c *Conn) sendConnectionClosed() { c.queue(c.connectionClosed()) }

// connectionClosed encodes a padded ConnectionClosed with the end reason.
func (c *Conn) connectionClosed() []byte {
	m := &pb.ConnectionClosed{
		FromConnectionId: proto.Uint32(c.localID),
		ReasonCode:       proto.Uint32(uint32(c.endReason)),
	}
	if c.remoteID != 0 {
		m.ToConnectionId = proto.Uint32(c.remoteID)
	}
	if c.endDebug != "" {
		d := c.endDebug
		if len(d) > maxDebugLen {
			d = d[:maxDebugLen]
		}
		m.Debug = proto.String(d)
	}
	b, err := wire.AppendConnectionClosed(newBuf(), m)
	if err != nil {
		return nil
	}
	return b
}

// sendNoConnection queues a NoConnection; 0 ids are left out.
func (c *Conn) sendNoConnection(from, to uint32) { c.queue(noConnection(from, to)) }

func noConnection(from, to uint32) []byte {
	m := &pb.NoConnection{}
	if from != 0 {
		m.FromConnectionId = proto.Uint32(from)
	}
	if to != 0 {
		m.ToConnectionId = proto.Uint32(to)
	}
	b, err := wire.AppendNoConnection(newBuf(), m)
	if err != nil {
		return nil
	}
	return b
}

// reply queues a reply to the datagram being received. Unless that datagram
// was authenticated, a reply larger than it is dropped, so that spoofed
// datagrams cannot be reflected with amplification. It reports whether the
// reply was queued.
func (c *Conn) reply(b []byte) bool {
	if b == nil {
		return false
	}
	if c.replyBudget > 0 && len(b) > c.replyBudget {
		bufpool.Put(b)
		c.Stats.RepliesSuppressed++
		return false
	}
	c.queue(b)
	return true
}

// replyClosed answers a packet with matching ids that reaches a connection
// that has ended: NoConnection if the peer closed, else our close again.
// A padded ConnectionClosed that would be too big a reply gives way to the
// small NoConnection.
func (c *Conn) replyClosed() {
	if c.wireState != StateClosedByPeer && c.reply(c.connectionClosed()) {
		return
	}
	c.reply(noConnection(c.localID, c.remoteID))
}

func (c *Conn) spamReplyAllowed(now time.Time) bool {
	return c.cfg.AllowSpamReply != nil && c.cfg.AllowSpamReply(now)
}

func (c *Conn) onConnectionClosed(now time.Time, m *pb.ConnectionClosed) {
	to, from := m.GetToConnectionId(), m.GetFromConnectionId()
	match := to == c.localID || (to == 0 && from != 0 && from == c.remoteID)
	if !match {
		c.Stats.Dropped++
		if c.spamReplyAllowed(now) {
			c.reply(noConnection(to, from))
		}
		return
	}
	c.reply(noConnection(to, from))
	if c.remoteID == 0 && from != 0 {
		c.remoteID = from
	}
	c.closedByPeer(now, int(m.GetReasonCode()), m.GetDebug())
}

func (c *Conn) onNoConnection(now time.Time, m *pb.NoConnection) {
	if m.GetToConnectionId() != c.localID || m.GetFromConnectionId() != c.remoteID {
		c.Stats.Dropped++
		return
	}
	c.closedByPeer(now, ReasonMiscPeerSentNoConnection, "Received unexpected 'no connection' from peer")
}
