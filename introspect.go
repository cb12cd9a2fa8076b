package mist

import (
	"slices"
)

// This file is the read-only view that monitoring (the dashboard package,
// metrics exporters) takes of an instance. Nothing here runs unless called,
// and a call changes nothing the application sees.

// ConnectionCounters are a connection's lifetime totals, for monitoring.
// Socket pairs without network loopback count nothing.
type ConnectionCounters struct {
	PacketsSent, BytesSent uint64
	PacketsRecv, BytesRecv uint64
	// DroppedInvalid counts datagrams that were malformed, forged, replayed
	// or not acceptable in the connection's state; DroppedDuplicate
	// datagrams already received; DecryptFailed datagrams that did not
	// decrypt.
	DroppedInvalid, DroppedDuplicate, DecryptFailed uint64
	// Retransmitted reliable segments and their bytes.
	RetransmittedSegments, RetransmittedBytes uint64
	// DroppedQueueFull counts unreliable messages dropped because the
	// connection's receive queue was full (RecvBufferMessages or
	// RecvBufferSize); reliable ones are refused and the peer resends them.
	DroppedQueueFull uint64
}

// ConnectionObservation is one look at a connection.
type ConnectionObservation struct {
	Info ConnectionInfo
	// Status is as from ConnectionRealTimeStatus, without the per-second
	// rates (zero) and jitter (-1): those are measured between the
	// application's own calls, which an observer leaves undisturbed. Rates
	// come from differences of Counters.
	Status   RealTimeStatus
	Counters ConnectionCounters
	// Lanes is the number of configured lanes.
	Lanes int
	// ReceiveQueueMessages and ReceiveQueueBytes are what waits for the
	// application to receive.
	ReceiveQueueMessages, ReceiveQueueBytes int
}

// Connections appends the handles of the connections the application
// holds to dst, in ascending order, and returns it.
func (s *Sockets) Connections(dst []Conn) []Conn {
	s.mu.RLock()
	start := len(dst)
	for h := range s.conns {
		dst = append(dst, h)
	}
	s.mu.RUnlock()
	slices.Sort(dst[start:])
	return dst
}

// ObserveConnection reads the connection's info, status and counters in
// one step, filling lanes as ConnectionRealTimeStatus does (len(lanes)
// larger than the number of lanes leaves the rest zero). It reports false
// if the handle is invalid.
func (s *Sockets) ObserveConnection(h Conn, lanes []LaneStatus) (ConnectionObservation, bool) {
	c := s.lookup(h)
	if c == nil {
		return ConnectionObservation{}, false
	}
	defer c.mu.Unlock()
	o := ConnectionObservation{Info: c.infoLocked(), Lanes: c.lanes}
	o.Status = RealTimeStatus{State: o.Info.State, Ping: -1, QualityLocal: -1, QualityRemote: -1, MaxJitter: -1}
	if len(lanes) > c.lanes {
		clear(lanes[c.lanes:])
		lanes = lanes[:c.lanes]
	}
	now := s.now()
	switch t := c.tr.(type) {
	case *udpConn:
		t.observe(now, &o.Status, lanes, &o.Counters)
	case nil:
	default:
		t.status(now, &o.Status, lanes)
	}
	o.Counters.DroppedQueueFull = c.droppedQueueFull
	s.qmu.Lock()
	o.ReceiveQueueMessages, o.ReceiveQueueBytes = c.queue.count, c.queue.bytes
	s.qmu.Unlock()
	return o, true
}

// ListenSocketCounters are what a listen socket did with datagrams from
// peers without a connection, for monitoring.
type ListenSocketCounters struct {
	// ChallengesSent answer connection attempts; ConnectRequests returned
	// a valid challenge and started a connection.
	ChallengesSent, ConnectRequests uint64
	// BadChallenges failed the challenge check; DroppedInvalid were
	// malformed or not for a listen socket.
	BadChallenges, DroppedInvalid uint64
}

// ListenSockets appends the handles of the IP listen sockets to dst, in
// ascending order, and returns it.
func (s *Sockets) ListenSockets(dst []ListenSocket) []ListenSocket {
	s.mu.RLock()
	start := len(dst)
	for h := range s.listens {
		dst = append(dst, h)
	}
	s.mu.RUnlock()
	slices.Sort(dst[start:])
	return dst
}

// ListenSocketCounters reads a listen socket's counters; false if the
// handle is invalid.
func (s *Sockets) ListenSocketCounters(h ListenSocket) (ListenSocketCounters, bool) {
	s.mu.RLock()
	ls := s.listens[h]
	s.mu.RUnlock()
	if ls == nil {
		return ListenSocketCounters{}, false
	}
	u := ls.udp
	if u == nil {
		return ListenSocketCounters{}, true
	}
	st := u.ListenerStats()
	return ListenSocketCounters{ChallengesSent: st.ChallengesSent, ConnectRequests: st.ConnectRequests,
		BadChallenges: st.BadChallenges, DroppedInvalid: st.Dropped}, true
}
