package mist

import (
	"errors"
	"time"

	"github.com/mistnet/mist/internal/congestion"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
	"github.com/mistnet/mist/internal/reliability"
)

// sessionAdapter fits a reliability.Session and its rate controller to the
// conn.Session interface.
type sessionAdapter struct {
	s       *reliability.Session
	rate    congestion.Controller
	deliver func(reliability.Message) bool
	weights []int
	// recvTime is the arrival time of the packet being received: every
	// message it completes carries it, without a clock read per message.
	recvTime time.Time
	// lanes is scratch space for Status.
	lanes []reliability.LaneStatus
}

func (t *udpTransport) newSession(peerVersion uint32, maxPlaintext int) conn.Session {
	c := t.c
	cfg := c.cfg
	// Equal bounds (GNS's defaults) mean GNS's fixed rate; a range lets the
	// rate adapt to the path between them, where GNS would stay near its
	// connect-time estimate.
	var rate congestion.Controller
	if lo, hi := int(cfg.int(OptSendRateMin)), int(cfg.int(OptSendRateMax)); lo < hi {
		rate = congestion.NewAdaptive(lo, hi)
	} else {
		rate = congestion.NewFixed(lo, hi)
	}
	nagle := time.Duration(cfg.int(OptNagleTime)) * time.Microsecond
	if nagle == 0 {
		nagle = -1
	}
	maxMsgs := int(cfg.int(OptRecvBufferMessages))
	maxBytes := int(cfg.int(OptRecvBufferSize))
	a := &sessionAdapter{rate: rate}
	t.sess, t.nagle = a, nagle
	a.s = reliability.New(reliability.Config{
		NagleTime:                nagle,
		SendBufferSize:           int(cfg.int(OptSendBufferSize)),
		RecvBufferSize:           maxBytes,
		RecvMaxMessageSize:       int(cfg.int(OptRecvMaxMessageSize)),
		RecvMaxSegmentsPerPacket: int(cfg.int(OptRecvMaxSegmentsPerPacket)),
		MaxReliableSegment:       maxPlaintext - reliableSegmentOverhead,
		Rate:                     rate,
		LendUnreliable:           true,
	})
	a.deliver = func(rm reliability.Message) bool {
		var m *Message
		if rm.Lent {
			m = newReceivedCopy(rm.Data)
		} else {
			m = newReceived(rm.Data)
		}
		m.Lane = uint16(rm.Lane)
		m.MessageNumber = rm.Num
		if rm.Reliable {
			m.Flags = SendReliable
		}
		m.TimeReceived = a.recvTime
		if c.deliver(m, maxMsgs, maxBytes) {
			return true
		}
		// Refused: the session keeps ownership of a payload it gave.
		if !rm.Lent {
			m.Data, m.pooled = nil, false
		}
		m.Release()
		return false
	}
	return a
}

// reliableSegmentOverhead is what an SNP packet spends around one reliable
// segment at most: stop-waiting, an ack and the segment header.
const reliableSegmentOverhead = 95

func (a *sessionAdapter) Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error) {
	flags := reliability.SendUnreliable
	if reliable {
		flags |= reliability.SendReliable
	}
	if noNagle {
		flags |= reliability.SendNoNagle
	}
	return a.s.Send(now, lane, data, flags)
}

func (a *sessionAdapter) Flush(now time.Time) { a.s.Flush(now) }

func (a *sessionAdapter) ConfigureLanes(priorities []int, weights []uint16) error {
	var w []int
	if weights != nil {
		w = make([]int, len(weights))
		for i, x := range weights {
			w[i] = int(x)
		}
	}
	return a.s.ConfigureLanes(priorities, w)
}

func (a *sessionAdapter) Receive(now time.Time, pktNum int64, plaintext []byte) error {
	a.recvTime = now
	err := a.s.Receive(now, pktNum, plaintext, a.deliver)
	if err == nil {
		return nil
	}
	var re *reliability.Error
	if errors.As(err, &re) {
		return &conn.ProtocolError{Reason: re.EndReason, Debug: re.Err.Error()}
	}
	return err
}

func (a *sessionAdapter) AckRequestDue() bool { return a.s.AckRequestDue() }

func (a *sessionAdapter) AckRequestSent() { a.s.AckRequestSent() }

func (a *sessionAdapter) NoteAckRequest(now time.Time, pktNum int64, immediate bool) {
	a.s.RequestAck(now, immediate)
}

func (a *sessionAdapter) AppendPacket(dst []byte, now time.Time, pktNum int64, maxPlaintext int, allowData, force bool) ([]byte, bool) {
	if force {
		return a.s.AppendAckPacket(dst, now, pktNum, maxPlaintext, allowData), true
	}
	return a.s.AppendPacket(dst, now, pktNum, maxPlaintext, allowData)
}

func (a *sessionAdapter) TimeUntilSend(now time.Time) time.Duration { return a.rate.TimeUntilSend(now) }

func (a *sessionAdapter) NextDeadline(now time.Time) time.Time {
	d := a.s.NextDeadline()
	if !d.IsZero() && !d.After(now) {
		// Due but not sent: the send rate holds it back.
		d = now.Add(max(a.rate.TimeUntilSend(now), 20*time.Microsecond))
	}
	return d
}

func (a *sessionAdapter) ReliableDone() bool {
	return a.s.PendingReliable() == 0 && a.s.SentUnacked() == 0
}

func (a *sessionAdapter) Status(now time.Time, st *conn.SessionStatus) {
	st.PendingReliable = a.s.PendingReliable()
	st.PendingUnreliable = a.s.PendingUnreliable()
	st.SentUnackedReliable = a.s.SentUnacked()
	st.QueueTime = a.s.QueueTime()
	st.SendRate = a.rate.Rate()
	st.Ping, st.HavePing = a.s.Ping()
	if cap(a.lanes) < len(st.Lanes) {
		a.lanes = make([]reliability.LaneStatus, len(st.Lanes))
	}
	lanes := a.lanes[:len(st.Lanes)]
	a.s.LaneStatus(lanes)
	for i, l := range lanes {
		st.Lanes[i] = conn.LaneStatus{PendingReliable: l.PendingReliable, PendingUnreliable: l.PendingUnreliable,
			SentUnackedReliable: l.SentUnacked, QueueTime: l.QueueTime}
	}
}

func sendResult(err error) Result {
	switch {
	case errors.Is(err, reliability.ErrInvalidParam):
		return ResultInvalidParam
	case errors.Is(err, reliability.ErrLimitExceeded):
		return ResultLimitExceeded
	case errors.Is(err, conn.ErrNotConnected):
		return ResultNoConnection
	}
	return ResultFail
}

// wrapFaults applies the global FakePacket* and FakeRateLimit* options,
// when any is set, to a new socket.
func wrapFaults(pc endpoint.PacketConn) endpoint.PacketConn {
	send, recv := netsim.FromConfig(globalConfig.sc.Fake())
	// Inactive options still carry their defaults (jitter maximum, reorder
	// time...): only the switches matter.
	active := func(f netsim.Faults) bool {
		return f.LossPct > 0 || f.Lag > 0 || f.ReorderPct > 0 || f.DupPct > 0 || f.JitterAvg > 0 || f.RateLimit > 0
	}
	if !active(send) && !active(recv) {
		return pc
	}
	return netsim.Wrap(pc, netsim.Options{Send: send, Recv: recv})
}
