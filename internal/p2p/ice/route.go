package ice

import (
	"net/netip"
	"time"
)

// RouteKind is how the selected pair reaches the peer, as GNS labels it.
type RouteKind uint8

const (
	RouteNone  RouteKind = iota // nothing selected yet
	RouteLocal                  // direct, peer on one of our LAN subnets (flag Fast)
	RouteUDP                    // direct over the Internet
	RouteRelay                  // through a TURN relay at either end (flag Relayed)
)

// String returns the label GNS's test prints: "local", "udp" or "relay".
func (k RouteKind) String() string {
	switch k {
	case RouteLocal:
		return "local"
	case RouteUDP:
		return "udp"
	case RouteRelay:
		return "relay"
	}
	return "none"
}

// Route describes the selected candidate pair.
type Route struct {
	Kind RouteKind
	// Remote is the peer candidate's address actually used: for a relay
	// route the relay address, never the peer's own. GNS still clears the
	// remote address in the connection info of a relayed connection; the
	// caller should do the same.
	Remote netip.AddrPort
	// Local is the local address of the pair (the relay address for a
	// local relay candidate).
	Local      netip.AddrPort
	LocalType  CandidateType
	RemoteType CandidateType
	// RTT is the round-trip time measured by the pair's checks, if any.
	RTT time.Duration
}

// InfoRemote is the remote address to show in connection info: Remote,
// except for relay routes, where GNS clears it so that neither side shows
// the other's address.
func (r Route) InfoRemote() netip.AddrPort {
	if r.Kind == RouteRelay {
		return netip.AddrPort{}
	}
	return r.Remote
}

// kindOf classifies a pair as GNS does when a pair is selected: relay if
// either candidate is a relay; "probably local" if the remote candidate is a
// host or peer-reflexive address inside a subnet of one of our LAN or
// loopback interfaces; plain UDP otherwise.
func kindOf(localType, remoteType CandidateType, remote netip.Addr, lanSubnets []netip.Prefix) RouteKind {
	if localType == TypeRelay || remoteType == TypeRelay {
		return RouteRelay
	}
	if remoteType == TypeHost || remoteType == TypePeerReflexive {
		for _, p := range lanSubnets {
			if p.Contains(remote) {
				return RouteLocal
			}
		}
	}
	return RouteUDP
}

// isLANAddr reports whether an interface address counts as LAN or
// localhost for the "probably local" test: public addresses sharing a
// subnet are datacenter neighbours, not a LAN.
func isLANAddr(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || isCGNAT(a)
}

func isCGNAT(a netip.Addr) bool {
	return a.Is4() && netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

// isPrivateHost reports whether a host candidate address falls under
// EnablePrivate (RFC 1918 and link-local IPv4); every other address,
// including every IPv6 one, falls under EnablePublic, as in GNS.
func isPrivateHost(a netip.Addr) bool {
	return a.Is4() && (a.IsPrivate() || a.IsLinkLocalUnicast())
}

// minPingLocal is the ping under which a "probably local" route skips the
// Internet penalties (GNS's k_nMinPingTimeLocalTolerance).
const minPingLocal = 5 * time.Millisecond

// routePenaltyNotLAN is GNS's k_nRoutePenaltyNotLan, in score points (ms).
const routePenaltyNotLAN = 10

// Score rates the route for transport selection the way GNS scores its ICE
// transport: the smoothed ping in milliseconds, plus a tenth of it and a
// fixed 10 unless the route is local with a minimum ping under 5 ms, plus
// P2P_Transport_ICE_Penalty. Lower is better.
func (r Route) Score(ping, minPing time.Duration, penalty int) int {
	score := int(ping / time.Millisecond)
	if !(r.Kind == RouteLocal && minPing < minPingLocal) {
		score += score/10 + routePenaltyNotLAN
	}
	return score + penalty
}

// Path is all a connection's multi-path layer needs from an ICE session:
// send on the selected pair and see which pair that is. Received datagrams
// and route changes are pushed through Config.OnReceive and Config.OnRoute.
// *Session implements it.
type Path interface {
	// Send writes one datagram to the peer; ErrNoRoute before selection.
	Send(datagram []byte) error
	// Route is the selected pair; Kind is RouteNone before selection.
	Route() Route
}

var _ Path = (*Session)(nil)
