// Package quicsys measures quic-go: reliable messages are length-prefixed
// on one bidirectional stream per connection, unreliable ones are QUIC
// datagrams (RFC 9221). TLS 1.3 encrypts everything.
package quicsys

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

const (
	alpn = "mistbench"
	// maxMessage bounds one framed message so a hostile length prefix
	// cannot make the reader allocate without limit.
	maxMessage = 1 << 20
	// KeepAlive matches the idle interval after which GNS sends keepalives.
	KeepAlive = 10 * time.Second
	// dialWindow bounds concurrent handshakes in DialMany.
	dialWindow = 128
)

// System is quic-go with its default congestion control and flow-control
// windows, datagrams enabled and keepalives every KeepAlive.
type System struct{}

func (System) Name() string    { return "quic-go" }
func (System) Encrypted() bool { return true }

func config() *quic.Config {
	return &quic.Config{
		EnableDatagrams: true,
		KeepAlivePeriod: KeepAlive,
		MaxIdleTimeout:  30 * time.Second,
		// GNS gives a connection attempt 10 s (TimeoutInitial); so does this.
		HandshakeIdleTimeout: 10 * time.Second,
	}
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// serverCert is a throwaway self-signed certificate; clients skip
// verification because only the cost of encryption matters here.
func serverCert() (tls.Certificate, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return cert, certErr
}

func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}}
}

// Listen starts a server with one goroutine per stream and per datagram queue.
func (System) Listen(addr string) (system.Server, error) {
	c, err := serverCert()
	if err != nil {
		return nil, err
	}
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{c}, NextProtos: []string{alpn}}, config())
	if err != nil {
		udp.Close()
		return nil, err
	}
	s := &server{tr: tr, ln: ln, done: make(chan struct{})}
	go s.accept()
	return s, nil
}

type server struct {
	tr    *quic.Transport
	ln    *quic.Listener
	conns atomic.Int64
	wg    sync.WaitGroup
	done  chan struct{}
}

func (s *server) Addr() string { return s.ln.Addr().String() }
func (s *server) Conns() int   { return int(s.conns.Load()) }

func (s *server) Close() error {
	err := s.ln.Close()
	<-s.done
	s.tr.Close()
	s.wg.Wait()
	return err
}

func (s *server) accept() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept(context.Background())
		if err != nil {
			return
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go s.serve(c)
	}
}

// serve runs one connection: this goroutine reads the stream, a second one
// reads datagrams.
func (s *server) serve(c *quic.Conn) {
	defer s.wg.Done()
	defer s.conns.Add(-1)
	var sess benchproto.Session
	var streamMu sync.Mutex
	var stream *quic.Stream
	var frame []byte
	reply := func(msg []byte, reliable bool) {
		if !reliable {
			_ = c.SendDatagram(msg)
			return
		}
		streamMu.Lock()
		defer streamMu.Unlock()
		if stream != nil {
			frame = appendFrame(frame[:0], msg)
			_, _ = stream.Write(frame)
		}
	}
	go func() {
		for {
			msg, err := c.ReceiveDatagram(context.Background())
			if err != nil {
				return
			}
			sess.Handle(msg, false, reply)
		}
	}()
	st, err := c.AcceptStream(context.Background())
	if err != nil {
		return
	}
	streamMu.Lock()
	stream = st
	streamMu.Unlock()
	r := bufio.NewReaderSize(st, 64<<10)
	var buf []byte
	for {
		buf, err = readFrame(r, buf)
		if err != nil {
			c.CloseWithError(0, "")
			return
		}
		sess.Handle(buf, true, reply)
	}
}

func appendFrame(dst, msg []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(msg)))
	return append(dst, msg...)
}

// readFrame reads one length-prefixed message, reusing buf.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxMessage {
		return buf, fmt.Errorf("quicsys: %d-byte message exceeds %d", n, maxMessage)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// Dial connects on its own UDP socket and opens the message stream.
func (System) Dial(ctx context.Context, addr string) (system.Conn, error) {
	c, err := quic.DialAddr(ctx, addr, clientTLS(), config())
	if err != nil {
		return nil, err
	}
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		c.CloseWithError(0, "")
		return nil, err
	}
	return &conn{c: c, st: st, r: bufio.NewReaderSize(st, 64<<10)}, nil
}

type conn struct {
	c     *quic.Conn
	st    *quic.Stream
	r     *bufio.Reader
	frame []byte
	in    []byte
}

func (c *conn) Send(msg []byte, flags system.SendFlags) error {
	if flags&system.Reliable == 0 {
		return c.c.SendDatagram(msg)
	}
	c.frame = appendFrame(c.frame[:0], msg)
	_, err := c.st.Write(c.frame)
	return err
}

// Flush is a no-op: quic-go sends stream data as soon as it may.
func (c *conn) Flush() error { return nil }

// Recv returns the next reliable message. Datagram replies are not read:
// no scenario asks for unreliable echoes.
func (c *conn) Recv(ctx context.Context, buf []byte) (int, error) {
	deadline, _ := ctx.Deadline()
	if err := c.st.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.st.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var err error
	c.in, err = readFrame(c.r, c.in)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	}
	return copy(buf, c.in), nil
}

// Poll is not offered: quic-go streams only have blocking reads.
func (c *conn) Poll([]byte) (int, bool, error) { return 0, false, system.ErrNotSupported }

func (c *conn) Close() error { return c.c.CloseWithError(0, "") }

// DialMany connects n clients over one shared UDP socket, as a load
// generator would, with a bounded number of handshakes in flight.
func (System) DialMany(ctx context.Context, addr string, n int, progress func(int)) (system.Swarm, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: raddr.IP})
	if err != nil {
		return nil, err
	}
	sw := &swarm{tr: &quic.Transport{Conn: udp}}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, dialWindow)
	)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := sw.tr.Dial(ctx, raddr, clientTLS(), config())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			sw.conns = append(sw.conns, c)
			if progress != nil {
				progress(len(sw.conns))
			}
		}()
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	if firstErr != nil {
		sw.Close()
		return nil, fmt.Errorf("quicsys: %d of %d connected: %w", len(sw.conns), n, firstErr)
	}
	return sw, nil
}

type swarm struct {
	tr    *quic.Transport
	conns []*quic.Conn
}

func (s *swarm) Connected() int {
	n := 0
	for _, c := range s.conns {
		if c.Context().Err() == nil {
			n++
		}
	}
	return n
}

func (s *swarm) Close() error {
	for _, c := range s.conns {
		c.CloseWithError(0, "")
	}
	return errors.Join(s.tr.Close(), s.tr.Conn.Close())
}

// Unsupported explains the scenarios quic-go cannot run.
func (System) Unsupported(scenario, variant string) string {
	return "n/a: quic-go streams have blocking reads only"
}
