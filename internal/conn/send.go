package conn

import (
	"errors"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/wire"
)

// maxPacketsPerService bounds the work of one Service call; the deadline
// brings the connection back for the rest.
const maxPacketsPerService = 256

// ErrNotConnected is returned by Send when the connection cannot take
// messages in its state.
var ErrNotConnected = errors.New("conn: not connected")

// Send queues a message. Before the connection is established there is no
// session yet and messages are refused with ErrNotConnected; the caller
// keeps them until then.
func (c *Conn) Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error) {
	if c.session == nil || c.state != StateConnected {
		return -1, ErrNotConnected
	}
	return c.session.Send(now, lane, data, reliable, noNagle)
}

// Flush cancels Nagle delays.
func (c *Conn) Flush(now time.Time) {
	if c.session != nil {
		c.session.Flush(now)
	}
}

// replyWait is how long to wait for the answer to an ack request.
func (c *Conn) replyWait(delayedOK bool) time.Duration {
	w := maxReplyWait
	if c.havePing {
		w = min(2*c.ping+250*time.Millisecond, maxReplyWait)
	}
	if delayedOK {
		w += delayedReplySlack
	}
	return w
}

// Service runs timers due at now and queues the packets that are due:
// handshake retries, keepalives, acks, data. Call it after every event and
// at NextDeadline.
func (c *Conn) Service(now time.Time) {
	switch c.state {
	case StateConnecting:
		if !now.Before(c.entered.Add(c.cfg.TimeoutInitial)) {
			if c.isServer {
				c.problem(now, ReasonMiscTimeout, "App didn't accept or close incoming connection in time.")
			} else {
				c.problem(now, ReasonMiscTimeout, "Timed out attempting to connect")
			}
			return
		}
		if !c.isServer && !now.Before(c.retryAt) {
			c.sendChallengeRequest(now)
		}
	case StateConnected, StateLinger:
		c.serviceLiveness(now)
		if c.state != StateConnected && c.state != StateLinger {
			return
		}
		c.statsDue(now)
		c.sendPackets(now)
		if c.state == StateLinger && c.session.ReliableDone() {
			c.setState(now, StateFinWait)
			c.sendConnectionClosed()
		}
	case StateFinWait:
		if !now.Before(c.finWaitUntil) {
			c.state = StateDead
		}
	}
}

func (c *Conn) serviceLiveness(now time.Time) {
	if !c.replyTimeoutAt.IsZero() && !now.Before(c.replyTimeoutAt) {
		c.replyTimeoutAt = time.Time{}
		c.timeoutCount++
		if c.timeoutCount == 1 {
			c.timeoutStart = now
		}
	}
	if c.timeoutCount >= minTimeoutsToDrop {
		start := c.timeoutStart
		if c.lastRecv.After(start) {
			start = c.lastRecv
		}
		if !now.Before(start.Add(c.cfg.TimeoutConnected)) {
			c.problem(now, ReasonMiscTimeout, "Connection dropped")
			return
		}
	}
	switch {
	case c.timeoutCount > 0:
		// Urgent pings go out every UrgentPingInterval while replies are
		// overdue, even when data packets keep a reply timer running.
		if !now.Before(c.lastUrgentPing.Add(UrgentPingInterval)) {
			c.keepaliveDue = wire.StatsAckRequestE2E | wire.StatsAckRequestImmediate
			c.lastUrgentPing = now
			if c.replyTimeoutAt.IsZero() {
				c.replyTimeoutAt = now.Add(c.replyWait(false))
			}
		}
	case c.replyTimeoutAt.IsZero() && !now.Before(c.lastRecv.Add(KeepAliveInterval)):
		c.keepaliveDue = wire.StatsAckRequestE2E
		c.replyTimeoutAt = now.Add(c.replyWait(true))
	}
}

// sendPackets builds data packets while the session has something due.
func (c *Conn) sendPackets(now time.Time) {
	plain := bufpool.Get(MaxUDPPayload)
	defer bufpool.Put(plain)
	for range maxPacketsPerService {
		flags := c.keepaliveDue
		force := flags != 0 || c.stats.pending != nil
		if flags == 0 && !now.Before(c.lastAckRequest.Add(tracerPingInterval)) {
			// A tracer ping: ask for an ack on an ordinary packet now and
			// then, so the round-trip estimate stays fresh.
			flags = wire.StatsAckRequestE2E
		}
		windowAck := flags&wire.StatsAckRequestImmediate == 0 && c.session.AckRequestDue()
		if windowAck {
			// Keep a delayed-ack peer's acks coming while much data is in
			// flight, or the send window stalls between them.
			flags |= wire.StatsAckRequestE2E | wire.StatsAckRequestImmediate
		}
		var scratch [2]byte
		statsBlob := c.statsBlob(flags, &scratch)
		h := wire.DataHeader{ToConnID: c.remoteID, PacketNumber: uint16(c.nextPktNum), Stats: statsBlob}
		c.setTimeSincePrevious(now, &h)
		hdrLen := h.Len()
		maxPlain := c.maxPlaintext(hdrLen - wire.DataHeaderLen)
		allowData := c.session.TimeUntilSend(now) <= 0
		payload, ok := c.session.AppendPacket(plain[:0], now, int64(c.nextPktNum), maxPlain, allowData, force)
		if !ok {
			return
		}
		if windowAck {
			c.session.AckRequestSent()
		}
		b := wire.AppendDataHeader(bufpool.Get(hdrLen + len(payload) + c.sendCipher.Overhead())[:0], &h)
		b = c.sendCipher.Seal(b, payload, c.nextPktNum)
		c.queue(b)
		c.nextPktNum++
		// A packet the peer must answer (reliable data, which it acks, an
		// ack request or stats) starts the reply timer, so that a dead peer is
		// noticed while we send and not only after the keepalive interval.
		if c.replyTimeoutAt.IsZero() && (flags&wire.StatsAckRequestE2E != 0 || statsBlob != nil || c.session.LastPacketReliable()) {
			c.replyTimeoutAt = now.Add(c.replyWait(flags&wire.StatsAckRequestImmediate == 0))
		}
		c.lastDataSent = now
		c.keepaliveDue = 0
		if statsBlob != nil {
			c.lastAckRequest = now
			c.stats.pending = nil
		}
	}
}

// maxTimeSincePrevious is the longest gap written into a data header; GNS
// leaves the field out beyond it.
const maxTimeSincePrevious = 250 * time.Millisecond

// setTimeSincePrevious fills the header's time since our previous data
// packet when the option asks for it and the peer understands it.
func (c *Conn) setTimeSincePrevious(now time.Time, h *wire.DataHeader) {
	if !c.cfg.SendTimeSincePrevious || c.peerVersion < 12 || c.lastDataSent.IsZero() {
		return
	}
	if d := now.Sub(c.lastDataSent); d >= 0 && d < maxTimeSincePrevious {
		h.HasTimeSincePrev = true
		h.TimeSincePrev = uint16(d / (16 * time.Microsecond))
	}
}

// NextDeadline is when Service must run next; the zero time if never.
func (c *Conn) NextDeadline(now time.Time) time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	switch c.state {
	case StateConnecting:
		earliest(c.entered.Add(c.cfg.TimeoutInitial))
		if !c.isServer {
			earliest(c.retryAt)
		}
	case StateConnected, StateLinger:
		earliest(c.replyTimeoutAt)
		if c.timeoutCount >= minTimeoutsToDrop {
			start := c.timeoutStart
			if c.lastRecv.After(start) {
				start = c.lastRecv
			}
			earliest(start.Add(c.cfg.TimeoutConnected))
		}
		if c.timeoutCount > 0 {
			earliest(c.lastUrgentPing.Add(UrgentPingInterval))
		}
		if c.replyTimeoutAt.IsZero() && c.timeoutCount == 0 {
			earliest(c.lastRecv.Add(KeepAliveInterval))
		}
		earliest(c.session.NextDeadline(now))
		earliest(c.stats.nextInstant)
		earliest(c.stats.nextLifetime)
	case StateFinWait:
		earliest(c.finWaitUntil)
	}
	return d
}
