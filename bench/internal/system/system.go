// Package system defines what a networking library must provide to be
// measured: a bench-protocol server, client connections that exchange
// messages, and a way to hold many idle connections.
package system

import (
	"context"
	"errors"
)

// SendFlags select how one message is sent.
type SendFlags uint8

const (
	// Reliable messages are retransmitted until delivered, in order.
	// Without it the message may be lost.
	Reliable SendFlags = 1 << iota
	// NoDelay sends the message (and anything queued before it) at once,
	// bypassing Nagle-style coalescing where the library has it.
	NoDelay
)

// ErrNotSupported is returned by a System that cannot run a scenario
// (for example raw UDP has no connections to hold).
var ErrNotSupported = errors.New("not supported by this system")

// A System is one networking library under test. Its zero configuration is
// the one a game developer would use, with rate limits lifted.
type System interface {
	// Name is the short label used in tables and plots.
	Name() string
	// Encrypted reports whether the system encrypts its traffic.
	Encrypted() bool
	// Listen starts a bench-protocol server on addr ("127.0.0.1:0" picks a port).
	Listen(addr string) (Server, error)
	// Dial opens one client connection and waits until it is established.
	Dial(ctx context.Context, addr string) (Conn, error)
	// DialMany opens n idle connections to addr, reporting progress as
	// connections complete. It returns once all are connected or ctx ends.
	DialMany(ctx context.Context, addr string, n int, progress func(connected int)) (Swarm, error)
}

// A Server answers the bench protocol on every accepted connection.
type Server interface {
	// Addr is the address clients dial, as host:port.
	Addr() string
	// Conns is the number of connections currently established.
	Conns() int
	Close() error
}

// A Conn is one client connection. Its methods are called from one
// goroutine at a time.
type Conn interface {
	// Send queues one message, blocking while the library's send buffer
	// is full. The caller may reuse msg when Send returns.
	Send(msg []byte, flags SendFlags) error
	// Flush sends whatever is waiting for coalescing.
	Flush() error
	// Recv blocks until a message arrives and copies it into buf,
	// returning its length (truncated to len(buf)).
	Recv(ctx context.Context, buf []byte) (int, error)
	// Poll is Recv without waiting: ok is false when nothing is ready.
	Poll(buf []byte) (n int, ok bool, err error)
	Close() error
}

// A Swarm holds many idle client connections.
type Swarm interface {
	// Connected is the number of connections currently established.
	Connected() int
	Close() error
}
