// Package conn is one GameNetworkingSockets UDP connection as a state
// machine without I/O: the handshake (client and server), certificates and
// session keys, data packets, keepalives and timeouts, and the closing
// exchanges. Datagrams and API calls go in together with the current time;
// datagrams to send and the next deadline come out.
//
// The listen side's stateless challenge lives in [Listener]: it answers
// ChallengeRequests and vets ConnectRequests without keeping any state per
// peer, so only a request carrying a valid challenge can create a [Conn].
package conn
