// Package engine runs connections: it owns the UDP sockets and their
// receive loops, demultiplexes datagrams to connections, accepts and
// dials, and drives each connection's protocol state machine (package
// conn) and session (package reliability) with timers, a queue for
// messages sent while connecting, and status.
//
// It knows its owner, the public API, only through [Owner]: Deliver hands
// up a received message, StateChanged reports Connected, the two ways of
// ending and Dead, and Settings supplies the session's settings. The owner
// supplies the connection's lock ([Config].Lock) and calls the
// connection's methods with it held; the engine calls the owner with it
// held, and never takes a lock of the owner's.
//
// # Paths
//
// A connection reaches its peer over one or more [Path]s and sends on one
// of them, the active path. A path sends datagrams (WriteDatagrams) and
// says what it is: its [PathKind] (direct UDP, local, relayed) and the
// remote address datagrams go to. Whatever a path receives for the
// connection it hands to [Conn.Receive] together with itself, followed by
// [Conn.Service] once per batch; datagrams from a path the connection does
// not own are dropped.
//
// Everything above a datagram belongs to the connection, not the path:
// packet numbers, keys, acks, retransmission and liveness carry on
// unchanged when [Conn.SetActivePath] moves the connection to another
// path, so nothing reliable is lost by switching, and a datagram proves
// life only by authenticating, whichever path brought it.
//
// Today's direct UDP path comes from a [Socket]: a listen socket's demux
// feeds each connection through the path to its peer's address (the demux
// knows connections only as a [Receiver]), and a dialed connection owns a
// socket of its own. A P2P layer adds paths through the same seam: an ICE
// candidate pair or a TURN allocation is a Path, its receive loop calls
// Conn.Receive, and its path selection calls AddPath, SetActivePath and
// RemovePath.
package engine
