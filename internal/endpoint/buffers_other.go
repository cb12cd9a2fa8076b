//go:build !unix

package endpoint

import (
	"log/slog"
	"net"
)

func setBuffers(conn *net.UDPConn, size int, _ *slog.Logger) {
	_ = conn.SetReadBuffer(size)
	_ = conn.SetWriteBuffer(size)
}
