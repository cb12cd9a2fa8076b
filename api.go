package mist

import "time"

// lookup returns the connection behind h if the handle still exists to the
// application, locked. The caller must unlock c.mu.
func (s *Sockets) lookup(h Conn) *connection {
	s.mu.RLock()
	c := s.conns[h]
	s.mu.RUnlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.apiClosed {
		c.mu.Unlock()
		return nil
	}
	return c
}

// AcceptConnection accepts an inbound connection that is still Connecting.
func (s *Sockets) AcceptConnection(h Conn) Result {
	c := s.lookup(h)
	if c == nil {
		return ResultInvalidParam
	}
	defer c.mu.Unlock()
	if c.state != StateConnecting {
		return ResultInvalidState
	}
	if !c.inbound {
		return ResultInvalidParam
	}
	return c.tr.accept(s.now())
}

// CloseConnection closes a connection. reason 0 means App_Generic (1000);
// codes outside 1000..2999 become App_Max. With linger, reliable data still
// queued is delivered before the close goes out. It returns false only if
// the handle does not exist; afterwards the handle is invalid.
func (s *Sockets) CloseConnection(h Conn, reason EndReason, debug string, linger bool) bool {
	return s.closeConnection(h, reason, debug, linger, false)
}

func (s *Sockets) closeConnection(h Conn, reason EndReason, debug string, linger, shutdown bool) bool {
	defer s.wakeWaiters() // a waiter on h finds it gone
	s.mu.Lock()
	c := s.conns[h]
	if c == nil {
		s.mu.Unlock()
		return false
	}
	delete(s.conns, h)
	s.freeConnID(h)
	s.mu.Unlock()

	c.mu.Lock()
	defer func() {
		after := c.afterUnlock
		c.afterUnlock = nil
		c.mu.Unlock()
		for _, f := range after {
			f()
		}
	}()
	if !shutdown {
		switch {
		case reason == 0:
			reason = EndAppGeneric
		case reason < EndAppMin || reason > EndAppExceptionMax:
			reason, debug = EndAppMax, "Invalid numeric reason code"
		}
	}
	if debug == "" {
		if reason < EndAppExceptionMin {
			debug = "Application closed connection"
		} else {
			debug = "Application closed connection in an unusual way"
		}
	}
	s.qmu.Lock()
	c.purgeLocked()
	s.qmu.Unlock()
	old := c.state
	if old == StateConnecting || old == StateFindingRoute || old == StateConnected {
		c.endReason, c.endDebug = reason, truncate(debug, MaxEndDebugLen)
	}
	c.state = stateFinWait
	c.s.postStatus(c, old)
	c.apiClosed = true
	if c.tr != nil {
		c.tr.close(s.now(), reason, debug, linger && old == StateConnected)
	}
	return true
}

// SetConnectionUserData sets the connection's user data; messages already
// queued carry the new value too.
func (s *Sockets) SetConnectionUserData(h Conn, v int64) bool {
	c := s.lookup(h)
	if c == nil {
		return false
	}
	defer c.mu.Unlock()
	s.qmu.Lock()
	c.userData = v
	for m := c.queue.head; m != nil; m = c.queue.next(m) {
		m.ConnUserData = v
	}
	s.qmu.Unlock()
	return true
}

// ConnectionUserData returns the user data, or -1 for an invalid handle
// (also the default, so -1 is ambiguous).
func (s *Sockets) ConnectionUserData(h Conn) int64 {
	c := s.lookup(h)
	if c == nil {
		return -1
	}
	defer c.mu.Unlock()
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return c.userData
}

// SetConnectionName names the connection for its description (at most 31
// bytes are kept). Invalid handles are ignored.
func (s *Sockets) SetConnectionName(h Conn, name string) {
	c := s.lookup(h)
	if c == nil {
		return
	}
	c.name = truncate(name, MaxConnectionNameLen)
	c.mu.Unlock()
}

// ConnectionName returns the connection's name.
func (s *Sockets) ConnectionName(h Conn) (string, bool) {
	c := s.lookup(h)
	if c == nil {
		return "", false
	}
	defer c.mu.Unlock()
	return c.name, true
}

// SendMessageToConnection queues one message (copied) on lane 0 and
// returns its message number, or -1 with the failure.
func (s *Sockets) SendMessageToConnection(h Conn, data []byte, flags SendFlags) (int64, Result) {
	c := s.lookup(h)
	if c == nil {
		return -1, ResultInvalidParam
	}
	defer c.mu.Unlock()
	return c.sendLocked(s.now(), 0, data, flags)
}

func (c *connection) sendLocked(now time.Time, lane int, data []byte, flags SendFlags) (int64, Result) {
	if len(data) > MaxMessageSize || lane < 0 || lane >= c.lanes {
		return -1, ResultInvalidParam
	}
	switch c.state {
	case StateConnecting, StateFindingRoute:
		if flags&SendNoDelay != 0 {
			return -1, ResultIgnored
		}
	case StateConnected:
	case StateClosedByPeer, StateProblemDetectedLocally:
		return -1, ResultNoConnection
	default:
		return -1, ResultInvalidState
	}
	return c.tr.send(now, lane, data, flags)
}

// SendMessages sends a batch of messages, possibly to many connections,
// and returns one result per message: > 0 the message number, < 0 the
// negated Result, 0 not attempted because an earlier message to the same
// connection failed. Messages are taken over and released, except failed
// ones when deleteFailed is false: those stay with the caller.
func (s *Sockets) SendMessages(msgs []*Message, deleteFailed bool) []int64 {
	out := make([]int64, len(msgs))
	now := s.now()
	var failed map[Conn]bool
	for i, m := range msgs {
		if m == nil || m.Conn == InvalidConn {
			out[i] = -int64(ResultInvalidParam)
			continue
		}
		if failed[m.Conn] {
			out[i] = 0
		} else if c := s.lookup(m.Conn); c == nil {
			out[i] = -int64(ResultInvalidParam)
		} else {
			n, r := c.sendLocked(now, int(m.Lane), m.Data, m.Flags)
			c.mu.Unlock()
			if r == ResultOK {
				out[i] = n
				m.MessageNumber = n
				m.Release()
				msgs[i] = nil
				continue
			}
			out[i] = -int64(r)
		}
		if failed == nil {
			failed = make(map[Conn]bool)
		}
		failed[m.Conn] = true
		if deleteFailed {
			m.Release()
			msgs[i] = nil
		}
	}
	return out
}

// FlushMessagesOnConnection sends whatever waits for Nagle now (as far as
// the send rate allows).
func (s *Sockets) FlushMessagesOnConnection(h Conn) Result {
	c := s.lookup(h)
	if c == nil {
		return ResultInvalidParam
	}
	defer c.mu.Unlock()
	switch c.state {
	case StateConnected:
		c.tr.flush(s.now())
		return ResultOK
	case StateConnecting, StateFindingRoute:
		c.tr.flush(s.now())
		return ResultIgnored
	}
	return ResultNoConnection
}

// ConnectionInfo describes the connection; false if the handle is invalid.
func (s *Sockets) ConnectionInfo(h Conn) (ConnectionInfo, bool) {
	c := s.lookup(h)
	if c == nil {
		return ConnectionInfo{}, false
	}
	defer c.mu.Unlock()
	return c.infoLocked(), true
}

// ConnectionRealTimeStatus returns the connection's status and fills lanes
// (up to the number of configured lanes; len(lanes) larger is InvalidParam).
func (s *Sockets) ConnectionRealTimeStatus(h Conn, lanes []LaneStatus) (RealTimeStatus, Result) {
	c := s.lookup(h)
	if c == nil {
		return RealTimeStatus{}, ResultNoConnection
	}
	defer c.mu.Unlock()
	if len(lanes) > c.lanes {
		return RealTimeStatus{}, ResultInvalidParam
	}
	st := RealTimeStatus{State: c.state.apiVisible(), Ping: -1, QualityLocal: -1, QualityRemote: -1, MaxJitter: -1}
	c.tr.status(s.now(), &st, lanes)
	return st, ResultOK
}

// DetailedConnectionStatus returns a multi-line human-readable status.
func (s *Sockets) DetailedConnectionStatus(h Conn) (string, bool) {
	c := s.lookup(h)
	if c == nil {
		return "", false
	}
	defer c.mu.Unlock()
	info := c.infoLocked()
	return "Connection " + info.Description + "\nState: " + info.State.String() + "\n" + c.tr.detailedStatus(), true
}

// ConfigureConnectionLanes sets the number of lanes (1..255, never fewer
// than now), their priorities (lower first; nil = all equal) and weights
// (nil = all 1).
func (s *Sockets) ConfigureConnectionLanes(h Conn, priorities []int, weights []uint16) Result {
	c := s.lookup(h)
	if c == nil {
		return ResultNoConnection
	}
	defer c.mu.Unlock()
	if c.state != StateConnecting && c.state != StateFindingRoute && c.state != StateConnected {
		return ResultInvalidState
	}
	n := max(len(priorities), len(weights))
	if n < 1 || n > MaxLanes || n < c.lanes ||
		(priorities != nil && len(priorities) != n) || (weights != nil && len(weights) != n) {
		return ResultInvalidParam
	}
	for _, w := range weights {
		if w == 0 {
			return ResultInvalidParam
		}
	}
	if r := c.tr.configureLanes(priorities, weights); r != ResultOK {
		return r
	}
	c.lanes = n
	return ResultOK
}

// CreatePollGroup creates an empty poll group.
func (s *Sockets) CreatePollGroup() PollGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.nextGroup++
		idx := s.nextGroup & 0xffff
		if idx == 0 {
			continue
		}
		h := PollGroup(idx | (s.nextGroup>>16&0x7fff)<<16 | 0x80000000)
		if _, taken := s.groups[h]; taken {
			continue
		}
		s.groups[h] = newPollGroup(h)
		return h
	}
}

// DestroyPollGroup destroys g; its connections keep their unread messages.
func (s *Sockets) DestroyPollGroup(g PollGroup) bool {
	defer s.wakeWaiters() // a waiter on g finds it gone
	s.mu.Lock()
	defer s.mu.Unlock()
	pg := s.groups[g]
	if pg == nil {
		return false
	}
	delete(s.groups, g)
	s.qmu.Lock()
	pg.destroyed = true
	pg.detachAll()
	s.qmu.Unlock()
	return true
}

// SetConnectionPollGroup moves the connection to g (0: no group), carrying
// its unread messages.
func (s *Sockets) SetConnectionPollGroup(h Conn, g PollGroup) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.conns[h]
	if c == nil {
		return false
	}
	var pg *pollGroup
	if g != InvalidPollGroup {
		if pg = s.groups[g]; pg == nil {
			return false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiClosed {
		return false
	}
	s.qmu.Lock()
	c.setGroupLocked(pg)
	s.qmu.Unlock()
	return true
}
