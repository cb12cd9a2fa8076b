package engine

import (
	"errors"
	"time"

	"github.com/mistnet/mist/internal/congestion"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/reliability"
)

// Settings are a connection's session settings, asked of the owner when
// the handshake completes (and, for the send buffer, while connecting).
type Settings struct {
	// NagleTime delays small messages; 0 or less: no delay.
	NagleTime time.Duration
	// SendBufferSize bounds the bytes queued to send, before the
	// connection is established too.
	SendBufferSize int
	// RecvBufferSize, RecvMaxMessageSize and RecvMaxSegmentsPerPacket
	// bound the receive side.
	RecvBufferSize           int
	RecvMaxMessageSize       int
	RecvMaxSegmentsPerPacket int
	// SendRateMin and SendRateMax bound the send rate in bytes per
	// second; equal bounds fix it, a range lets it adapt to the path.
	SendRateMin, SendRateMax int
}

// sessionAdapter fits a reliability.Session and its rate controller to the
// conn.Session interface.
type sessionAdapter struct {
	s     *reliability.Session
	rate  congestion.Controller
	owner Owner
	// recvTime is the arrival time of the packet being received: every
	// message it completes carries it, without a clock read per message.
	recvTime time.Time
	deliver  func(reliability.Message) bool
	// lanes is scratch space for Status.
	lanes []reliability.LaneStatus
}

// reliableSegmentOverhead is what an SNP packet spends around one reliable
// segment at most: stop-waiting, an ack and the segment header.
const reliableSegmentOverhead = 95

func newSession(owner Owner, st Settings, maxPlaintext int) *sessionAdapter {
	// Equal bounds (GNS's defaults) mean GNS's fixed rate; a range lets the
	// rate adapt to the path between them, where GNS would stay near its
	// connect-time estimate.
	var rate congestion.Controller
	if st.SendRateMin < st.SendRateMax {
		rate = congestion.NewAdaptive(st.SendRateMin, st.SendRateMax)
	} else {
		rate = congestion.NewFixed(st.SendRateMin, st.SendRateMax)
	}
	nagle := st.NagleTime
	if nagle <= 0 {
		nagle = -1
	}
	a := &sessionAdapter{rate: rate, owner: owner}
	a.s = reliability.New(reliability.Config{
		NagleTime:                nagle,
		SendBufferSize:           st.SendBufferSize,
		RecvBufferSize:           st.RecvBufferSize,
		RecvMaxMessageSize:       st.RecvMaxMessageSize,
		RecvMaxSegmentsPerPacket: st.RecvMaxSegmentsPerPacket,
		MaxReliableSegment:       maxPlaintext - reliableSegmentOverhead,
		Rate:                     rate,
		UnreadBytes:              owner.UnreadBytes,
		LendUnreliable:           true,
	})
	a.deliver = func(m reliability.Message) bool { return a.owner.Deliver(m, a.recvTime) }
	return a
}

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

func (a *sessionAdapter) LastPacketReliable() bool { return a.s.LastPacketReliable() }

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
