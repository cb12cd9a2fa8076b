package mist

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

type connRequest = pb.ConnectRequest

// udpTransport drives one conn.Conn for a connection: it feeds it
// datagrams, API calls and timer ticks under the connection's lock, sends
// what it queues and reflects its state into the API state.
type udpTransport struct {
	c      *connection
	sock   *udpSocket
	cc     *conn.Conn
	remote netip.AddrPort
	timer  *time.Timer
	// timerAt is when the timer fires; zero when it is not pending.
	timerAt time.Time
	// sess is the session once the handshake made one; nagle its Nagle
	// delay (negative: none).
	sess  *sessionAdapter
	nagle time.Duration
	// For inbound connections: who the client said it is, fixed at creation
	// and read without the connection lock for duplicate detection.
	clientID       uint32
	clientIdentity identity.Identity
	batch          []endpoint.Packet
	gone           bool

	// Messages sent while Connecting wait here, numbered as the session
	// will number them, until the connection is established.
	// Counters at the previous status call, for the per-second rates.
	rateAt    time.Time
	rateStats conn.Stats

	early      []earlyMsg
	earlyBytes int
	earlyNum   []int64
	lanePrio   []int
	laneW      []uint16
}

type earlyMsg struct {
	lane  int
	data  []byte
	flags SendFlags
}

// receive handles a datagram for this connection (from the receive loop),
// which must kick the connection once its read batch is handled.
func (t *udpTransport) receive(now time.Time, b []byte) {
	c := t.c
	c.mu.Lock()
	if !t.gone {
		t.cc.Receive(now, b)
	}
	c.mu.Unlock()
}

// kick runs the protocol at now, sends what it produced, reflects state
// changes and rearms the timer. Called with c.mu held.
func (t *udpTransport) kick(now time.Time) {
	if t.gone {
		return
	}
	t.cc.Service(now)
	t.sync(now)
	t.flushOut()
	if t.gone {
		return
	}
	t.arm(now)
}

func (t *udpTransport) flushOut() {
	if !t.cc.Pending() {
		return
	}
	t.batch = t.batch[:0]
	t.cc.Drain(t.collect)
	t.sock.write(t.batch)
	for i := range t.batch {
		bufpool.Put(t.batch[i].Buf)
		t.batch[i] = endpoint.Packet{}
	}
}

// collect copies a datagram into the write batch: Drain recycles its
// buffer as soon as collect returns.
func (t *udpTransport) collect(b []byte) {
	cp := bufpool.Get(len(b))
	copy(cp, b)
	t.batch = append(t.batch, endpoint.Packet{Buf: cp, Addr: t.remote})
}

// arm sets the timer for the protocol's next deadline. A timer already
// due no later than that is left alone: firing early costs one idle kick,
// which rearms it, while resetting it on every kick (every message sent)
// costs more than the kicks it saves.
func (t *udpTransport) arm(now time.Time) {
	d := t.cc.NextDeadline(now)
	if d.IsZero() {
		if t.timer != nil && !t.timerAt.IsZero() {
			t.timer.Stop()
			t.timerAt = time.Time{}
		}
		return
	}
	if !t.timerAt.IsZero() && !t.timerAt.After(d) {
		return
	}
	t.timerAt = d
	wait := max(d.Sub(now), 0)
	if t.timer == nil {
		t.timer = time.AfterFunc(wait, t.onTimer)
		return
	}
	t.timer.Reset(wait)
}

func (t *udpTransport) onTimer() {
	c := t.c
	c.mu.Lock()
	t.timerAt = time.Time{}
	t.kick(c.s.now())
	c.mu.Unlock()
}

// sync reflects the protocol state into the API state. Called with c.mu held.
func (t *udpTransport) sync(now time.Time) {
	c := t.c
	switch t.cc.State() {
	case conn.StateConnected:
		if c.state == StateConnecting {
			c.remote = Identity{t.cc.RemoteIdentity()}
			c.flags = connFlags(t.cc, t.remote)
			t.sendEarly(now)
			c.setState(StateConnected)
		}
	case conn.StateClosedByPeer:
		c.ended(StateClosedByPeer, EndReason(t.cc.EndReason()), t.cc.EndDebug())
	case conn.StateProblemDetectedLocally:
		c.ended(StateProblemDetectedLocally, EndReason(t.cc.EndReason()), t.cc.EndDebug())
	case conn.StateDead:
		t.teardown()
	}
}

// sendEarly hands messages queued while connecting to the session.
func (t *udpTransport) sendEarly(now time.Time) {
	if t.lanePrio != nil || t.laneW != nil {
		t.cc.Session().ConfigureLanes(t.lanePrio, t.laneW)
	}
	for _, m := range t.early {
		t.cc.Send(now, m.lane, m.data, m.flags&SendReliable != 0, m.flags&SendNoNagle != 0)
		bufpool.Put(m.data)
	}
	t.early, t.earlyBytes = nil, 0
}

// teardown forgets the connection: timer, address mapping, socket.
func (t *udpTransport) teardown() {
	if t.gone {
		return
	}
	t.gone = true
	s := t.c.s
	s.liveMu.Lock()
	delete(s.live, t)
	s.liveMu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
	for _, m := range t.early {
		bufpool.Put(m.data)
	}
	t.early = nil
	t.cc.Discard()
	u := t.sock
	if u.client == t {
		// The receive loop may be the caller: do not wait for it to end.
		u.pc.Close()
		return
	}
	t.forgetAddr()
	if ls := u.listen; ls != nil {
		ls.mu.Lock()
		delete(ls.conns, t.c)
		ls.mu.Unlock()
	}
}

// forgetAddr stops the listen socket's demux from feeding this connection.
func (t *udpTransport) forgetAddr() {
	u := t.sock
	u.mu.Lock()
	if u.byAddr[t.remote] == t {
		delete(u.byAddr, t.remote)
	}
	u.mu.Unlock()
}

func (t *udpTransport) send(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result) {
	if t.cc.State() == conn.StateConnecting {
		// The send buffer limit applies while connecting too.
		if t.earlyBytes+len(data) > int(t.c.cfg.int(OptSendBufferSize)) {
			return -1, ResultLimitExceeded
		}
		t.earlyBytes += len(data)
		for len(t.earlyNum) <= lane {
			t.earlyNum = append(t.earlyNum, 0)
		}
		t.earlyNum[lane]++
		cp := bufpool.Get(len(data))
		copy(cp, data)
		t.early = append(t.early, earlyMsg{lane: lane, data: cp, flags: flags})
		return t.earlyNum[lane], ResultOK
	}
	n, err := t.cc.Send(now, lane, data, flags&SendReliable != 0, flags&SendNoNagle != 0)
	if err != nil {
		return -1, sendResult(err)
	}
	if t.nagleHolds(now, flags) {
		return n, ResultOK
	}
	t.kick(now)
	return n, ResultOK
}

// nagleHolds reports whether a message just queued can wait for the timer:
// Nagle holds it and the timer fires by its Nagle deadline. Small messages
// sent in a burst then cost a queue append each instead of a pass through
// the whole protocol, and the packets they fill go out nagleBatch at a
// time, in one system call, rather than one by one: Nagle already lets
// them wait that long.
func (t *udpTransport) nagleHolds(now time.Time, flags SendFlags) bool {
	if flags&SendNoNagle != 0 || t.sess == nil || t.nagle < 0 || t.timerAt.IsZero() {
		return false
	}
	return !t.timerAt.After(now.Add(t.nagle)) && !t.sess.s.NagleBatchReady(now, nagleBatch)
}

// nagleBatch is how many packets of Nagle-held messages may gather before
// they are sent.
const nagleBatch = 16

func (t *udpTransport) flush(now time.Time) {
	t.cc.Flush(now)
	t.kick(now)
}

func (t *udpTransport) accept(now time.Time) Result {
	if err := t.cc.Accept(now); err != nil {
		t.kick(now)
		if errors.Is(err, conn.ErrHandshakeFailed) {
			return ResultHandshakeFailed
		}
		return ResultInvalidState
	}
	t.c.cfg.lockConnection()
	t.kick(now)
	return ResultOK
}

func (t *udpTransport) close(now time.Time, reason EndReason, debug string, linger bool) {
	t.cc.Close(now, int(reason), debug, linger)
	t.kick(now)
}

func (t *udpTransport) destroy() {
	t.cc.Destroy()
	t.teardown()
}

// minLanesVersion is the first protocol version with lanes.
const minLanesVersion = 11

func (t *udpTransport) configureLanes(priorities []int, weights []uint16) Result {
	if v := t.cc.PeerVersion(); v != 0 && v < minLanesVersion && max(len(priorities), len(weights)) > 1 {
		now := t.c.s.now()
		t.cc.Fail(now, int(EndRemoteBadProtocolVersion), "Peer is too old to use lanes")
		t.kick(now)
		return ResultFail
	}
	if sess := t.cc.Session(); sess != nil {
		if err := sess.ConfigureLanes(priorities, weights); err != nil {
			return ResultInvalidParam
		}
		return ResultOK
	}
	t.lanePrio, t.laneW = priorities, weights
	return ResultOK
}

func (t *udpTransport) status(now time.Time, st *RealTimeStatus, lanes []LaneStatus) {
	if p, ok := t.cc.Ping(); ok {
		st.Ping = int(p.Milliseconds())
	}
	st.QualityLocal, st.QualityRemote, st.MaxJitter = t.cc.Quality(now)
	// Traffic rates over the time since the previous call.
	cur := t.cc.Stats
	if !t.rateAt.IsZero() {
		if d := now.Sub(t.rateAt).Seconds(); d > 0 {
			prev := t.rateStats
			st.OutPacketsPerSec = float32(float64(cur.PacketsSent-prev.PacketsSent) / d)
			st.OutBytesPerSec = float32(float64(cur.BytesSent-prev.BytesSent) / d)
			st.InPacketsPerSec = float32(float64(cur.PacketsRecv-prev.PacketsRecv) / d)
			st.InBytesPerSec = float32(float64(cur.BytesRecv-prev.BytesRecv) / d)
		}
	}
	t.rateAt, t.rateStats = now, cur
	sess := t.cc.Session()
	if sess == nil {
		for _, m := range t.early {
			if m.flags&SendReliable != 0 {
				st.PendingReliable += len(m.data)
			} else {
				st.PendingUnreliable += len(m.data)
			}
		}
		return
	}
	ss := conn.SessionStatus{Lanes: make([]conn.LaneStatus, len(lanes))}
	sess.Status(now, &ss)
	st.PendingReliable, st.PendingUnreliable = ss.PendingReliable, ss.PendingUnreliable
	st.SentUnackedReliable = ss.SentUnackedReliable
	st.QueueTime = ss.QueueTime
	st.SendRate = ss.SendRate
	if ss.HavePing {
		st.Ping = int(ss.Ping.Milliseconds())
	}
	for i, l := range ss.Lanes {
		lanes[i] = LaneStatus{PendingUnreliable: l.PendingUnreliable, PendingReliable: l.PendingReliable,
			SentUnackedReliable: l.SentUnackedReliable, QueueTime: l.QueueTime}
	}
}

func (t *udpTransport) detailedStatus() string {
	s := t.cc.Stats
	text := fmt.Sprintf("Packets sent %d (%d bytes), received %d (%d bytes), dropped %d\n",
		s.PacketsSent, s.BytesSent, s.PacketsRecv, s.BytesRecv, s.Dropped)
	if a, ok := t.cc.Session().(*sessionAdapter); ok {
		segs, bytes := a.s.Retransmitted()
		text += fmt.Sprintf("Reliable retransmissions: %d segments (%d bytes)\n", segs, bytes)
	}
	return text
}

func (t *udpTransport) description() string {
	addr := FormatIPAddr(t.remote)
	if id := t.c.remote; !id.IsValid() || id.IsLocalhost() || id == IPIdentity(t.remote) {
		return "UDP " + addr
	}
	return "UDP " + t.c.remote.String() + "@" + addr
}
