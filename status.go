package mist

import (
	"net/netip"
	"time"
)

// ConnectionInfo describes a connection (SteamNetConnectionInfo_t).
type ConnectionInfo struct {
	// RemoteIdentity may be invalid early in the handshake.
	RemoteIdentity Identity
	UserData       int64
	// ListenSocket is the socket the connection arrived on; 0 for outbound.
	ListenSocket ListenSocket
	// RemoteAddr is the peer's UDP address; invalid if not applicable.
	RemoteAddr netip.AddrPort
	State      ConnState
	// EndReason and EndDebug are set once the connection has ended.
	EndReason EndReason
	EndDebug  string
	// Description is "#<id> UDP <addr>" plus " '<name>'" when named.
	Description string
	Flags       ConnInfoFlags
}

// RealTimeStatus is a connection's quick status
// (SteamNetConnectionRealTimeStatus_t).
type RealTimeStatus struct {
	State ConnState
	// Ping is the current round-trip estimate in milliseconds (-1 unknown).
	Ping int
	// QualityLocal and QualityRemote are the fraction of packets delivered
	// in order, 0..1, or -1 when not yet measured.
	QualityLocal, QualityRemote      float32
	OutPacketsPerSec, OutBytesPerSec float32
	InPacketsPerSec, InBytesPerSec   float32
	// SendRate is the estimated capacity, bytes per second.
	SendRate int
	// PendingUnreliable and PendingReliable are bytes not yet on the wire.
	PendingUnreliable, PendingReliable int
	// SentUnackedReliable is reliable data sent but not yet acknowledged.
	SentUnackedReliable int
	// QueueTime estimates how long a message queued now would wait.
	QueueTime time.Duration
	// MaxJitter is the high-water mark of jitter since the previous call,
	// negative when there is no data.
	MaxJitter time.Duration
}

// LaneStatus is the per-lane part of the status
// (SteamNetConnectionRealTimeLaneStatus_t).
type LaneStatus struct {
	PendingUnreliable, PendingReliable int
	SentUnackedReliable                int
	QueueTime                          time.Duration
}

// Event is something [Sockets.Events] delivers: a *ConnStatusChanged or an
// *AuthStatus.
type Event interface{ event() }

// ConnStatusChanged reports a change of a connection's API-visible state
// (SteamNetConnectionStatusChangedCallback_t). It is a snapshot taken when
// the change happened: the handle may be invalid by the time it is seen.
type ConnStatusChanged struct {
	Conn     Conn
	Info     ConnectionInfo // Info.State is the new state
	OldState ConnState
}

// AuthStatus reports a change of the authentication status
// (SteamNetAuthenticationStatus_t).
type AuthStatus struct {
	Avail Availability
	Debug string
}

func (*ConnStatusChanged) event() {}
func (*AuthStatus) event()        {}
