package rendezvous

// End reasons (ESteamNetConnectionEnd values) the signaling layer uses.
const (
	ReasonAppGeneric = 1000
	// ReasonInternalError: SendSignal refused a signal.
	ReasonInternalError = 5002
	// ReasonTimeout: no answer to the connect request in time.
	ReasonTimeout = 5003
	// ReasonP2PRendezvous: no route found in time.
	ReasonP2PRendezvous = 5008
	// ReasonPeerSentNoConnection: the peer answered with "no connection".
	ReasonPeerSentNoConnection = 5010
	// ReasonNoConnection is the reason code of a "no connection" signal,
	// which is never answered. It is not an end reason.
	ReasonNoConnection = 9999
)
