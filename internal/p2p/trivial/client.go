package trivial

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist/internal/p2p/signaling"
)

// MaxQueue bounds the lines waiting to be written; when full, the oldest
// is dropped (signals are best effort).
const MaxQueue = 32

// Reconnect backoff bounds.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Handler receives each signal: the sender's identity as the server
// named it (informational: the signal itself says who sent it), the
// decoded blob, and the context to pass to the receive side. It runs on
// the client's read goroutine and should hand the signal on quickly (Close
// waits for it to return).
type Handler func(from string, blob []byte, ctx signaling.RecvContext)

// Options configure a Client.
type Options struct {
	// Dial opens the TCP connection; nil uses a net.Dialer with a 5 s
	// timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnError, if set, is told about connection failures and dropped
	// lines (for logs); it must not block.
	OnError func(err error)
}

// Stats count what the client did.
type Stats struct {
	Connects, Sent, Received, Dropped, BadLines int64
}

// Client is a connection to a trivial signaling server that reconnects
// by itself. Its methods are safe for concurrent use.
type Client struct {
	addrs   []string
	local   string
	handler Handler
	opts    Options

	mu     sync.Mutex
	queue  [][]byte
	wake   chan struct{}
	closed bool
	conn   net.Conn
	server string // address of conn, "" while not connected

	done   chan struct{}
	cancel context.CancelFunc

	connects, sent, received, dropped, badLines atomic.Int64
}

// ServerAddr turns "host", "host:port" or "[v6]:port" into a dialable
// address, with DefaultPort when none is given.
func ServerAddr(s string) (string, error) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil || host == "" {
			return "", errors.New("trivial: bad signaling server address " + strconv.Quote(s))
		}
		return s, nil
	}
	if s == "" {
		return "", errors.New("trivial: empty signaling server address")
	}
	if strings.ContainsAny(s, "[],") {
		return "", errors.New("trivial: bad signaling server address " + strconv.Quote(s))
	}
	return net.JoinHostPort(s, strconv.Itoa(DefaultPort)), nil
}

// ServerAddrs parses a comma-separated list of server addresses, each as
// ServerAddr accepts it.
func ServerAddrs(list string) ([]string, error) {
	var addrs []string
	for _, s := range strings.Split(list, ",") {
		a, err := ServerAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// New starts a client registering local (an identity in text form) at
// the first reachable server of addr, a comma-separated list. When that
// server goes away the client moves on to the next one, round the list.
// Received signals go to handler, one at a time, from the client's
// goroutine.
func New(addr, local string, handler Handler, opts Options) (*Client, error) {
	a, err := ServerAddrs(addr)
	if err != nil {
		return nil, err
	}
	if err := checkIdentity(local); err != nil {
		return nil, err
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		opts.Dial = d.DialContext
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		addrs: a, local: local, handler: handler, opts: opts,
		wake: make(chan struct{}, 1), done: make(chan struct{}), cancel: cancel,
	}
	go c.run(ctx)
	return c, nil
}

// Local is the identity the client registers.
func (c *Client) Local() string { return c.local }

// Server is the address of the server the client is connected to, or ""
// while it is not connected.
func (c *Client) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{c.connects.Load(), c.sent.Load(), c.received.Load(), c.dropped.Load(), c.badLines.Load()}
}

// Send queues blob for peer. It never blocks; it fails only for an
// unusable identity or an oversized blob, or after Close.
func (c *Client) Send(peer string, blob []byte) error {
	line, err := AppendLine(nil, peer, blob)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	if len(c.queue) >= MaxQueue {
		c.queue = c.queue[1:]
		c.dropped.Add(1)
	}
	c.queue = append(c.queue, line)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// Signaling returns the signaling object of one connection to peer.
func (c *Client) Signaling(peer string) signaling.ConnectionSignaling {
	return connSignaling{c: c, peer: peer}
}

type connSignaling struct {
	c    *Client
	peer string
}

// SendSignal queues the signal; a full queue drops the oldest line, which
// the protocol tolerates, so only an unusable identity returns false.
func (s connSignaling) SendSignal(_ signaling.Header, blob []byte) bool {
	return s.c.Send(s.peer, blob) == nil
}

func (s connSignaling) Release() {}

// recvContext hands new inbound connections a signaling object of this
// client and sends rejections to the peer.
type recvContext struct{ c *Client }

func (r recvContext) OnConnectRequest(_ uint32, peer string, _ int) signaling.ConnectionSignaling {
	return r.c.Signaling(peer)
}

func (r recvContext) SendRejectionSignal(peer string, blob []byte) { r.c.Send(peer, blob) }

// Close stops the client and waits for its goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	c.cancel()
	if conn != nil {
		conn.Close()
	}
	<-c.done
	return nil
}

func (c *Client) report(err error) {
	if c.opts.OnError != nil {
		c.opts.OnError(err)
	}
}

// run connects to each server in turn: a failure moves on to the next
// one at once, and only after a whole round without a lasting connection
// does the client wait, with backoff, before going round again.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	backoff := minBackoff
	next, failed := 0, 0
	for ctx.Err() == nil {
		addr := c.addrs[next]
		next = (next + 1) % len(c.addrs)
		conn, err := c.opts.Dial(ctx, "tcp", addr)
		if err == nil {
			c.connects.Add(1)
			start := time.Now()
			err = c.serve(ctx, addr, conn)
			if time.Since(start) > maxBackoff {
				backoff, failed = minBackoff, 0 // the connection worked for a while
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.report(err)
		if failed++; failed < len(c.addrs) {
			continue
		}
		failed = 0
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// serve runs one TCP connection until it fails.
func (c *Client) serve(ctx context.Context, addr string, conn net.Conn) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return net.ErrClosed
	}
	c.conn, c.server = conn, addr
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn, c.server = nil, ""
		c.mu.Unlock()
		conn.Close()
	}()

	if _, err := conn.Write([]byte(c.local + "\n")); err != nil {
		return err
	}
	readErr := make(chan error, 1)
	go func() { readErr <- c.readLoop(conn) }()
	for {
		if err := c.flush(conn); err != nil {
			conn.Close()
			<-readErr
			return err
		}
		select {
		case <-ctx.Done():
			conn.Close()
			<-readErr
			return ctx.Err()
		case err := <-readErr:
			return err
		case <-c.wake:
		}
	}
}

// flush writes the queued lines; a line leaves the queue only once
// written whole, so a failed write is repeated on the next connection.
func (c *Client) flush(conn net.Conn) error {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return nil
		}
		line := c.queue[0]
		c.mu.Unlock()
		if _, err := conn.Write(line); err != nil {
			return err
		}
		c.sent.Add(1)
		c.mu.Lock()
		if len(c.queue) > 0 && &c.queue[0][0] == &line[0] {
			c.queue = c.queue[1:]
		}
		c.mu.Unlock()
	}
}

func (c *Client) readLoop(conn net.Conn) error {
	r := bufio.NewReaderSize(conn, 4096)
	ctx := recvContext{c}
	for {
		line, err := readLine(r)
		if errors.Is(err, ErrLineTooLong) {
			c.badLines.Add(1)
			c.report(err)
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		from, blob, err := ParseLine(line)
		if err != nil {
			c.badLines.Add(1)
			c.report(err)
			continue
		}
		c.received.Add(1)
		if c.handler != nil {
			c.handler(from, blob, ctx)
		}
	}
}

// readLine returns the next line without its "\n". A line longer than
// MaxLineLength is consumed up to its end and reported as ErrLineTooLong
// without being kept in memory.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxLineLength {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrLineTooLong
			}
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}
