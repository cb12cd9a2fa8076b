//go:build !unix

package endpoint

import "errors"

// tryRead is not available where sockets cannot be polled without
// waiting.
func (c *UDPConn) tryRead([]Packet) (int, error) {
	return 0, errors.ErrUnsupported
}
