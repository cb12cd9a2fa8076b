//go:build unix

package endpoint

import (
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
)

// bufferWarned makes the small-buffer warning appear once per process.
var bufferWarned atomic.Bool

// setBuffers asks for size-byte kernel buffers and warns once per process if
// the kernel grants less (on Linux, net.core.rmem_max and wmem_max cap it).
func setBuffers(conn *net.UDPConn, size int, logger *slog.Logger) {
	_ = conn.SetReadBuffer(size)
	_ = conn.SetWriteBuffer(size)
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	var rcv, snd int
	_ = raw.Control(func(fd uintptr) {
		rcv, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		snd, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	})
	// Linux reports twice the size it accounts for; anything at least the
	// request is fine.
	if rcv >= size && snd >= size {
		return
	}
	if bufferWarned.Swap(true) {
		return
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("endpoint: kernel granted smaller UDP buffers than requested; raise net.core.rmem_max/wmem_max for high rates",
		"requested", size, "receive", rcv, "send", snd)
}
