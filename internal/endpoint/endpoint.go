// Package endpoint owns mist's UDP sockets.
//
// Everything above it speaks [PacketConn], a batch-oriented datagram
// interface that the fault injector and the in-memory network of
// internal/netsim implement as well, so they can wrap or replace a real
// socket without touching the I/O path.
//
// # Sockets
//
// [Listen] binds a local address; the unspecified IPv6 address ([::]:port)
// gives a dual-stack socket that serves IPv4 and IPv6 peers alike. [Dial]
// binds an ephemeral port in the address family of a remote peer, for the
// client side of a connection. Neither socket is connected: every write
// names its destination.
//
// # Addresses
//
// IPv4 peers always appear as plain IPv4 addresses (1.2.3.4:5), never in
// their IPv4-mapped IPv6 form (::ffff:1.2.3.4), whichever kind of socket
// received them; writing to a plain IPv4 address through a dual-stack socket
// maps it as the kernel expects. One peer thus has one address, which keeps
// connection lookup by address simple.
//
// # Batching
//
// On Linux reads and writes move up to [MaxBatch] datagrams per system call
// with recvmmsg and sendmmsg, called directly so that source addresses are
// decoded into netip values and destinations encoded from them without
// allocating. Options.SingleDatagram selects the one-datagram-per-call path
// used on other systems, so both are exercised by tests on Linux. Neither
// path allocates per datagram in steady state.
//
// # Segmentation offload
//
// Where the kernel offers UDP GSO (Linux 4.18 and later), a batched write
// hands each run of consecutive datagrams to one destination, all of the
// run's first datagram's size except a possibly shorter last one, to the
// kernel as a single message that it cuts into datagrams as late as it can
// (in the NIC, or just before delivery on loopback). That saves most of the
// per-datagram cost of the UDP/IP stack on the sending side. It is
// transparent: the receiver sees the same datagrams. If the path refuses
// the offload, the socket stops using it and resends without it;
// [UDPConn.GSO] tells whether it is in use.
//
// With Options.GRO the kernel may in turn hand a reader a train of
// datagrams from one source as one; the reader splits it again, so
// ReadBatch still returns one Packet per datagram.
//
// # Polling
//
// [UDPConn.TryReadBatch] reads what is queued without waiting, alongside a
// ReadBatch that may be blocked on the same socket, for receivers that
// poll.
package endpoint

import (
	"log/slog"
	"net/netip"
)

// Packet is one datagram in a batch.
//
// For a read, Buf's capacity is the space to fill; the read sets N, slices
// Buf to Buf[:N] and sets Addr to the source. Datagrams larger than the
// buffer are dropped, so buffers should hold the largest expected datagram.
// For a write, Buf is the datagram and Addr its destination; N is ignored.
type Packet struct {
	Buf  []byte
	N    int
	Addr netip.AddrPort
}

// PacketConn is a datagram socket with batched I/O.
//
// ReadBatch blocks until at least one datagram arrives and returns how many
// entries of ms it filled. WriteBatch sends ms in order and returns how many
// were sent before an error, if any. Reads may run concurrently with writes;
// concurrent reads (or concurrent writes) are serialised. After Close, both
// return an error satisfying errors.Is(err, net.ErrClosed); Close unblocks a
// pending ReadBatch.
type PacketConn interface {
	ReadBatch(ms []Packet) (int, error)
	WriteBatch(ms []Packet) (int, error)
	LocalAddr() netip.AddrPort
	Close() error
}

// MaxBatch is the largest number of datagrams moved by one system call.
const MaxBatch = 64

// DefaultSocketBuffer is the kernel send and receive buffer size requested
// for every socket.
const DefaultSocketBuffer = 4 << 20

// Options tunes a socket. The zero value (or a nil *Options) is the default.
type Options struct {
	// SingleDatagram moves one datagram per system call even where batched
	// calls are available.
	SingleDatagram bool
	// SocketBuffer is the send and receive buffer size to request; 0 means
	// DefaultSocketBuffer, negative leaves the kernel's default.
	SocketBuffer int
	// DisableGSO keeps writes from using UDP segmentation offload.
	DisableGSO bool
	// GRO lets the kernel coalesce received datagrams (Linux UDP_GRO),
	// which saves per-datagram work in the receive path when the peer sends
	// in bursts, and most of all on loopback from a GSO sender. A coalesced
	// train can be 64 KiB, so each reader (ReadBatch's, and TryReadBatch's
	// once used) then receives into buffers of its own: 64 KiB for every 16
	// Packets of the caller's batch, at most 256 KiB per reader, plus one
	// copy per datagram. Ignored with SingleDatagram.
	GRO bool
	// Logger receives the one warning issued if the kernel grants smaller
	// buffers than requested. nil means slog.Default().
	Logger *slog.Logger
}

func (o *Options) orDefault() Options {
	if o == nil {
		return Options{}
	}
	return *o
}
