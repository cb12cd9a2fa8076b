package mist

import (
	"net/netip"
	"sync"

	"github.com/mistnet/mist/internal/engine"
)

// listenSocket is a UDP socket accepting connections.
type listenSocket struct {
	handle ListenSocket
	cfg    *configStore
	addr   netip.AddrPort
	mu     sync.Mutex // guards conns
	conns  map[*connection]struct{}
	udp    *engine.Socket
	// pairAccept, for the hidden listen socket of a loopback socket pair,
	// receives the handle of the connection it accepted on its own.
	pairAccept chan Conn
	// p2p marks a P2P listen socket, on virtual port p2pPort.
	p2p     bool
	p2pPort int
}

// CreateListenSocketIP listens for connections on a local UDP address
// ([::]:port binds every interface, dual stack). Options apply at
// listen-socket scope and are inherited by accepted connections. It returns
// 0 on failure (port 0, bind failure, an option that cannot be applied).
func (s *Sockets) CreateListenSocketIP(addr netip.AddrPort, opts ...ConfigValue) ListenSocket {
	ls, _ := s.createListenSocketIP(addr, opts)
	return ls
}

// ListenSocketAddress returns the bound local address of an IP listen
// socket.
func (s *Sockets) ListenSocketAddress(h ListenSocket) (netip.AddrPort, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls := s.listens[h]
	if ls == nil {
		return netip.AddrPort{}, false
	}
	return ls.addr, true
}

// CloseListenSocket destroys the listen socket and, at once and without
// telling the peers, every connection that arrived through it.
func (s *Sockets) CloseListenSocket(h ListenSocket) bool {
	s.mu.Lock()
	ls := s.listens[h]
	if ls == nil {
		s.mu.Unlock()
		return false
	}
	delete(s.listens, h)
	if ls.p2p {
		s.p2p.forgetListen(ls)
	}
	var children []*connection
	ls.mu.Lock()
	for c := range ls.conns {
		children = append(children, c)
		if s.conns[c.handle] == c {
			delete(s.conns, c.handle)
			s.freeConnID(c.handle)
		}
	}
	ls.mu.Unlock()
	s.mu.Unlock()
	for _, c := range children {
		c.mu.Lock()
		s.qmu.Lock()
		c.purgeLocked()
		s.qmu.Unlock()
		old := c.state
		c.state = stateDead
		if !c.apiClosed {
			c.s.postStatus(c, old)
			c.apiClosed = true
		}
		if c.tr != nil {
			c.tr.destroy()
		}
		c.mu.Unlock()
	}
	if ls.udp != nil {
		ls.udp.Close()
	}
	return true
}

// ConnectByIPAddress starts connecting to a remote UDP address. Options apply
// at connection scope. It returns 0 on failure.
func (s *Sockets) ConnectByIPAddress(addr netip.AddrPort, opts ...ConfigValue) Conn {
	c, _ := s.connectByIPAddress(addr, opts)
	return c
}
