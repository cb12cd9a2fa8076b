package conn

import (
	"errors"
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// Receive processes one datagram from the peer's address.
func (c *Conn) Receive(now time.Time, b []byte) {
	if c.state == StateDead {
		return
	}
	kind, err := wire.Classify(b)
	if err != nil {
		c.Stats.Dropped++
		return
	}
	c.Stats.PacketsRecv++
	c.Stats.BytesRecv += uint64(len(b))
	c.replyBudget = len(b)
	defer func() { c.replyBudget = 0 }()
	switch kind {
	case wire.KindData:
		c.receiveData(now, b)
	case wire.KindControl:
		c.receiveControl(now, b)
	default:
		c.Stats.Dropped++
	}
}

func (c *Conn) receiveControl(now time.Time, b []byte) {
	id, body, err := wire.ParseControl(b)
	if err != nil {
		c.Stats.Dropped++
		return
	}
	// Control messages carry no proof of origin (their ids travel in the
	// clear and the source address may be spoofed), so none of them counts
	// as a sign of life: only authenticated data does (receiveData).
	switch id {
	case wire.MsgChallengeRequest:
		var m pb.ChallengeRequest
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onHandshakeRetry(m.GetConnectionId())
	case wire.MsgConnectRequest:
		var m pb.ConnectRequest
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onHandshakeRetry(m.GetClientConnectionId())
	case wire.MsgChallengeReply:
		var m pb.ChallengeReply
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onChallengeReply(now, &m)
	case wire.MsgConnectOK:
		var m pb.ConnectOK
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onConnectOK(now, &m)
	case wire.MsgConnectionClosed:
		var m pb.ConnectionClosed
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onConnectionClosed(now, &m)
	case wire.MsgNoConnection:
		var m pb.NoConnection
		if proto.Unmarshal(body, &m) != nil {
			c.Stats.Dropped++
			return
		}
		c.onNoConnection(now, &m)
	default:
		c.Stats.Dropped++
	}
}

// LastAlive is when the peer last proved it is there: the connection's
// start or its latest authenticated packet.
func (c *Conn) LastAlive() time.Time { return c.lastRecv }

func (c *Conn) noteAlive(now time.Time) {
	c.lastRecv = now
	c.timeoutCount = 0
	c.replyTimeoutAt = time.Time{}
	c.timeoutStart = time.Time{}
}

func (c *Conn) receiveData(now time.Time, b []byte) {
	h, chunk, err := wire.ParseDataHeader(b)
	if err != nil {
		c.Stats.Dropped++
		return
	}
	if h.ToConnID != c.localID {
		c.Stats.Dropped++
		if c.spamReplyAllowed(now) {
			c.reply(noConnection(h.ToConnID, 0))
		}
		return
	}
	switch c.state {
	case StateConnected, StateLinger:
	case StateClosedByPeer, StateFinWait, StateProblemDetectedLocally:
		c.Stats.Dropped++
		c.replyClosed()
		return
	default:
		c.Stats.Dropped++
		return
	}
	var ackFlags uint32
	if h.Stats != nil {
		if ackFlags, err = wire.StatsAckFlags(h.Stats); err != nil {
			c.Stats.Dropped++
			return
		}
	}
	full, err := c.window.Expand(h.PacketNumber)
	if err != nil {
		if errors.Is(err, crypto.ErrDuplicate) {
			c.Stats.Duplicates++
			c.quality.onDuplicate(now, false)
		} else if errors.Is(err, crypto.ErrTooOld) {
			c.quality.onDuplicate(now, true)
		}
		c.Stats.Dropped++
		return
	}
	// Plaintext lives in a pooled buffer for the packet's processing only,
	// so idle connections hold none.
	buf := bufpool.Get(len(chunk))
	defer bufpool.Put(buf)
	plain, err := c.recvCipher.Open(buf[:0], chunk, full)
	if err != nil {
		c.Stats.DecryptFail++
		c.Stats.Dropped++
		return
	}
	if err := c.window.CheckLurch(full); err != nil {
		max := c.window.Max()
		c.problem(now, ReasonMiscGeneric, fmt.Sprintf("Pkt number lurch by %d; %04x->%04x", full-max, uint16(max), h.PacketNumber))
		return
	}
	c.noteAlive(now)
	c.replyBudget = 0 // authenticated from here on
	if err := c.session.Receive(now, int64(full), plain); err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			c.problem(now, pe.Reason, pe.Debug)
		}
		return
	}
	c.window.MarkReceived(full)
	c.dataRecv++
	if c.connectOK != nil || c.keys != nil {
		c.releaseHandshake()
	}
	sincePrev, haveSincePrev := h.TimeSincePrevious()
	c.quality.onPacket(now, int64(full), sincePrev, haveSincePrev)
	if h.Stats != nil && !flagsOnly(h.Stats) {
		if m, err := wire.ParseStats(h.Stats); err == nil {
			c.quality.onReport(m.GetStats().GetInstantaneous())
		}
	}
	if ackFlags&(wire.StatsAckRequestE2E|wire.StatsAckRequestImmediate) != 0 {
		c.session.NoteAckRequest(now, int64(full), ackFlags&wire.StatsAckRequestImmediate != 0)
	}
}

// flagsOnly reports whether an inline stats blob holds nothing but its
// flags field (field 3, a varint of at most 5 bytes), the common case not
// worth a protobuf decode.
func flagsOnly(blob []byte) bool {
	return len(blob) <= 6 && blob[0] == 0x18
}

// releaseHandshake drops what only the handshake needed once the peer has
// sent authenticated data: it is connected, so it will not ask for the
// handshake again.
func (c *Conn) releaseHandshake() {
	c.connectOK = nil
	c.keys = nil
	c.cryptSigned = nil
}
