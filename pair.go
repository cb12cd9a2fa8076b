package mist

import (
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
)

// CreateSocketPair creates two connections to each other, already Connected
// (no callbacks for that). By default they pass messages through in-process
// buffers: no packets, no encryption, no simulated faults. With
// networkLoopback they talk over real UDP on 127.0.0.1 (ephemeral ports,
// full handshake and encryption), so the fake-network options apply.
// remote1 is the identity connection 1 sees as its peer, remote2 the one
// connection 2 sees; nil means localhost (with the real port over UDP).
func (s *Sockets) CreateSocketPair(networkLoopback bool, remote1, remote2 *Identity) (Conn, Conn, bool) {
	if networkLoopback {
		return s.createLoopbackPair(remote1, remote2)
	}
	s.mu.Lock()
	if s.closed || len(s.conns)+2 > maxConnections {
		s.mu.Unlock()
		return 0, 0, false
	}
	h1, _ := s.allocConnID()
	h2, _ := s.allocConnID()
	c1 := newConnection(s, h1, s.cfg)
	c2 := newConnection(s, h2, s.cfg)
	for _, x := range []struct {
		c      *connection
		remote *Identity
	}{{c1, remote1}, {c2, remote2}} {
		x.c.remote = LocalhostIdentity()
		if x.remote != nil && x.remote.IsValid() {
			x.c.remote = *x.remote
		}
		x.c.state = StateConnected
		x.c.flags = ConnInfoLoopbackBuffers | ConnInfoFast | ConnInfoUnauthenticated | ConnInfoUnencrypted
		x.c.userData = x.c.cfg.int(OptConnectionUserData)
	}
	p1 := &pipe{self: c1, peer: c2, msgNums: []int64{0}}
	p2 := &pipe{self: c2, peer: c1, msgNums: []int64{0}}
	c1.tr, c2.tr = p1, p2
	s.conns[h1], s.conns[h2] = c1, c2
	s.mu.Unlock()
	return h1, h2, true
}

// pipe is the transport of an in-process socket pair: a send is a delivery
// into the peer's queue.
type pipe struct {
	self, peer *connection
	msgNums    []int64 // last message number per lane
	sentBytes  int64
	sentMsgs   int64
}

func (p *pipe) send(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result) {
	p.msgNums[lane]++
	n := p.msgNums[lane]
	m := newReceived(bufpool.Get(len(data)))
	copy(m.Data, data)
	m.Flags = flags & SendReliable
	m.Lane = uint16(lane)
	m.MessageNumber = n
	m.TimeReceived = now
	if !p.peer.deliver(m, 0, 0) {
		m.Release()
	}
	p.sentBytes += int64(len(data))
	p.sentMsgs++
	return n, ResultOK
}

func (p *pipe) flush(time.Time)         {}
func (p *pipe) accept(time.Time) Result { return ResultInvalidState }
func (p *pipe) description() string     { return "pipe" }
func (p *pipe) destroy()                {}
func (p *pipe) detailedStatus() string {
	return fmt.Sprintf("Sent: %d messages, %d bytes\n", p.sentMsgs, p.sentBytes)
}

func (p *pipe) configureLanes(priorities []int, weights []uint16) Result {
	for len(p.msgNums) < max(len(priorities), len(weights)) {
		p.msgNums = append(p.msgNums, 0)
	}
	return ResultOK
}

func (p *pipe) status(now time.Time, st *RealTimeStatus, lanes []LaneStatus) {
	st.Ping = 0
	st.QualityLocal, st.QualityRemote = 1, 1
	st.SendRate = 1 << 30
}

// close tells the peer, which sees ClosedByPeer. The peer's lock cannot be
// taken here (ours is held and the peer may be closing too), so the
// notification runs once our lock is released.
func (p *pipe) close(now time.Time, reason EndReason, debug string, linger bool) {
	peer := p.peer
	p.self.afterUnlock = append(p.self.afterUnlock, func() {
		peer.mu.Lock()
		defer peer.mu.Unlock()
		peer.ended(StateClosedByPeer, reason, debug)
	})
}
