// Package signaling is a TCP signaling server that speaks the trivial
// signaling protocol of GameNetworkingSockets' examples, so GNS peers
// (test_p2p and any game using GNS's trivial signaling client) and mist
// peers can find each other by identity.
//
// # Protocol
//
// Text over TCP, one message per line, lines ending in '\n':
//
//   - The first line a client sends is its identity (e.g. "str:alice"),
//     whitespace trimmed. An empty identity closes the connection. A new
//     registration of an identity replaces the old one and closes its
//     connection ("last login wins").
//   - Every later line is "DESTINATION PAYLOAD": split at the first space,
//     the destination trimmed. If the destination is registered, the server
//     writes "SENDER PAYLOAD" to it, where SENDER is the identity the sending
//     connection registered and PAYLOAD is forwarded byte for byte with its
//     line terminator. Otherwise the line is dropped: delivery is best effort
//     and the sender is never told. Lines without a space, or with an empty
//     destination, are ignored.
//
// # Limits
//
// Beyond GNS's example server, each connection is bounded: a maximum line
// length (a longer line closes the connection), a deadline for the greeting
// and for finishing a line once started (slow senders), a token-bucket rate
// of lines per second (a connection over it is read more slowly, so TCP
// pushes back on the sender alone), and a byte budget for lines waiting to
// be written to it (a forward that does not fit is dropped, like any lost
// signal). A destination that does not read for WriteTimeout is
// disconnected. The number of connections, in total and per IP address, is
// capped.
//
// # Authenticated registration
//
// With an [Authenticator] the server accepts only identities a client
// proves with a certificate signed by a trusted certificate authority; see
// [Authenticator] for the extension lines. GNS's trivial clients never send
// them, so they are refused: the server writes one line without a space
// (which those clients ignore) saying why, and closes the connection.
package signaling
