package mist

import (
	"strconv"

	"github.com/mistnet/mist/internal/conn"
)

// Conn is a connection handle (HSteamNetConnection). 0 is invalid.
type Conn uint32

// ListenSocket is a listen socket handle (HSteamListenSocket). 0 is invalid.
type ListenSocket uint32

// PollGroup is a poll group handle (HSteamNetPollGroup). 0 is invalid.
type PollGroup uint32

// Invalid handles.
const (
	InvalidConn         Conn         = 0
	InvalidListenSocket ListenSocket = 0
	InvalidPollGroup    PollGroup    = 0
)

// Limits of the API.
const (
	// MaxMessageSize is the largest message that can be sent (512 KiB).
	MaxMessageSize = 512 * 1024
	// MaxLanes is the largest number of lanes on one connection.
	MaxLanes = 255
	// MaxConnectionNameLen is the longest connection name kept, in bytes.
	MaxConnectionNameLen = 31
	// MaxEndDebugLen is the longest end-reason debug text kept, in bytes.
	MaxEndDebugLen = 127
	// maxConnections is how many connections one Sockets may hold. GNS
	// stops at 0x1fff because it finds connections by the id's low 16 bits;
	// lookups here use the whole 32-bit id, so the cap only bounds memory.
	maxConnections = 1 << 20
)

// ConnState is the API-visible state of a connection
// (ESteamNetworkingConnectionState).
type ConnState int32

// Connection states. Only the first six are ever visible through the API.
const (
	StateNone                   ConnState = ConnState(conn.StateNone)
	StateConnecting             ConnState = ConnState(conn.StateConnecting)
	StateFindingRoute           ConnState = 2 // P2P only: the protocol state machine never reaches it
	StateConnected              ConnState = ConnState(conn.StateConnected)
	StateClosedByPeer           ConnState = ConnState(conn.StateClosedByPeer)
	StateProblemDetectedLocally ConnState = ConnState(conn.StateProblemDetectedLocally)

	// Internal states, reported as StateNone.
	stateFinWait ConnState = ConnState(conn.StateFinWait)
	stateLinger  ConnState = ConnState(conn.StateLinger)
	stateDead    ConnState = ConnState(conn.StateDead)
)

var stateNames = [...]string{"None", "Connecting", "FindingRoute", "Connected", "ClosedByPeer", "ProblemDetectedLocally"}

// String returns the luasteam state name ("Connected", "ClosedByPeer", ...).
func (s ConnState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	switch s {
	case stateFinWait:
		return "FinWait"
	case stateLinger:
		return "Linger"
	case stateDead:
		return "Dead"
	}
	return "ConnState(" + strconv.Itoa(int(s)) + ")"
}

// apiVisible maps internal states to StateNone.
func (s ConnState) apiVisible() ConnState {
	if s < 0 {
		return StateNone
	}
	return s
}

// EndReason is why a connection ended (ESteamNetConnectionEnd).
type EndReason int32

// End reasons. Applications may close with codes in [EndAppMin, EndAppExceptionMax].
// The codes the protocol itself sends come from internal/conn.
const (
	EndInvalid EndReason = 0

	EndAppMin     EndReason = conn.ReasonAppGeneric
	EndAppGeneric EndReason = EndAppMin
	EndAppMax     EndReason = 1999

	EndAppExceptionMin     EndReason = 2000
	EndAppExceptionGeneric EndReason = EndAppExceptionMin
	EndAppExceptionMax     EndReason = 2999

	EndLocalMin                      EndReason = 3000
	EndLocalOfflineMode              EndReason = 3001
	EndLocalManyRelayConnectivity    EndReason = 3002
	EndLocalHostedServerPrimaryRelay EndReason = 3003
	EndLocalNetworkConfig            EndReason = 3004
	EndLocalRights                   EndReason = 3005
	EndLocalP2PICENoPublicAddresses  EndReason = 3006
	EndLocalMax                      EndReason = 3999

	EndRemoteMin                     EndReason = 4000
	EndRemoteTimeout                 EndReason = 4001
	EndRemoteBadCrypt                EndReason = conn.ReasonRemoteBadCrypt
	EndRemoteBadCert                 EndReason = conn.ReasonRemoteBadCert
	EndRemoteBadProtocolVersion      EndReason = conn.ReasonRemoteBadProtocolVersion
	EndRemoteP2PICENoPublicAddresses EndReason = 4007
	EndRemoteMax                     EndReason = 4999

	EndMiscMin                  EndReason = 5000
	EndMiscGeneric              EndReason = conn.ReasonMiscGeneric
	EndMiscInternalError        EndReason = conn.ReasonMiscInternalError
	EndMiscTimeout              EndReason = conn.ReasonMiscTimeout
	EndMiscSteamConnectivity    EndReason = 5005
	EndMiscNoRelaySessions      EndReason = 5006
	EndMiscP2PRendezvous        EndReason = 5008
	EndMiscP2PNATFirewall       EndReason = 5009
	EndMiscPeerSentNoConnection EndReason = conn.ReasonMiscPeerSentNoConnection
	EndMiscMax                  EndReason = 5999
)

// Availability is the status of a resource such as authentication
// (ESteamNetworkingAvailability). Negative values are problems.
type Availability int32

// Availability values.
const (
	AvailabilityCannotTry  Availability = -102
	AvailabilityFailed     Availability = -101
	AvailabilityPreviously Availability = -100
	AvailabilityRetrying   Availability = -10
	AvailabilityUnknown    Availability = 0
	AvailabilityNeverTried Availability = 1
	AvailabilityWaiting    Availability = 2
	AvailabilityAttempting Availability = 3
	AvailabilityCurrent    Availability = 100
)

// String returns the text GNS uses for the value in debug output.
func (a Availability) String() string {
	switch a {
	case AvailabilityCannotTry:
		return "Dependency unavailable"
	case AvailabilityFailed:
		return "Failed"
	case AvailabilityPreviously:
		return "Lost"
	case AvailabilityRetrying:
		return "Retrying"
	case AvailabilityUnknown:
		return "Unknown"
	case AvailabilityNeverTried:
		return "Not Attempted"
	case AvailabilityWaiting:
		return "Waiting"
	case AvailabilityAttempting:
		return "Attempting"
	case AvailabilityCurrent:
		return "OK"
	}
	return "Availability(" + strconv.Itoa(int(a)) + ")"
}

// SendFlags control how a message is sent (k_nSteamNetworkingSend_*).
type SendFlags int32

// Send flags.
const (
	SendUnreliable               SendFlags = 0
	SendNoNagle                  SendFlags = 1
	SendUnreliableNoNagle        SendFlags = SendUnreliable | SendNoNagle
	SendNoDelay                  SendFlags = 4
	SendUnreliableNoDelay        SendFlags = SendUnreliable | SendNoDelay | SendNoNagle
	SendReliable                 SendFlags = 8
	SendReliableNoNagle          SendFlags = SendReliable | SendNoNagle
	SendUseCurrentThread         SendFlags = 16
	SendAutoRestartBrokenSession SendFlags = 32
)

// ConnInfoFlags describe a connection (k_nSteamNetworkConnectionInfoFlags_*).
type ConnInfoFlags int32

// Connection info flags.
const (
	ConnInfoUnauthenticated ConnInfoFlags = 1
	ConnInfoUnencrypted     ConnInfoFlags = 2
	ConnInfoLoopbackBuffers ConnInfoFlags = 4
	ConnInfoFast            ConnInfoFlags = 8
	ConnInfoRelayed         ConnInfoFlags = 16
	ConnInfoDualWifi        ConnInfoFlags = 32
)
