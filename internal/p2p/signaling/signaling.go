// Package signaling defines how a P2P connection talks to a signaling
// service, with the semantics of GameNetworkingSockets' custom signaling
// (ISteamNetworkingConnectionSignaling and
// ISteamNetworkingSignalingRecvContext). Its types use only built-in types
// so the public API can alias them.
//
// A signal is an opaque blob (a serialized rendezvous message). Delivery is
// best effort: signals may be lost, duplicated or reordered, and the
// protocol above copes with all three.
package signaling

// Header says which connection a signal belongs to: the handle the API
// reports for it and its endpoints. Identities are in text form
// ("str:alice", "steamid:7656…").
type Header struct {
	// Conn is the connection's handle.
	Conn uint32
	// LocalIdentity is the sender, RemoteIdentity the destination.
	LocalIdentity, RemoteIdentity string
	// LocalVirtualPort and RemoteVirtualPort are negative when unset.
	LocalVirtualPort, RemoteVirtualPort int
}

// ConnectionSignaling carries one connection's signals to its peer.
type ConnectionSignaling interface {
	// SendSignal sends blob, best effort; it may be called from any
	// goroutine and must not block for long. Returning false is fatal: the
	// connection closes with end reason 5002 (internal error). The blob is
	// only valid during the call.
	SendSignal(h Header, blob []byte) bool
	// Release is called once, some time after the connection closed
	// (a few signals may still be sent after the close).
	Release()
}

// RecvContext is what the receiver of a signal supplies with it, for the
// case where the signal asks for a new connection.
type RecvContext interface {
	// OnConnectRequest is offered a new inbound connection: conn is its
	// handle, peer the initiator's identity and localVirtualPort the port
	// it asked for (negative if none). Returning a signaling object lets
	// the connection proceed (it waits in Connecting for the application
	// to accept it). Returning nil ignores the request silently, which
	// hides this peer from probes; to refuse actively, close the
	// connection before returning nil and a rejection goes out through
	// SendRejectionSignal.
	OnConnectRequest(conn uint32, peer string, localVirtualPort int) ConnectionSignaling
	// SendRejectionSignal sends a rejection to peer, best effort; an
	// implementation may ignore it.
	SendRejectionSignal(peer string, blob []byte)
}

// Funcs adapts two functions to ConnectionSignaling; a nil OnRelease is a
// no-op.
type Funcs struct {
	OnSend    func(h Header, blob []byte) bool
	OnRelease func()
}

// SendSignal calls OnSend.
func (f Funcs) SendSignal(h Header, blob []byte) bool { return f.OnSend(h, blob) }

// Release calls OnRelease if set.
func (f Funcs) Release() {
	if f.OnRelease != nil {
		f.OnRelease()
	}
}
