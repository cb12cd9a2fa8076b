package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/conn"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/reliability"
)

// Owner is what a connection knows of whoever owns it (the public API).
// Its methods are called with the connection's lock held and must not call
// back into the connection.
type Owner interface {
	// Settings returns the session settings; see Settings.
	Settings() Settings
	// Deliver hands over one received message that arrived at arrived. It
	// reports false to refuse it (a full queue); the message then stays
	// the session's (see reliability.Message.Lent).
	Deliver(m reliability.Message, arrived time.Time) bool
	// UnreadBytes is the size of the delivered messages the application
	// has not read yet; the session counts them against RecvBufferSize
	// together with its own buffers.
	UnreadBytes() int
	// StateChanged reports that the protocol reached st: Connected (once),
	// ClosedByPeer or ProblemDetectedLocally with the end reason, or Dead
	// once the connection has let go of its paths and timer.
	StateChanged(st conn.State, reason int, debug string)
}

// Config makes a connection.
type Config struct {
	// Protocol is the state machine's configuration; the engine sets its
	// NewSession and, from the first path, Remote.
	Protocol conn.Config
	// Lock guards the connection. The owner may hold it over its own state
	// and must hold it when calling the connection's methods, except
	// Receive and Service, which take it.
	Lock *sync.Mutex
	// Owner receives messages and state changes.
	Owner Owner
	// Now is the clock of timers and received datagrams.
	Now func() time.Time
}

// Conn drives one conn.Conn: it feeds it datagrams from its paths, API
// calls and timer ticks, sends what it queues on the active path, holds
// messages sent while connecting and reports state changes to the owner.
type Conn struct {
	mu    *sync.Mutex
	owner Owner
	now   func() time.Time
	cc    *conn.Conn

	paths  []Path
	active Path
	// sock is the socket that feeds the first path, if it is a UDP one,
	// and sockPath that path; nil for connections built on other paths.
	sock     *Socket
	sockPath *udpPath

	timer *time.Timer
	// timerAt is when the timer fires; zero when it is not pending.
	timerAt time.Time
	// sess is the session once the handshake made one; nagle its Nagle
	// delay (negative: none).
	sess  *sessionAdapter
	nagle time.Duration
	// For inbound connections: who the client said it is, fixed at
	// creation and read without the lock for duplicate detection.
	clientID       uint32
	clientIdentity identity.Identity
	out            [][]byte
	gone           bool
	notified       conn.State // the last state reported to the owner

	// Counters at the previous status call, for the per-second rates.
	rateAt    time.Time
	rateStats conn.Stats

	// Messages sent while connecting wait here until the session exists,
	// which numbers them as they are handed over.
	early      []earlyMsg
	earlyBytes int
	earlyNum   []int64
	lanePrio   []int
	laneW      []uint16
}

type earlyMsg struct {
	lane              int
	data              []byte
	reliable, noNagle bool
}

func newConn(cfg *Config, first Path) *Conn {
	c := &Conn{mu: cfg.Lock, owner: cfg.Owner, now: cfg.Now, paths: []Path{first}, active: first, notified: conn.StateConnecting}
	if c.now == nil {
		c.now = time.Now
	}
	if up, ok := first.(*udpPath); ok {
		c.sock, c.sockPath = up.sock, up
	}
	cfg.Protocol.Remote = first.RemoteAddr()
	cfg.Protocol.NewSession = c.newSession
	return c
}

// NewClient starts an outbound connection over path p. Call Service (or
// Kick with the lock held) to send its first ChallengeRequest.
func NewClient(now time.Time, cfg Config, p Path) (*Conn, error) {
	c := newConn(&cfg, p)
	cc, err := conn.NewClient(now, &cfg.Protocol)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return c, nil
}

// NewServer makes the listen side of a connection from a ConnectRequest
// that passed the listener's challenge, arriving over p from a client that
// is remote.
func NewServer(now time.Time, cfg Config, p Path, req *pb.ConnectRequest, remote identity.Identity) (*Conn, error) {
	c := newConn(&cfg, p)
	cc, err := conn.NewServer(now, &cfg.Protocol, req, remote)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	c.clientID, c.clientIdentity = req.GetClientConnectionId(), remote
	return c, nil
}

func (c *Conn) newSession(peerVersion uint32, maxPlaintext int) conn.Session {
	st := c.owner.Settings()
	c.sess = newSession(c.owner, st, maxPlaintext)
	c.nagle = st.NagleTime
	if c.nagle <= 0 {
		c.nagle = -1
	}
	return c.sess
}

// AddPath gives the connection another way to reach its peer. Datagrams
// are accepted from every path the connection owns; it sends on the active
// one.
func (c *Conn) AddPath(p Path) {
	for _, q := range c.paths {
		if q == p {
			return
		}
	}
	c.paths = append(c.paths, p)
}

// RemovePath drops a path; if it was the active one, the first remaining
// path becomes active (none left: datagrams are dropped until one is
// added and made active).
func (c *Conn) RemovePath(p Path) {
	for i, q := range c.paths {
		if q == p {
			c.paths = append(c.paths[:i], c.paths[i+1:]...)
			break
		}
	}
	if c.active == p {
		c.active = nil
		if len(c.paths) > 0 {
			c.active = c.paths[0]
		}
	}
}

// SetActivePath sends from now on over p, which it adds if needed.
// Reliability is unaffected: the session's packet numbers, keys and
// retransmissions carry on, and packets lost on the old path are resent
// on the new one.
func (c *Conn) SetActivePath(p Path) {
	c.AddPath(p)
	c.active = p
}

// ActivePath is the path the connection sends on.
func (c *Conn) ActivePath() Path { return c.active }

// Paths lists the connection's paths.
func (c *Conn) Paths() []Path { return append([]Path(nil), c.paths...) }

func (c *Conn) owns(p Path) bool {
	for _, q := range c.paths {
		if q == p {
			return true
		}
	}
	return false
}

// Receive handles a datagram that arrived over p. It takes the lock; the
// caller runs Service once its batch of datagrams is handled. Datagrams
// from a path the connection does not own are dropped.
func (c *Conn) Receive(now time.Time, p Path, b []byte) {
	c.mu.Lock()
	if !c.gone {
		if c.owns(p) {
			c.cc.Receive(now, b)
		} else {
			c.cc.Stats.Dropped++
		}
	}
	c.mu.Unlock()
}

// Service runs the protocol at now under the lock; see Kick.
func (c *Conn) Service(now time.Time) {
	c.mu.Lock()
	c.Kick(now)
	c.mu.Unlock()
}

// Kick runs the protocol at now, sends what it produced, reports state
// changes and rearms the timer. Called with the lock held.
func (c *Conn) Kick(now time.Time) {
	if c.gone {
		return
	}
	c.cc.Service(now)
	c.sync(now)
	c.flushOut()
	if c.gone {
		return
	}
	c.arm(now)
}

func (c *Conn) flushOut() {
	if !c.cc.Pending() {
		return
	}
	c.out = c.out[:0]
	c.cc.Drain(c.collect)
	if c.active != nil {
		c.active.WriteDatagrams(c.out)
	}
	for i, b := range c.out {
		bufpool.Put(b)
		c.out[i] = nil
	}
}

// collect copies a datagram into the write batch: Drain recycles its
// buffer as soon as collect returns.
func (c *Conn) collect(b []byte) {
	cp := bufpool.Get(len(b))
	copy(cp, b)
	c.out = append(c.out, cp)
}

// arm sets the timer for the protocol's next deadline. A timer already
// due no later than that is left alone: firing early costs one idle kick,
// which rearms it, while resetting it on every kick (every message sent)
// costs more than the kicks it saves.
func (c *Conn) arm(now time.Time) {
	d := c.cc.NextDeadline(now)
	if d.IsZero() {
		if c.timer != nil && !c.timerAt.IsZero() {
			c.timer.Stop()
			c.timerAt = time.Time{}
		}
		return
	}
	if !c.timerAt.IsZero() && !c.timerAt.After(d) {
		return
	}
	c.timerAt = d
	wait := max(d.Sub(now), 0)
	if c.timer == nil {
		c.timer = time.AfterFunc(wait, c.onTimer)
		return
	}
	c.timer.Reset(wait)
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	c.timerAt = time.Time{}
	c.Kick(c.now())
	c.mu.Unlock()
}

// sync reports protocol state changes to the owner.
func (c *Conn) sync(now time.Time) {
	st := c.cc.State()
	switch st {
	case conn.StateConnected:
		if c.notified == conn.StateConnecting {
			c.notified = st
			c.sendEarly(now)
			c.owner.StateChanged(st, 0, "")
		}
	case conn.StateClosedByPeer, conn.StateProblemDetectedLocally:
		if c.notified != st {
			c.notified = st
			c.owner.StateChanged(st, c.cc.EndReason(), c.cc.EndDebug())
		}
	case conn.StateDead:
		c.teardown()
	}
}

// sendEarly hands messages queued while connecting to the session.
func (c *Conn) sendEarly(now time.Time) {
	if c.lanePrio != nil || c.laneW != nil {
		c.cc.Session().ConfigureLanes(c.lanePrio, c.laneW)
	}
	for _, m := range c.early {
		c.cc.Send(now, m.lane, m.data, m.reliable, m.noNagle)
		bufpool.Put(m.data)
	}
	c.early, c.earlyBytes = nil, 0
}

// teardown lets go of the timer, the paths and the socket, then tells the
// owner the connection is dead.
func (c *Conn) teardown() {
	if c.gone {
		return
	}
	c.gone = true
	if c.timer != nil {
		c.timer.Stop()
	}
	for _, m := range c.early {
		bufpool.Put(m.data)
	}
	c.early = nil
	c.cc.Discard()
	if u := c.sock; u != nil {
		if u.client == c {
			// The receive loop may be the caller: do not wait for it to end.
			u.pc.Close()
		} else {
			u.unbind(c.sockPath.remote, c)
		}
	}
	c.notified = conn.StateDead
	c.owner.StateChanged(conn.StateDead, c.cc.EndReason(), c.cc.EndDebug())
}

// ErrLimitExceeded: a message sent while connecting does not fit the send
// buffer.
var ErrLimitExceeded = reliability.ErrLimitExceeded

// Send queues a message and returns its number. While connecting it is
// held, numbered as the session will number it, until the connection is
// established.
func (c *Conn) Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error) {
	if c.cc.State() == conn.StateConnecting {
		// The send buffer limit applies while connecting too.
		if c.earlyBytes+len(data) > c.owner.Settings().SendBufferSize {
			return -1, ErrLimitExceeded
		}
		c.earlyBytes += len(data)
		for len(c.earlyNum) <= lane {
			c.earlyNum = append(c.earlyNum, 0)
		}
		c.earlyNum[lane]++
		cp := bufpool.Get(len(data))
		copy(cp, data)
		c.early = append(c.early, earlyMsg{lane: lane, data: cp, reliable: reliable, noNagle: noNagle})
		return c.earlyNum[lane], nil
	}
	n, err := c.cc.Send(now, lane, data, reliable, noNagle)
	if err != nil {
		return -1, err
	}
	if c.nagleHolds(now, noNagle) {
		return n, nil
	}
	c.Kick(now)
	return n, nil
}

// nagleHolds reports whether a message just queued can wait for the timer:
// Nagle holds it and the timer fires by its Nagle deadline. Small messages
// sent in a burst then cost a queue append each instead of a pass through
// the whole protocol, and the packets they fill go out NagleBatch at a
// time, in one system call, rather than one by one: Nagle already lets
// them wait that long.
func (c *Conn) nagleHolds(now time.Time, noNagle bool) bool {
	if noNagle || c.sess == nil || c.nagle < 0 || c.timerAt.IsZero() {
		return false
	}
	return !c.timerAt.After(now.Add(c.nagle)) && !c.sess.s.NagleBatchReady(now, NagleBatch)
}

// NagleBatch is how many packets of Nagle-held messages may gather before
// they are sent.
const NagleBatch = 16

// Flush cancels Nagle delays and sends what is due.
func (c *Conn) Flush(now time.Time) {
	c.cc.Flush(now)
	c.Kick(now)
}

// ErrHandshakeFailed: Accept found no common cipher or could not derive
// keys; the connection has ended.
var ErrHandshakeFailed = conn.ErrHandshakeFailed

// Accept completes an inbound connection.
func (c *Conn) Accept(now time.Time) error {
	err := c.cc.Accept(now)
	c.Kick(now)
	return err
}

// Close ends the connection from the local side; with linger, queued
// reliable data goes first.
func (c *Conn) Close(now time.Time, reason int, debug string, linger bool) {
	c.cc.Close(now, reason, debug, linger)
	c.Kick(now)
}

// Destroy tears the connection down at once without telling the peer.
func (c *Conn) Destroy() {
	c.cc.Destroy()
	c.teardown()
}

// FlushAndDestroy sends what is queued, then destroys the connection.
func (c *Conn) FlushAndDestroy() {
	c.flushOut()
	c.Destroy()
}

// ErrPeerTooOld: the peer's protocol has no lanes; the connection has
// ended.
var ErrPeerTooOld = errors.New("engine: peer is too old to use lanes")

// minLanesVersion is the first protocol version with lanes.
const minLanesVersion = 11

// ConfigureLanes sets lane priorities and weights, now or, while
// connecting, once the session exists.
func (c *Conn) ConfigureLanes(priorities []int, weights []uint16) error {
	if v := c.cc.PeerVersion(); v != 0 && v < minLanesVersion && max(len(priorities), len(weights)) > 1 {
		now := c.now()
		c.cc.Fail(now, conn.ReasonRemoteBadProtocolVersion, "Peer is too old to use lanes")
		c.Kick(now)
		return ErrPeerTooOld
	}
	if sess := c.cc.Session(); sess != nil {
		return sess.ConfigureLanes(priorities, weights)
	}
	c.lanePrio, c.laneW = priorities, weights
	return nil
}

// Status is a connection's real-time status.
type Status struct {
	Ping                               time.Duration
	HavePing                           bool
	QualityLocal, QualityRemote        float32
	MaxJitter                          time.Duration
	OutPacketsPerSec, OutBytesPerSec   float32
	InPacketsPerSec, InBytesPerSec     float32
	PendingReliable, PendingUnreliable int
	SentUnackedReliable                int
	QueueTime                          time.Duration
	SendRate                           int
}

// Status fills st, and lanes for as many lanes as it holds. Rates are over
// the time since the previous call.
func (c *Conn) Status(now time.Time, st *Status, lanes []conn.LaneStatus) {
	st.Ping, st.HavePing = c.cc.Ping()
	st.QualityLocal, st.QualityRemote, st.MaxJitter = c.cc.Quality(now)
	cur := c.cc.Stats
	if !c.rateAt.IsZero() {
		if d := now.Sub(c.rateAt).Seconds(); d > 0 {
			prev := c.rateStats
			st.OutPacketsPerSec = float32(float64(cur.PacketsSent-prev.PacketsSent) / d)
			st.OutBytesPerSec = float32(float64(cur.BytesSent-prev.BytesSent) / d)
			st.InPacketsPerSec = float32(float64(cur.PacketsRecv-prev.PacketsRecv) / d)
			st.InBytesPerSec = float32(float64(cur.BytesRecv-prev.BytesRecv) / d)
		}
	}
	c.rateAt, c.rateStats = now, cur
	sess := c.cc.Session()
	if sess == nil {
		for _, m := range c.early {
			if m.reliable {
				st.PendingReliable += len(m.data)
			} else {
				st.PendingUnreliable += len(m.data)
			}
		}
		return
	}
	ss := conn.SessionStatus{Lanes: lanes}
	sess.Status(now, &ss)
	st.PendingReliable, st.PendingUnreliable = ss.PendingReliable, ss.PendingUnreliable
	st.SentUnackedReliable = ss.SentUnackedReliable
	st.QueueTime = ss.QueueTime
	st.SendRate = ss.SendRate
	if ss.HavePing {
		st.Ping, st.HavePing = ss.Ping, true
	}
}

// Counters are a connection's lifetime totals, for monitoring.
type Counters struct {
	Stats conn.Stats
	// RetransmittedSegments and RetransmittedBytes count reliable resends.
	RetransmittedSegments, RetransmittedBytes int64
}

// Observe is Status for a monitor: it leaves the rate window and the
// jitter high-water mark as they were (they are measured between the
// application's own calls), reports no rates and no jitter, and reads the
// lifetime counters.
func (c *Conn) Observe(now time.Time, st *Status, lanes []conn.LaneStatus, n *Counters) {
	rateAt, rateStats := c.rateAt, c.rateStats
	jitter, haveJitter := c.cc.JitterMark()
	c.Status(now, st, lanes)
	c.rateAt, c.rateStats = rateAt, rateStats
	c.cc.RestoreJitterMark(jitter, haveJitter)
	st.OutPacketsPerSec, st.OutBytesPerSec, st.InPacketsPerSec, st.InBytesPerSec = 0, 0, 0, 0
	st.MaxJitter = -1
	n.Stats = c.cc.Stats
	if c.sess != nil {
		n.RetransmittedSegments, n.RetransmittedBytes = c.sess.s.Retransmitted()
	}
}

// Detailed is the multi-line text of detailed status.
func (c *Conn) Detailed() string {
	s := c.cc.Stats
	text := fmt.Sprintf("Packets sent %d (%d bytes), received %d (%d bytes), dropped %d\n",
		s.PacketsSent, s.BytesSent, s.PacketsRecv, s.BytesRecv, s.Dropped)
	if c.sess != nil {
		segs, bytes := c.sess.s.Retransmitted()
		text += fmt.Sprintf("Reliable retransmissions: %d segments (%d bytes)\n", segs, bytes)
	}
	return text
}

// State is the protocol state.
func (c *Conn) State() conn.State { return c.cc.State() }

// RemoteIdentity is the peer's identity as the handshake established it.
func (c *Conn) RemoteIdentity() identity.Identity { return c.cc.RemoteIdentity() }

// Authenticated reports whether the peer's certificate is CA-signed.
func (c *Conn) Authenticated() bool { return c.cc.Authenticated() }

// Encrypted reports whether data packets are encrypted.
func (c *Conn) Encrypted() bool { return c.cc.Encrypted() }

// Socket is the UDP socket that feeds the connection's first path, or nil.
func (c *Conn) Socket() *Socket { return c.sock }

// yield is Receiver.Yield: see Socket.makeWay.
func (c *Conn) yield(now time.Time, quiet time.Duration, from netip.AddrPort) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return true
	}
	switch c.cc.State() {
	case conn.StateConnecting, conn.StateConnected, conn.StateLinger:
		if now.Sub(c.cc.LastAlive()) < quiet {
			return false
		}
		c.cc.Fail(now, conn.ReasonMiscTimeout, "Peer restarted: a new connection came from its address")
		c.Kick(now)
	}
	if c.sock != nil {
		c.sock.unbind(from, c)
	}
	return true
}
