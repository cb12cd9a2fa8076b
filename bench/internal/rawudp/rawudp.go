// Package rawudp is the physical reference: plain UDP sockets carrying the
// bench protocol with no reliability, ordering, encryption or connections.
package rawudp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

// MaxDatagram is the largest datagram sent. Larger sink messages are split
// into datagrams of this size, about one Ethernet MTU like the packets the
// other systems send, so bulk transfer compares like with like.
const MaxDatagram = 1400

// socketBuffer is requested for both directions; the kernel may clamp it.
const socketBuffer = 4 << 20

// maxPeers bounds the server's per-address state against spoofed floods.
const maxPeers = 1 << 16

// System is raw UDP.
type System struct{}

func (System) Name() string    { return "raw UDP" }
func (System) Encrypted() bool { return false }

// Listen starts a server answering each source address as one connection.
func (System) Listen(addr string) (system.Server, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	s := &server{conn: c, peers: make(map[netip.AddrPort]*benchproto.Session), done: make(chan struct{})}
	go s.run()
	return s, nil
}

type server struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	peers map[netip.AddrPort]*benchproto.Session
	count atomic.Int64
	done  chan struct{}
}

func (s *server) Addr() string { return s.conn.LocalAddr().String() }
func (s *server) Conns() int   { return int(s.count.Load()) }

func (s *server) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

func (s *server) run() {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		sess := s.session(from)
		if sess == nil {
			continue
		}
		sess.Handle(buf[:n], false, func(reply []byte, _ bool) {
			_, _ = s.conn.WriteToUDPAddrPort(reply, from)
		})
	}
}

func (s *server) session(from netip.AddrPort) *benchproto.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.peers[from]
	if sess == nil && len(s.peers) < maxPeers {
		sess = new(benchproto.Session)
		s.peers[from] = sess
		s.count.Add(1)
	}
	return sess
}

// Dial opens a connected UDP socket and checks that the server answers.
func (System) Dial(ctx context.Context, addr string) (system.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	cl := &conn{conn: c, raw: rc}
	if err := cl.probe(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return cl, nil
}

// DialMany is not supported: raw UDP has no connections to hold.
func (System) DialMany(context.Context, string, int, func(int)) (system.Swarm, error) {
	return nil, system.ErrNotSupported
}

type conn struct {
	conn *net.UDPConn
	raw  syscall.RawConn
}

// probe sends queries until one is answered, so Dial fails fast when no
// server listens.
func (c *conn) probe(ctx context.Context) error {
	buf := make([]byte, benchproto.QueryReplyLen)
	for {
		if _, err := c.conn.Write([]byte{benchproto.OpQuery}); err != nil {
			return err
		}
		try, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		n, err := c.Recv(try, buf)
		cancel()
		if err == nil && n > 0 && buf[0] == benchproto.OpQuery {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (c *conn) Send(msg []byte, _ system.SendFlags) error {
	if len(msg) <= MaxDatagram || msg[0] != benchproto.OpSink {
		_, err := c.conn.Write(msg)
		return err
	}
	var chunk [MaxDatagram]byte
	chunk[0] = benchproto.OpSink
	for rest := msg[1:]; len(rest) > 0; {
		n := copy(chunk[1:], rest)
		rest = rest[n:]
		if _, err := c.conn.Write(chunk[:1+n]); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) Flush() error { return nil }

func (c *conn) Recv(ctx context.Context, buf []byte) (int, error) {
	deadline, _ := ctx.Deadline()
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.conn.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	n, err := c.conn.Read(buf)
	if !stop() {
		<-fired
	}
	// Poll reads the same socket and must not see this call's deadline.
	_ = c.conn.SetReadDeadline(time.Time{})
	if err != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return n, err
}

// Poll reads with MSG_DONTWAIT straight on the socket, so busy-polling does
// not go through the Go netpoller.
func (c *conn) Poll(buf []byte) (int, bool, error) {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
		return true
	})
	if err != nil {
		return 0, false, err
	}
	if rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK {
		return 0, false, nil
	}
	if rerr != nil {
		return 0, false, rerr
	}
	return n, true, nil
}

func (c *conn) Close() error { return c.conn.Close() }

// Unsupported explains the scenarios raw UDP cannot run.
func (System) Unsupported(scenario, variant string) string {
	return "n/a: raw UDP has no connections"
}
