//go:build !linux

package endpoint

import (
	"errors"
	"net"
)

// mmsgReader exists on Linux only; elsewhere sockets read one datagram per
// call.
type mmsgReader struct{}

func newMmsgReader(*net.UDPConn) (*mmsgReader, error) {
	return nil, errors.New("endpoint: recvmmsg not available")
}

func (*mmsgReader) read([]Packet) (int, error) {
	return 0, errors.New("endpoint: recvmmsg not available")
}
