package rendezvous

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

var (
	// ErrUnknownConnection: the signal belongs to no session and is not a
	// connect request. GNS drops these silently, so as not to reveal
	// which connections exist.
	ErrUnknownConnection = errors.New("rendezvous: signal for no known connection")
	// ErrIncompleteRequest: a connect request without certificate or crypt
	// info.
	ErrIncompleteRequest = errors.New("rendezvous: connect request lacks certificate or crypt info")
	// ErrTooManySessions: the router holds its limit of sessions.
	ErrTooManySessions = errors.New("rendezvous: too many connections")
	// ErrTooManyPending: too many inbound connections wait to be accepted.
	ErrTooManyPending = errors.New("rendezvous: too many connections waiting to be accepted")
	// ErrDuplicateID: a session with that local connection id exists.
	ErrDuplicateID = errors.New("rendezvous: connection id in use")
)

// Default router limits.
const (
	DefaultMaxSessions = 4096
	DefaultMaxPending  = 256
)

// Limits bound a Router's state; zero fields take the defaults.
type Limits struct {
	// MaxSessions bounds all sessions, closed ones still answering
	// included.
	MaxSessions int
	// MaxPending bounds inbound sessions not yet accepted.
	MaxPending int
}

// Request is a connect request for a connection this side does not have
// yet.
type Request struct {
	Signal   *pb.Rendezvous
	Identity identity.Identity
	// ConnID is the initiator's connection id.
	ConnID uint32
	// LocalVirtualPort is the port asked for (to_virtual_port), -1 if
	// absent; RemoteVirtualPort is the initiator's port, or
	// LocalVirtualPort if absent.
	LocalVirtualPort, RemoteVirtualPort int
	Cert                                *pb.CertificateSigned
	Crypt                               *pb.CryptInfoSigned
}

type remoteKey struct {
	id     identity.Identity
	connID uint32
}

// Router finds the session each received signal belongs to. It is not
// safe for concurrent use.
type Router struct {
	lim      Limits
	byLocal  map[uint32]*Session
	byRemote map[remoteKey]*Session
}

// NewRouter returns an empty router.
func NewRouter(lim Limits) *Router {
	if lim.MaxSessions <= 0 {
		lim.MaxSessions = DefaultMaxSessions
	}
	if lim.MaxPending <= 0 {
		lim.MaxPending = DefaultMaxPending
	}
	return &Router{lim: lim, byLocal: map[uint32]*Session{}, byRemote: map[remoteKey]*Session{}}
}

// Len is the number of sessions.
func (r *Router) Len() int { return len(r.byLocal) }

// Session returns the session with the local connection id, or nil.
func (r *Router) Session(localID uint32) *Session { return r.byLocal[localID] }

// Add registers a session.
func (r *Router) Add(s *Session) error {
	if _, ok := r.byLocal[s.LocalConnID()]; ok {
		return fmt.Errorf("%w: %d", ErrDuplicateID, s.LocalConnID())
	}
	if len(r.byLocal) >= r.lim.MaxSessions {
		return ErrTooManySessions
	}
	r.byLocal[s.LocalConnID()] = s
	r.index(s)
	return nil
}

func (r *Router) index(s *Session) {
	if s.RemoteConnID() == 0 {
		return
	}
	k := remoteKey{s.RemoteIdentity(), s.RemoteConnID()}
	if _, ok := r.byRemote[k]; !ok {
		r.byRemote[k] = s
	}
}

// Reindex records a session's remote connection id after it changed
// (BecomeAcceptor).
func (r *Router) Reindex(s *Session) {
	for k, v := range r.byRemote {
		if v == s {
			delete(r.byRemote, k)
		}
	}
	r.index(s)
}

// Remove forgets a session.
func (r *Router) Remove(s *Session) {
	if r.byLocal[s.LocalConnID()] == s {
		delete(r.byLocal, s.LocalConnID())
	}
	k := remoteKey{s.RemoteIdentity(), s.RemoteConnID()}
	if r.byRemote[k] == s {
		delete(r.byRemote, k)
	}
}

// Expire removes and returns the sessions that are Done.
func (r *Router) Expire(now time.Time) []*Session {
	var gone []*Session
	for _, s := range r.byLocal {
		if s.Done(now) {
			gone = append(gone, s)
		}
	}
	for _, s := range gone {
		r.Remove(s)
	}
	return gone
}

func (r *Router) pending() int {
	n := 0
	for _, s := range r.byLocal {
		if s.role == Acceptor && s.state == StateConnecting {
			n++
		}
	}
	return n
}

// Route parses a received signal and hands it to its session, returning
// the session and what the signal brought. A connect request for no
// existing session is returned as a Request instead: the caller decides
// (listen socket, application) and creates the session with NewAcceptor
// and Add. ErrUnknownConnection is to be ignored silently; other errors
// name what was wrong with the signal. No error changes any session.
func (r *Router) Route(now time.Time, blob []byte) (*Session, Inbound, *Request, error) {
	m, err := Parse(blob)
	if err != nil {
		return nil, Inbound{}, nil, err
	}
	from, err := identity.Parse(m.GetFromIdentity())
	if err != nil || !from.IsValid() {
		return nil, Inbound{}, nil, fmt.Errorf("%w: %q", ErrNoIdentity, m.GetFromIdentity())
	}
	var s *Session
	if m.ToConnectionId != nil {
		s = r.byLocal[m.GetToConnectionId()]
	} else if m.GetFromConnectionId() != 0 {
		s = r.byRemote[remoteKey{from, m.GetFromConnectionId()}]
	} else {
		return nil, Inbound{}, nil, fmt.Errorf("%w: no connection ids", ErrConnectionMismatch)
	}
	if s != nil {
		in, err := s.Receive(now, m)
		if err == nil {
			r.index(s)
		}
		return s, in, nil, err
	}
	if m.ToConnectionId != nil || m.ConnectRequest == nil {
		return nil, Inbound{}, nil, ErrUnknownConnection
	}
	cr := m.ConnectRequest
	if cr.Cert == nil || cr.Crypt == nil {
		return nil, Inbound{}, nil, ErrIncompleteRequest
	}
	if len(r.byLocal) >= r.lim.MaxSessions {
		return nil, Inbound{}, nil, ErrTooManySessions
	}
	if r.pending() >= r.lim.MaxPending {
		return nil, Inbound{}, nil, ErrTooManyPending
	}
	req := &Request{
		Signal: m, Identity: from, ConnID: m.GetFromConnectionId(),
		LocalVirtualPort: -1, RemoteVirtualPort: -1,
		Cert: cr.Cert, Crypt: cr.Crypt,
	}
	if cr.ToVirtualPort != nil {
		req.LocalVirtualPort = int(cr.GetToVirtualPort())
	}
	req.RemoteVirtualPort = req.LocalVirtualPort
	if cr.FromVirtualPort != nil {
		req.RemoteVirtualPort = int(cr.GetFromVirtualPort())
	}
	return nil, Inbound{}, req, nil
}

// Rejection builds the signal refusing req. Unlike GNS's own rejection it
// carries the sender identity and fromConnID (any non-zero id) because a
// GNS initiator ignores signals without them.
func Rejection(local identity.Identity, fromConnID uint32, req *Request, reason int, debug string) *pb.Rendezvous {
	m := &pb.Rendezvous{
		ToConnectionId:   proto.Uint32(req.ConnID),
		ToIdentity:       proto.String(req.Identity.String()),
		FromIdentity:     proto.String(local.String()),
		ConnectionClosed: &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(uint32(reason)), Debug: proto.String(debug)},
	}
	if fromConnID != 0 {
		m.FromConnectionId = proto.Uint32(fromConnID)
	}
	return m
}

// CompareSymmetric is GNS's tie-break between two crossing connect
// requests of a symmetric connection: > 0 means the local side gives up
// its own request and accepts the peer's; both sides compute opposite
// signs. The certificates decide only on equal ids.
func CompareSymmetric(localID uint32, localCert []byte, remoteID uint32, remoteCert []byte) int {
	var r int
	switch {
	case localID < remoteID:
		r = -1
	case localID > remoteID:
		r = 1
	default:
		n := min(len(localCert), len(remoteCert))
		for i := 0; i < n && r == 0; i++ {
			switch {
			case localCert[i] < remoteCert[i]:
				r = -1
			case localCert[i] > remoteCert[i]:
				r = 1
			}
		}
	}
	if (localID^remoteID)&1 != 0 {
		r = -r
	}
	return r
}
