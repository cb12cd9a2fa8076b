// Package ice runs ICE for one P2P connection the way GameNetworkingSockets
// (GNS) 1.6 peers expect it, on top of pion/ice, and exposes the selected
// candidate pair as a datagram path.
//
// # What comes from pion and what is GNS's
//
// pion/ice does gathering (host, server-reflexive via STUN, relay via
// TURN), connectivity checks, nomination and the STUN/TURN wire formats;
// on the wire GNS's checks are ordinary ICE checks. This package adds what
// GNS does differently:
//
//   - Credentials: the ufrag is never signalled; it is derived from the
//     connection ID (UfragForConnectionID). Our password is pion-sized (24
//     characters) and travels as the ICE auth pwd_frag; GNS's 5-character
//     password is accepted as the remote one.
//   - Roles: the acceptor is controlling and the initiator controlled
//     (Config.Controlling), fixed for the session.
//   - Candidate lines: "candidate:<foundation> 0 udp <priority> <ip> <port>
//     typ <type>", parsed leniently as GNS parses them (ParseCandidate);
//     UDP only, no mDNS names, loopback dropped.
//   - P2P_Transport_ICE_Enable (Enable): host candidates of a kind that may
//     not be shared are used for checks but not signalled; relay-only mode
//     gathers nothing but relays, so neither side learns the other's
//     address.
//   - Route kinds as GNS reports them (RouteKind): relay if either end is a
//     relay, "local" if the peer's host address is on one of our LAN
//     subnets, "udp" otherwise; Route.Score adds P2P_Transport_ICE_Penalty.
//   - No consent freshness: pion never drops a selected pair on its own;
//     liveness belongs to the connection (SNP keepalives).
//
// # Using a session
//
// One Session per connection, created when the connection starts ICE (the
// initiator at connect, the acceptor at accept):
//
//	s, err := ice.NewSession(ice.Config{Controlling: accepted, LocalConnectionID: id, ...})
//	// queue reliable message #1: auth.pwd_frag = s.LocalPassword()
//	// Config.OnCandidate(line): queue one add_candidate reliable message per line
//	// peer's add_candidate:  s.AddRemoteCandidate(line)
//	// peer's auth.pwd_frag:  s.SetRemoteCredentials(peerConnectionID, pwd)
//	// Config.OnRoute(r):     route selected or changed; r.Kind, r.Remote
//	// Config.OnReceive(b):   a datagram from the peer (SNP packet)
//	// s.Send(packet):        an SNP packet to the peer on the selected pair
//	// s.Close():             when the connection is done with ICE
//
// # Data path
//
// On a route over one of our own sockets (a host or server-reflexive local
// candidate; relay routes stay on pion's path), data bypasses pion: the
// socket reader pion runs hands SNP data packets from the selected peer
// straight to OnReceive, SendBatch writes with sendmmsg (GSO where the
// kernel offers it) through internal/endpoint, and Poll lets a
// busy-polling receiver read queued data on its own goroutine. Whatever
// Poll reads that is not the route's data (STUN, TURN, other addresses)
// is handed back to pion's reader.
//
// Tests run sessions over real loopback sockets and over in-process
// internets with NAT gateways (internal/p2p/natsim).
package ice
