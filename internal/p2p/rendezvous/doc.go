// Package rendezvous is the signaling half of a peer-to-peer connection, as
// GameNetworkingSockets does it: the rendezvous message carried in each
// signal, and the per-connection state that decides which signal to send
// when.
//
// # Signals
//
// A signal is one serialized pb.Rendezvous with no framing. Parse and
// Append convert between bytes and messages; Parse bounds the size and
// reports malformed input as ErrMalformed.
//
// # Per-connection state
//
// Session is sans I/O: the caller feeds it received signals and the current
// time, and asks it for the next signal to send and the time it next needs
// attention. It implements, for one connection:
//
//   - the initiator's connect request (certificate, crypt info, virtual
//     ports) in every signal until the answer arrives, at least every
//     500 ms;
//   - the acceptor's silence until the application accepts, then one
//     connect OK, repeated only when another request arrives;
//   - the reliable stream of ICE messages inside signals: ids from 1,
//     cumulative acks in every signal, a flat 1 s retransmission of every
//     unacknowledged message from the oldest due one on, and in-order
//     delivery of contiguous runs only;
//   - closing: a connection_closed signal, the "no connection" answer
//     (reason 9999) and the answers to signals for closed connections;
//   - pacing: a needed signal goes out within 10 ms, and two signals are
//     never less than 100 ms apart.
//
// Session also resolves symmetric connects (BecomeAcceptor, decided by
// CompareSymmetric) and times out Connecting and FindingRoute (end reasons
// 5003 and 5008).
//
// # Routing and receiving
//
// Router owns the sessions of one local identity and finds the session a
// received signal belongs to, by the local connection id or by the peer's
// identity and connection id, or returns a Request for a new inbound
// connection. It bounds the number of sessions and the number of inbound
// connections not yet accepted; sessions check the sender's identity and
// connection ids, and a rejected signal changes nothing.
//
// Receiver adds GNS's ReceivedP2PCustomSignal semantics on top: a new
// request goes to the engine (NewInbound) and to the receive context's
// OnConnectRequest; refusals become rejection signals, everything else
// that is unknown is dropped silently. Flush sends a session's due signal
// through its signaling.ConnectionSignaling and closes the session with
// 5002 if the signaling refuses it.
//
// Sessions, routers and receivers are not safe for concurrent use: the
// connection's owner (its engine loop) serializes calls, and signals
// received on other goroutines are handed to it.
//
// # Crypto
//
// The certificate and crypt info in the connect request and connect OK are
// the same messages the direct-UDP handshake uses (internal/cert); the keys
// come from internal/crypto with the two connection ids exchanged in the
// signals. NewLocalCrypto, ValidatePeer and DeriveKeys tie them together.
package rendezvous
