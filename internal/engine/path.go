package engine

import (
	"net/netip"

	"github.com/mistnet/mist/internal/endpoint"
)

// PathKind says how a path reaches the peer.
type PathKind uint8

const (
	// PathUDP is a direct UDP path: a socket of ours and the peer's address.
	PathUDP PathKind = iota
	// PathLocal is a path within the host or process (in-memory, loopback
	// pipes): no network in between.
	PathLocal
	// PathRelayed goes through a relay (a TURN server, a relay service):
	// the remote address is the relay's.
	PathRelayed
)

func (k PathKind) String() string {
	switch k {
	case PathUDP:
		return "udp"
	case PathLocal:
		return "local"
	case PathRelayed:
		return "relayed"
	}
	return "unknown"
}

// Path is one way to reach a connection's peer. A connection owns one or
// more paths and sends on one of them, its active path; a path hands what
// it receives to the connection with Conn.Receive.
//
// A path is used by one connection and called with that connection's lock
// held, so it needs no lock of its own for that connection's sake.
type Path interface {
	// Kind says how the path reaches the peer.
	Kind() PathKind
	// RemoteAddr is the address datagrams go to: the peer's for a direct
	// path, the relay's for a relayed one.
	RemoteAddr() netip.AddrPort
	// WriteDatagrams sends datagrams in order. It must not keep ds or the
	// buffers in it after it returns. Datagrams that cannot be sent are
	// dropped, as a network would: reliability covers them.
	WriteDatagrams(ds [][]byte)
}

// udpPath is a direct UDP path: the peer's address through one of our
// sockets (a listen socket shared by many connections, or a client
// connection's own).
type udpPath struct {
	sock   *Socket
	remote netip.AddrPort
	batch  []endpoint.Packet // reused; guarded by the owning connection's lock
}

func newUDPPath(sock *Socket, remote netip.AddrPort) *udpPath {
	return &udpPath{sock: sock, remote: remote}
}

func (p *udpPath) Kind() PathKind             { return PathUDP }
func (p *udpPath) RemoteAddr() netip.AddrPort { return p.remote }

func (p *udpPath) WriteDatagrams(ds [][]byte) {
	p.batch = p.batch[:0]
	for _, d := range ds {
		p.batch = append(p.batch, endpoint.Packet{Buf: d, Addr: p.remote})
	}
	p.sock.write(p.batch)
	clear(p.batch)
}
