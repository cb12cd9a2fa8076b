package mist

import (
	"errors"
	"net/netip"
)

var errNotImplemented = errors.New("mist: UDP transport not implemented yet")

// udpSocket is one UDP socket with its receive loop.
type udpSocket struct{}

func (u *udpSocket) close() {}

func (s *Sockets) createListenSocketIP(addr netip.AddrPort, opts []ConfigValue) (ListenSocket, error) {
	return InvalidListenSocket, errNotImplemented
}

func (s *Sockets) connectByIPAddress(addr netip.AddrPort, opts []ConfigValue) (Conn, error) {
	return InvalidConn, errNotImplemented
}
