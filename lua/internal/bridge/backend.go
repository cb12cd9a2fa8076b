package bridge

import "net/netip"

// Backend is the part of a mist interface instance the Lua module drives.
// Handles are the raw uint32 values of mist's handle types (0 = invalid),
// never a Handle of the Lua side;
// results are EResult numbers. Payloads passed in may live in Lua's memory
// and are only valid during the call: implementations copy what they keep. Keeping this surface small and typed in plain
// values lets the bridge be tested without sockets.
type Backend interface {
	CreateListenSocketIP(addr netip.AddrPort, opts []Option) uint32
	ConnectByIPAddress(addr netip.AddrPort, opts []Option) uint32
	// CreateListenSocketP2P and ConnectP2P return 0 and the reason on
	// failure.
	CreateListenSocketP2P(virtualPort int, opts []Option) (uint32, error)
	ConnectP2P(steamID uint64, virtualPort int, opts []Option) (uint32, error)
	AcceptConnection(conn uint32) int32
	CloseConnection(conn uint32, reason int32, debug string, linger bool) bool
	CloseListenSocket(sock uint32) bool
	SendMessageToConnection(conn uint32, data []byte, flags int32) int32
	// SendMessages returns one value per message: > 0 a message number,
	// < 0 a negated EResult, 0 not attempted.
	SendMessages(msgs []OutMessage) []int64
	FlushMessagesOnConnection(conn uint32) int32
	// ReceiveMessagesOnConnection and ReceiveMessagesOnPollGroup take up to
	// max messages and pass them to visit, which must not keep the payloads;
	// ok is false (and visit not called) for an invalid handle.
	ReceiveMessagesOnConnection(conn uint32, max int, visit func([]InMessage)) (ok bool)
	ReceiveMessagesOnPollGroup(group uint32, max int, visit func([]InMessage)) (ok bool)
	ConnectionDescription(conn uint32) (string, bool)
	CreatePollGroup() uint32
	DestroyPollGroup(group uint32) bool
	SetConnectionPollGroup(conn, group uint32) bool
	// InitAuthentication and AuthenticationStatus return the availability
	// of authentication (ESteamNetworkingAvailability); a change is
	// delivered as an EventAuthStatus by RunCallbacks.
	InitAuthentication() int32
	AuthenticationStatus() (avail int32, debug string)
	// SteamID is the local identity, a SteamID.
	SteamID() uint64
	// RunCallbacks delivers the queued connection and authentication status
	// changes to emit, in order, on the calling goroutine.
	RunCallbacks(emit func(Event))
	// Close shuts the instance down: connections are closed without linger.
	Close()
}

// Option is one configuration value from an options table, by GNS config ID.
type Option struct {
	ID    int32
	Value int64
}

// OutMessage is one entry of sendMessages. Conn is a Handle when given to
// Module.SendMessages, mist's handle when the Backend gets it.
type OutMessage struct {
	Conn  Handle
	Data  []byte
	Flags int32
}

// InMessage is one received message; Data is only valid inside the visit
// function it was passed to. Conn is mist's handle as the Backend reports
// it, a Handle once Module.Receive passes it on.
type InMessage struct {
	Conn Handle
	Data []byte
}

// ConnChange is a connection status change as onConnectionChanged sees it.
// Conn is mist's handle as the Backend reports it, a Handle once queued by
// Module.RunCallbacks.
type ConnChange struct {
	Conn      Handle
	State     int32
	OldState  int32
	EndReason int32
	EndDebug  string
}
