package ice

import (
	"errors"
	"fmt"
)

// End reasons (ESteamNetConnectionEnd values) that ICE failures map to.
const (
	EndNotEnabled        = 3998 // k_nICECloseCode_Local_UserNotEnabled
	EndNotCompiled       = 3999 // k_nICECloseCode_Local_NotCompiled
	EndRendezvousTimeout = 5008 // k_ESteamNetConnectionEnd_Misc_P2P_Rendezvous
	EndNATFirewall       = 5009 // k_ESteamNetConnectionEnd_Misc_P2P_NAT_Firewall
	EndLocalNoPublic     = 3006 // k_ESteamNetConnectionEnd_Local_P2P_ICE_NoPublicAddresses
	EndRemoteNoPublic    = 4007 // k_ESteamNetConnectionEnd_Remote_P2P_ICE_NoPublicAddresses
	EndGeneric           = 5001 // k_ESteamNetConnectionEnd_Misc_Generic
)

// Errors returned by the session.
var (
	// ErrNotEnabled: the settings and configured servers leave no candidate
	// kind to use. GNS fails the connection with end reason 3998.
	ErrNotEnabled = errors.New("ice: no candidate types allowed by P2P_Transport_ICE_Enable and the configured servers")
	// ErrNoRoute: Send before a route is selected (GNS refuses too).
	ErrNoRoute = errors.New("ice: no route selected yet")
	// ErrClosed: the session is closed.
	ErrClosed = errors.New("ice: session closed")
	// ErrTooManyCandidates: the peer sent more candidates than kept.
	ErrTooManyCandidates = errors.New("ice: too many remote candidates")
	// ErrLoopback: a loopback candidate, which GNS drops too.
	ErrLoopback = errors.New("ice: loopback candidate")
	// ErrBadCredentials: an empty or oversized (over 256 bytes) remote password.
	ErrBadCredentials = errors.New("ice: remote password empty or too long")
)

// NoRouteError says no candidate pair worked within Config.RouteTimeout.
// EndReason is what the connection ends with (5008, as GNS); Cause is the
// finer guess GNS records for analytics (NAT/firewall, no public address,
// no remote candidates ...), and Msg explains it.
type NoRouteError struct {
	Cause int
	Msg   string
}

// EndReason returns 5008 (Misc_P2P_Rendezvous), the end reason GNS uses
// when no route is confirmed in time.
func (e *NoRouteError) EndReason() int { return EndRendezvousTimeout }

func (e *NoRouteError) Error() string {
	return fmt.Sprintf("ice: no route to peer (end reason %d): %s (cause %d)", EndRendezvousTimeout, e.Msg, e.Cause)
}
