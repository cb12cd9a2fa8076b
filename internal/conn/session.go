package conn

import "time"

// Session is the reliability layer that lives inside decrypted data
// packets (SNP): send queues, acks, retransmission and reassembly. The
// connection owns the packet numbers, the ciphers and the timers of the
// handshake and liveness; the session owns everything in the payload.
type Session interface {
	// Send queues a message on a lane and returns its message number.
	Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error)
	// Flush cancels Nagle delays.
	Flush(now time.Time)
	// ConfigureLanes sets lane priorities and weights.
	ConfigureLanes(priorities []int, weights []uint16) error
	// Receive processes the plaintext of packet pktNum. A returned
	// *ProtocolError ends the connection with its reason; any other error
	// abandons the packet (it is not marked received).
	Receive(now time.Time, pktNum int64, plaintext []byte) error
	// AckRequestDue reports whether the next packet should ask the peer for
	// an immediate ack (much data in flight since the last request).
	AckRequestDue() bool
	// AckRequestSent tells the session that a packet asking for an
	// immediate ack because AckRequestDue said so was built.
	AckRequestSent()
	// NoteAckRequest tells the session that packet pktNum asked to be
	// acknowledged (immediately or within the delayed-ack time).
	NoteAckRequest(now time.Time, pktNum int64, immediate bool)
	// AppendPacket appends the plaintext of packet pktNum (at most
	// maxPlaintext bytes). allowData says whether new data may go (the send
	// rate allows it); force asks for a packet even if nothing is due, for
	// keepalives. ok is false when nothing was written.
	AppendPacket(dst []byte, now time.Time, pktNum int64, maxPlaintext int, allowData, force bool) (out []byte, ok bool)
	// LastPacketReliable reports whether the packet AppendPacket built
	// last carried reliable data (which the peer must acknowledge).
	LastPacketReliable() bool
	// TimeUntilSend is how long the send rate holds back new data.
	TimeUntilSend(now time.Time) time.Duration
	// NextDeadline is when the session next needs AppendPacket called
	// (Nagle expiry, delayed ack, retransmission); zero if never.
	NextDeadline(now time.Time) time.Time
	// ReliableDone reports that no reliable data is queued or unacked.
	ReliableDone() bool
	// Status fills the counters shown in real-time status.
	Status(now time.Time, st *SessionStatus)
}

// SessionStatus is what a Session reports for real-time status.
type SessionStatus struct {
	PendingReliable, PendingUnreliable, SentUnackedReliable int
	QueueTime                                               time.Duration
	SendRate                                                int
	Lanes                                                   []LaneStatus
	// Ping is the round trip measured from acks, if HavePing.
	Ping     time.Duration
	HavePing bool
}

// LaneStatus is one lane's share of SessionStatus.
type LaneStatus struct {
	PendingReliable, PendingUnreliable, SentUnackedReliable int
	QueueTime                                               time.Duration
}

// ProtocolError ends a connection: the peer broke the protocol or exceeded
// a receive limit.
type ProtocolError struct {
	Reason int
	Debug  string
}

func (e *ProtocolError) Error() string { return e.Debug }
