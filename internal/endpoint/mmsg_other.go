//go:build !linux

package endpoint

import (
	"errors"
	"net"
	"sync/atomic"
)

// mmsgReader and mmsgWriter exist on Linux only; elsewhere sockets move one
// datagram per call.
type mmsgReader struct{}

type mmsgWriter struct{ gso atomic.Bool }

var errNoMmsg = errors.New("endpoint: recvmmsg and sendmmsg not available")

func newMmsgReader(*net.UDPConn, bool) (*mmsgReader, error) { return nil, errNoMmsg }

func newMmsgWriter(*net.UDPConn, bool) (*mmsgWriter, error) { return nil, errNoMmsg }

func (*mmsgReader) read([]Packet, bool) (int, error) { return 0, errNoMmsg }

func (*mmsgWriter) write([]Packet) (int, error) { return 0, errNoMmsg }

func enableGRO(*net.UDPConn) bool { return false }
