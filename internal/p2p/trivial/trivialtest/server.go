// Package trivialtest is a minimal server for GNS's trivial signaling
// protocol, for tests: it registers each TCP client under the identity on
// its first line and forwards "<dest> <hex>" lines to dest as
// "<sender> <hex>", dropping lines for unknown destinations.
package trivialtest

import (
	"bufio"
	"net"
	"strings"
	"sync"

	"github.com/mistnet/mist/internal/p2p/trivial"
)

// Server is a running signaling server.
type Server struct {
	ln    net.Listener
	mu    sync.Mutex
	peers map[string]net.Conn
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves
// until Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, peers: map[string]net.Conn{}, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	first, err := r.ReadString('\n')
	id := strings.TrimSpace(first)
	if err != nil || id == "" || strings.ContainsAny(id, " \t") {
		return
	}
	s.mu.Lock()
	if old := s.peers[id]; old != nil {
		old.Close()
	}
	s.peers[id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.peers[id] == c {
			delete(s.peers, id)
		}
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	for {
		line, err := readLine(r)
		if err != nil {
			return
		}
		dest, payload, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		s.mu.Lock()
		if d := s.peers[dest]; d != nil {
			d.Write([]byte(id + " " + payload + "\n"))
		}
		s.mu.Unlock()
	}
}

// readLine reads one line without its terminator, dropping lines longer
// than trivial.MaxLineLength.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(b)+len(chunk) <= trivial.MaxLineLength {
			b = append(b, chunk...)
		} else {
			b = b[:0]
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			continue
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Registered reports whether a client is registered as id.
func (s *Server) Registered(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[id] != nil
}

// Close stops the server and disconnects every client.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}
