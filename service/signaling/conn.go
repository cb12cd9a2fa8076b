package signaling

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// conn is one client connection: a read loop that registers and forwards,
// and a write loop that drains the connection's bounded queue.
type conn struct {
	s      *Server
	nc     net.Conn
	ip     netip.Addr
	remote string

	// identity and registeredAt are set once, by the read loop, under
	// the registry lock.
	identity     string
	registeredAt time.Time

	mu     sync.Mutex
	queue  [][]byte
	queued int // bytes in queue
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newConn(s *Server, nc net.Conn, ip netip.Addr) *conn {
	return &conn{s: s, nc: nc, ip: ip, remote: nc.RemoteAddr().String(),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// enqueue queues a line for writing; false if it does not fit the
// connection's budget or the connection is closed.
func (c *conn) enqueue(line []byte) bool {
	c.mu.Lock()
	if c.closed || c.queued+len(line) > c.s.cfg.QueueBytes {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, line)
	c.queued += len(line)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// close ends the connection; both loops then return.
func (c *conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	close(c.done)
	c.nc.Close()
}

// closeAfterWrite writes a last line, then closes.
func (c *conn) closeAfterWrite(line []byte) {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.nc.Write(line)
	c.close()
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var batch net.Buffers
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		lines := c.queue
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		if len(lines) == 0 {
			continue
		}
		batch = append(batch[:0], lines...)
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		if _, err := batch.WriteTo(c.nc); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.s.count.timeouts.Add(1)
				c.s.log.Warn("client does not read; closing", "identity", c.identity, "remote", c.remote)
			}
			c.close()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.s.forget(c)
	defer c.close()
	cfg := &c.s.cfg
	r := newLineReader(c.nc, 2048, cfg.MaxLineBytes)

	identity, reason := c.greet(r)
	if identity == "" {
		c.s.log.Info("connection closed before registering", "remote", c.remote, "reason", reason)
		return
	}
	c.s.register(c, identity)
	defer c.s.unregister(c)

	bucket := newTokenBucket(cfg.LinesPerSecond, cfg.LineBurst, time.Now())
	for {
		line, err := r.next(time.Time{}, cfg.LineTimeout, time.Now)
		if err != nil {
			c.s.log.Info("connection closed", "identity", identity, "remote", c.remote, "reason", c.readError(err))
			return
		}
		if wait := bucket.take(time.Now()); wait > 0 {
			c.s.count.rateLimited.Add(1)
			select {
			case <-time.After(wait):
			case <-c.done:
				return
			}
		}
		dest, payload, ok := ParseSignal(line)
		if !ok {
			c.s.count.ignored.Add(1)
			c.s.log.Debug("ignoring a line that is not 'DESTINATION PAYLOAD'", "identity", identity, "remote", c.remote)
			continue
		}
		c.s.forward(identity, dest, payload)
	}
}

// greet reads the first line and returns the identity to register, or ""
// and why not.
func (c *conn) greet(r *lineReader) (identity, reason string) {
	cfg := &c.s.cfg
	deadline := time.Now().Add(cfg.GreetingTimeout)
	line, err := r.next(deadline, cfg.GreetingTimeout, time.Now)
	if err != nil {
		return "", c.readError(err)
	}
	if isExtension(line) {
		return c.authenticate(r, line, deadline)
	}
	id := ParseIdentity(line)
	if len(id) == 0 {
		return "", "empty identity"
	}
	if cfg.Authenticator != nil {
		c.s.count.authRefused.Add(1)
		c.s.log.Warn("registration refused: plain registration without a certificate; ignoring the connection",
			"identity", string(id), "remote", c.remote)
		c.holdRefused(r)
		return "", "refused: plain registration of " + string(id) + " without a certificate"
	}
	return string(id), ""
}

// holdRefused tells a plain client that the server wants proof, then
// reads and drops its lines until it leaves. Closing instead would make
// GNS's trivial client reconnect at once, over and over.
func (c *conn) holdRefused(r *lineReader) {
	cfg := &c.s.cfg
	if !c.enqueue([]byte(refusedUnauthenticated)) {
		return
	}
	bucket := newTokenBucket(cfg.LinesPerSecond, cfg.LineBurst, time.Now())
	for {
		if _, err := r.next(time.Time{}, cfg.LineTimeout, time.Now); err != nil {
			return
		}
		c.s.count.ignored.Add(1)
		if wait := bucket.take(time.Now()); wait > 0 {
			select {
			case <-time.After(wait):
			case <-c.done:
				return
			}
		}
	}
}

// readError says why reading stopped, counting hostile cases.
func (c *conn) readError(err error) string {
	switch {
	case errors.Is(err, errLineTooLong):
		c.s.count.tooLong.Add(1)
		c.s.log.Warn("line too long; closing", "identity", c.identity, "remote", c.remote, "max", c.s.cfg.MaxLineBytes)
		return "line too long"
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.s.count.timeouts.Add(1)
		c.s.log.Warn("client too slow; closing", "identity", c.identity, "remote", c.remote)
		return "timed out"
	case errors.Is(err, io.EOF):
		return "peer closed connection"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	}
	return err.Error()
}
