package mist

import (
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/config"
)

// createLoopbackPair connects the instance to itself over UDP through a
// hidden listen socket that accepts the one connection on its own. The
// listen socket lives until the instance is closed.
func (s *Sockets) createLoopbackPair(remote1, remote2 *Identity) (Conn, Conn, bool) {
	pc, err := s.listenPacket(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
	if err != nil {
		return 0, 0, false
	}
	ls := &listenSocket{cfg: s.cfg.child(config.ListenSocketScope), pairAccept: make(chan Conn, 1)}
	if err := s.openListenSocket(pc, ls); err != nil {
		pc.Close()
		return 0, 0, false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pc.Close()
		return 0, 0, false
	}
	s.pairListens = append(s.pairListens, ls)
	s.mu.Unlock()
	ls.udp.Start()

	h1, err := s.connectIP(ls.addr, nil, true)
	if err != nil {
		return 0, 0, false
	}
	wait := time.Duration(s.cfg.int(OptTimeoutInitial)) * time.Millisecond
	var h2 Conn
	select {
	case h2 = <-ls.pairAccept:
	case <-time.After(wait):
		s.CloseConnection(h1, 0, "", false)
		return 0, 0, false
	}
	// Both ends start Connected, as the in-process pair does.
	for end := time.Now().Add(wait); ; time.Sleep(100 * time.Microsecond) {
		i1, _ := s.ConnectionInfo(h1)
		i2, _ := s.ConnectionInfo(h2)
		if i1.State == StateConnected && i2.State == StateConnected {
			break
		}
		if time.Now().After(end) || i1.State > StateConnected || i2.State > StateConnected {
			s.CloseConnection(h1, 0, "", false)
			s.CloseConnection(h2, 0, "", false)
			return 0, 0, false
		}
	}
	s.setPairIdentity(h1, remote1)
	s.setPairIdentity(h2, remote2)
	return h1, h2, true
}

func (s *Sockets) setPairIdentity(h Conn, id *Identity) {
	c := s.lookup(h)
	if c == nil {
		return
	}
	defer c.mu.Unlock()
	if id != nil && id.IsValid() {
		c.remote = *id
	} else {
		c.remote = IPIdentity(c.remoteAddr)
	}
}
