package rendezvous

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// Timing of the signaling layer, as GNS has it.
const (
	// ConnectRetryInterval: the initiator repeats its connect request this
	// often until it is answered.
	ConnectRetryInterval = 500 * time.Millisecond
	// MinSignalInterval: two signals of one connection are never closer.
	MinSignalInterval = 100 * time.Millisecond
	// SignalDelay: a signal that becomes needed goes out this soon (subject
	// to MinSignalInterval).
	SignalDelay = 10 * time.Millisecond
	// ReliableRTO: an unacknowledged reliable message is sent again after
	// this long; there is no backoff and no retry limit.
	ReliableRTO = time.Second
	// DefaultTimeoutInitial bounds Connecting and FindingRoute, each.
	DefaultTimeoutInitial = 10 * time.Second
	// FinWait: how long a closed session still answers signals.
	FinWait = 5 * time.Second

	// DefaultMaxUnacked bounds the reliable messages waiting for an ack.
	DefaultMaxUnacked = 256
	// maxReliableBytesPerSignal keeps a signal far below MaxSignalSize; the
	// messages that do not fit go in the next signal.
	maxReliableBytesPerSignal = 8 << 10
	// maxReliableSize bounds one queued reliable message.
	maxReliableSize = 4 << 10
)

// Role says which side of the connection this is.
type Role uint8

const (
	// Initiator: this side asked for the connection (ICE-controlled).
	Initiator Role = iota
	// Acceptor: the peer asked (ICE-controlling).
	Acceptor
)

func (r Role) String() string {
	if r == Initiator {
		return "initiator"
	}
	return "acceptor"
}

// State is the signaling state of a connection; the values follow
// ESteamNetworkingConnectionState where they share a meaning.
type State uint8

const (
	// StateConnecting: the initiator waits for connect OK, or the acceptor
	// for the application to accept.
	StateConnecting State = 1
	// StateFindingRoute: the crypto handshake travelled through signals;
	// ICE is looking for a route.
	StateFindingRoute State = 2
	// StateConnected: the caller confirmed a route.
	StateConnected State = 3
	// StateClosedByPeer: the peer closed through a signal.
	StateClosedByPeer State = 4
	// StateClosedLocally: this side closed or failed.
	StateClosedLocally State = 5
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateFindingRoute:
		return "finding route"
	case StateConnected:
		return "connected"
	case StateClosedByPeer:
		return "closed by peer"
	case StateClosedLocally:
		return "closed locally"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

func (s State) closed() bool { return s == StateClosedByPeer || s == StateClosedLocally }

var (
	// ErrIdentityMismatch: a signal's sender is not the connection's peer.
	ErrIdentityMismatch = errors.New("rendezvous: signal from the wrong identity")
	// ErrConnectionMismatch: a signal names a different connection id than
	// the one already established.
	ErrConnectionMismatch = errors.New("rendezvous: signal for a different connection")
	// ErrNoIdentity: a signal without a usable from_identity.
	ErrNoIdentity = errors.New("rendezvous: signal without a valid sender identity")
	// ErrUnexpected: a message this side never expects in its role.
	ErrUnexpected = errors.New("rendezvous: message unexpected in this role")
	// ErrTooManyUnacked: the reliable queue is full.
	ErrTooManyUnacked = errors.New("rendezvous: too many unacknowledged reliable messages")
	// ErrState: the call does not fit the session's state or role.
	ErrState = errors.New("rendezvous: not possible in this state")
)

// Config describes one connection's signaling.
type Config struct {
	LocalIdentity identity.Identity
	// RemoteIdentity is required for an initiator.
	RemoteIdentity identity.Identity
	// LocalConnID is this side's non-zero connection id.
	LocalConnID uint32
	// LocalVirtualPort and RemoteVirtualPort go in the connect request;
	// a negative port is left out.
	LocalVirtualPort, RemoteVirtualPort int
	// Cert and Crypt: the initiator's are sent in every connect request;
	// an acceptor gets its own at Accept.
	Cert  *pb.CertificateSigned
	Crypt *pb.CryptInfoSigned
	// LocalCert is an acceptor's CA-issued certificate, presented at
	// Accept; nil makes a self-signed one per connection.
	LocalCert *cert.Local
	// ICEDisabled leaves ice_enabled out of the signals.
	ICEDisabled bool
	// InitialRoutingWait holds the first signal (of the initiator, or the
	// acceptor's first after Accept) up to this long so it can carry
	// candidates; RoutingReady ends the wait early.
	InitialRoutingWait time.Duration
	// TimeoutInitial bounds Connecting and FindingRoute; 0 means
	// DefaultTimeoutInitial, negative disables the timeout.
	TimeoutInitial time.Duration
	// MaxUnacked bounds queued reliable messages; 0 means DefaultMaxUnacked.
	MaxUnacked int
}

// Inbound is what one received signal brought.
type Inbound struct {
	// ICE holds the reliable ICE messages delivered by this signal, in
	// order, each exactly once.
	ICE []*pb.ICERendezvous
	// ConnectOK is the acceptor's answer, set once, when the initiator
	// moved to FindingRoute. The caller validates its certificate and
	// crypt info and calls Close with the failure's reason if they fail.
	ConnectOK *pb.Rendezvous_ConnectOK
	// RepeatedRequest: the acceptor received another connect request; its
	// connect OK will be sent again.
	RepeatedRequest bool
	// Closed is set when the peer's close moved the session to
	// StateClosedByPeer.
	Closed *CloseInfo
	// PeerICEDisabled: the signal lacked ice_enabled; GNS fails ICE for the
	// connection with reason 4999.
	PeerICEDisabled bool
	// AppMessages are unreliable application messages carried in the signal.
	AppMessages []*pb.Rendezvous_ApplicationMessage
}

// CloseInfo is why a session closed.
type CloseInfo struct {
	Reason int
	Debug  string
}

type outbound struct {
	id   uint32
	msg  *pb.Rendezvous_ReliableMessage
	size int
	rto  time.Time
}

type reply uint8

const (
	replyNone reply = iota
	replyClosed
	replyNoConnection
)

// Session is the signaling state of one P2P connection. It is not safe
// for concurrent use; its owner serializes calls.
type Session struct {
	cfg   Config
	role  Role
	state State

	remoteConnID uint32
	created      time.Time
	stateSince   time.Time
	closedAt     time.Time
	end          CloseInfo

	// Reliable stream.
	unacked  []outbound
	lastSent uint32 // id of the last queued outbound message
	lastRecv uint32 // highest in-order inbound id

	// Signal scheduling.
	deadline       time.Time // a signal is wanted by then; zero: none
	lastSignal     time.Time
	sentAny        bool
	lastRequest    time.Time
	sentRequest    bool
	needConnectOK  bool
	reply          reply
	waitRouting    bool
	routingReadyBy time.Time
	peerCert       *pb.CertificateSigned
	peerCrypt      *pb.CryptInfoSigned
}

// NewInitiator starts the signaling of an outbound connection.
func NewInitiator(cfg Config, now time.Time) (*Session, error) {
	if !cfg.RemoteIdentity.IsValid() {
		return nil, fmt.Errorf("%w: initiator needs the remote identity", ErrState)
	}
	if cfg.Cert == nil || cfg.Crypt == nil {
		return nil, fmt.Errorf("%w: initiator needs its certificate and crypt info", ErrState)
	}
	s, err := newSession(cfg, Initiator, now)
	if err != nil {
		return nil, err
	}
	s.startRoutingWait(now)
	return s, nil
}

// NewAcceptor creates the session of an inbound connection from the
// peer's first connect request (see Router.Route), and processes that
// signal. The session sends nothing until Accept.
func NewAcceptor(cfg Config, req *Request, now time.Time) (*Session, Inbound, error) {
	cfg.RemoteIdentity = req.Identity
	cfg.LocalVirtualPort = req.LocalVirtualPort
	cfg.RemoteVirtualPort = req.RemoteVirtualPort
	s, err := newSession(cfg, Acceptor, now)
	if err != nil {
		return nil, Inbound{}, err
	}
	s.remoteConnID = req.ConnID
	s.peerCert = req.Cert
	s.peerCrypt = req.Crypt
	in, err := s.Receive(now, req.Signal)
	return s, in, err
}

func newSession(cfg Config, role Role, now time.Time) (*Session, error) {
	if cfg.LocalConnID == 0 {
		return nil, fmt.Errorf("%w: connection id 0", ErrState)
	}
	if !cfg.LocalIdentity.IsValid() {
		return nil, fmt.Errorf("%w: no local identity", ErrState)
	}
	if cfg.TimeoutInitial == 0 {
		cfg.TimeoutInitial = DefaultTimeoutInitial
	}
	if cfg.MaxUnacked <= 0 {
		cfg.MaxUnacked = DefaultMaxUnacked
	}
	return &Session{cfg: cfg, role: role, state: StateConnecting, created: now, stateSince: now}, nil
}

func (s *Session) startRoutingWait(now time.Time) {
	if s.cfg.InitialRoutingWait > 0 {
		s.waitRouting = true
		s.routingReadyBy = now.Add(s.cfg.InitialRoutingWait)
	}
}

// Role is the session's role.
func (s *Session) Role() Role { return s.role }

// State is the current state.
func (s *Session) State() State { return s.state }

// LocalConnID is this side's connection id.
func (s *Session) LocalConnID() uint32 { return s.cfg.LocalConnID }

// RemoteConnID is the peer's connection id, 0 until known.
func (s *Session) RemoteConnID() uint32 { return s.remoteConnID }

// RemoteIdentity is the peer's identity.
func (s *Session) RemoteIdentity() identity.Identity { return s.cfg.RemoteIdentity }

// LocalVirtualPort and RemoteVirtualPort are the connection's virtual
// ports, negative when absent.
func (s *Session) LocalVirtualPort() int  { return s.cfg.LocalVirtualPort }
func (s *Session) RemoteVirtualPort() int { return s.cfg.RemoteVirtualPort }

// PeerCrypto is the peer's certificate and crypt info as received: from
// the connect request (acceptor) or the connect OK (initiator).
func (s *Session) PeerCrypto() (*pb.CertificateSigned, *pb.CryptInfoSigned) {
	return s.peerCert, s.peerCrypt
}

// End is why the session closed; zero while open.
func (s *Session) End() CloseInfo { return s.end }

// Done reports that a closed session has finished answering signals and
// can be forgotten.
func (s *Session) Done(now time.Time) bool {
	return s.state.closed() && !now.Before(s.closedAt.Add(FinWait))
}

// Accept answers the peer's connect request with this side's certificate
// and crypt info (which lists exactly the chosen cipher). The connect OK
// goes out in the next signal; the state becomes FindingRoute.
func (s *Session) Accept(now time.Time, cert *pb.CertificateSigned, crypt *pb.CryptInfoSigned) error {
	if s.role != Acceptor || s.state != StateConnecting {
		return fmt.Errorf("%w: accept as %v in %v", ErrState, s.role, s.state)
	}
	if cert == nil || crypt == nil {
		return fmt.Errorf("%w: accept needs a certificate and crypt info", ErrState)
	}
	s.cfg.Cert, s.cfg.Crypt = cert, crypt
	s.setState(now, StateFindingRoute)
	s.startRoutingWait(now)
	s.needConnectOK = true
	s.schedule(now)
	return nil
}

// BecomeAcceptor resolves a symmetric connect in this side's favour:
// an initiator still in Connecting whose request crossed req (from the same
// peer) and for which CompareSymmetric is positive takes the acceptor's
// role for req's connection. Its own certificate and crypt info are
// dropped; the caller validates req's, then calls Accept with fresh ones
// (one cipher) and restarts ICE as the controlling agent. The reliable
// stream continues with the same ids. Re-index the session in its Router.
func (s *Session) BecomeAcceptor(now time.Time, req *Request) (Inbound, error) {
	if s.role != Initiator || s.state != StateConnecting {
		return Inbound{}, fmt.Errorf("%w: role change as %v in %v", ErrState, s.role, s.state)
	}
	if req.Identity != s.cfg.RemoteIdentity {
		return Inbound{}, fmt.Errorf("%w: request from %v, peer is %v", ErrIdentityMismatch, req.Identity, s.cfg.RemoteIdentity)
	}
	if req.ConnID == 0 {
		return Inbound{}, fmt.Errorf("%w: request without a connection id", ErrConnectionMismatch)
	}
	s.role = Acceptor
	s.remoteConnID = req.ConnID
	s.peerCert, s.peerCrypt = req.Cert, req.Crypt
	s.cfg.Cert, s.cfg.Crypt = nil, nil
	s.waitRouting = false
	s.deadline = time.Time{}
	return s.Receive(now, req.Signal)
}

// RoutingReady ends the initial wait for candidates.
func (s *Session) RoutingReady() { s.waitRouting = false }

// MarkConnected records that the caller confirmed a route.
func (s *Session) MarkConnected(now time.Time) error {
	if s.state != StateFindingRoute {
		return fmt.Errorf("%w: connected from %v", ErrState, s.state)
	}
	s.setState(now, StateConnected)
	return nil
}

// QueueICE queues one reliable ICE message (the password or a candidate).
func (s *Session) QueueICE(now time.Time, m *pb.ICERendezvous) error {
	if s.state.closed() {
		return fmt.Errorf("%w: queue on a %v session", ErrState, s.state)
	}
	if len(s.unacked) >= s.cfg.MaxUnacked {
		return fmt.Errorf("%w: %d queued", ErrTooManyUnacked, len(s.unacked))
	}
	rm := &pb.Rendezvous_ReliableMessage{Ice: m}
	size := proto.Size(rm)
	if size > maxReliableSize {
		return fmt.Errorf("rendezvous: reliable message of %d bytes exceeds %d", size, maxReliableSize)
	}
	s.lastSent++
	s.unacked = append(s.unacked, outbound{id: s.lastSent, msg: rm, size: size, rto: now})
	s.schedule(now)
	return nil
}

// Close ends the session with reason and debug text. Before Connected
// the peer is told with a connection_closed signal, unless this is an
// acceptor that never accepted (whose silence hides it from probes).
func (s *Session) Close(now time.Time, reason int, debug string) {
	if s.state.closed() {
		return
	}
	old := s.state
	s.end = CloseInfo{Reason: reason, Debug: debug}
	s.setState(now, StateClosedLocally)
	s.closedAt = now
	s.needConnectOK = false
	s.waitRouting = false
	if old == StateFindingRoute || (old == StateConnecting && s.role == Initiator) {
		s.reply = replyClosed
		s.deadline = now
	}
}

func (s *Session) setState(now time.Time, st State) {
	s.state = st
	s.stateSince = now
}

// schedule asks for a signal within SignalDelay.
func (s *Session) schedule(now time.Time) {
	d := now.Add(SignalDelay)
	if s.deadline.IsZero() || d.Before(s.deadline) {
		s.deadline = d
	}
}

// Receive processes a signal addressed to this session. An error means the
// signal was rejected and changed nothing.
func (s *Session) Receive(now time.Time, m *pb.Rendezvous) (Inbound, error) {
	var in Inbound
	from, err := identity.Parse(m.GetFromIdentity())
	if err != nil || !from.IsValid() {
		return in, ErrNoIdentity
	}
	if from != s.cfg.RemoteIdentity {
		return in, fmt.Errorf("%w: from %v, peer is %v", ErrIdentityMismatch, from, s.cfg.RemoteIdentity)
	}
	if m.ConnectOk != nil && s.role == Acceptor {
		return in, fmt.Errorf("%w: connect OK to the acceptor", ErrUnexpected)
	}
	if m.ConnectRequest != nil && s.role == Initiator {
		return in, fmt.Errorf("%w: connect request to the initiator", ErrUnexpected)
	}
	if m.ToConnectionId != nil && m.GetToConnectionId() != s.cfg.LocalConnID {
		return in, fmt.Errorf("%w: to %d, local id %d", ErrConnectionMismatch, m.GetToConnectionId(), s.cfg.LocalConnID)
	}
	fromID := m.GetFromConnectionId()
	switch {
	case s.remoteConnID != 0 && fromID != s.remoteConnID:
		return in, fmt.Errorf("%w: from %d, peer id %d", ErrConnectionMismatch, fromID, s.remoteConnID)
	case s.remoteConnID == 0 && fromID == 0:
		return in, fmt.Errorf("%w: no from_connection_id", ErrConnectionMismatch)
	case s.remoteConnID == 0:
		s.remoteConnID = fromID
	}

	in.PeerICEDisabled = !m.GetIceEnabled()

	if cc := m.ConnectionClosed; cc != nil {
		s.unacked = nil
		s.lastSent = 0
		code := cc.GetReasonCode()
		if code != ReasonNoConnection {
			s.reply = replyNoConnection
			s.deadline = now
		}
		if !s.state.closed() {
			info := CloseInfo{Reason: int(code), Debug: cc.GetDebug()}
			if code == ReasonNoConnection {
				info = CloseInfo{Reason: ReasonPeerSentNoConnection, Debug: "peer has no such connection"}
			}
			s.end = info
			s.setState(now, StateClosedByPeer)
			s.closedAt = now
			s.needConnectOK = false
			in.Closed = &info
		}
		return in, nil
	}

	if ack := m.GetAckReliableMsg(); ack > 0 {
		n := 0
		for n < len(s.unacked) && s.unacked[n].id <= ack {
			n++
		}
		s.unacked = s.unacked[n:]
	}

	if m.FirstReliableMsg != nil {
		s.schedule(now) // the ack
		first := int64(m.GetFirstReliableMsg())
		if first <= int64(s.lastRecv)+1 {
			for i := int64(s.lastRecv) + 1 - first; i < int64(len(m.ReliableMessages)); i++ {
				s.lastRecv++
				if ice := m.ReliableMessages[i].GetIce(); ice != nil {
					in.ICE = append(in.ICE, ice)
				}
			}
		}
	}

	switch s.state {
	case StateClosedLocally:
		if s.reply == replyNone {
			s.reply = replyClosed
			s.deadline = now
		}
		return in, nil
	case StateClosedByPeer:
		s.reply = replyNoConnection
		s.deadline = now
		return in, nil
	case StateConnecting:
		if ok := m.ConnectOk; ok != nil {
			s.peerCert, s.peerCrypt = ok.GetCert(), ok.GetCrypt()
			s.setState(now, StateFindingRoute)
			in.ConnectOK = ok
		}
	case StateFindingRoute, StateConnected:
		if m.ConnectRequest != nil {
			s.needConnectOK = true
			s.schedule(now)
			in.RepeatedRequest = true
		}
	}
	in.AppMessages = m.ApplicationMessages
	return in, nil
}

// Deadline is when Poll next needs to run; zero if nothing is pending.
func (s *Session) Deadline() time.Time {
	t := s.nextSignal()
	if to := s.timeout(); !to.IsZero() && (t.IsZero() || to.Before(t)) {
		t = to
	}
	if s.state.closed() && s.reply == replyNone {
		if done := s.closedAt.Add(FinWait); t.IsZero() || done.Before(t) {
			t = done
		}
	}
	return t
}

func (s *Session) timeout() time.Time {
	if s.cfg.TimeoutInitial < 0 || (s.state != StateConnecting && s.state != StateFindingRoute) {
		return time.Time{}
	}
	return s.stateSince.Add(s.cfg.TimeoutInitial)
}

// wantSignal is when a signal is wanted, ignoring pacing; zero: never.
func (s *Session) wantSignal() time.Time {
	if s.state.closed() {
		if s.reply == replyNone {
			return time.Time{}
		}
		return s.deadline
	}
	if s.state == StateConnecting && s.role == Acceptor {
		return time.Time{} // silent until accepted
	}
	t := s.deadline
	for _, o := range s.unacked {
		if t.IsZero() || o.rto.Before(t) {
			t = o.rto
		}
	}
	if s.state == StateConnecting {
		retry := s.created
		if s.sentRequest {
			retry = s.lastRequest.Add(ConnectRetryInterval)
		}
		if t.IsZero() || retry.Before(t) {
			t = retry
		}
	}
	return t
}

func (s *Session) nextSignal() time.Time {
	t := s.wantSignal()
	if t.IsZero() {
		return t
	}
	if s.sentAny {
		if min := s.lastSignal.Add(MinSignalInterval); t.Before(min) {
			t = min
		}
	}
	if s.waitRouting && !s.state.closed() && t.Before(s.routingReadyBy) {
		t = s.routingReadyBy
	}
	return t
}

// Poll applies timeouts and returns the signal to send now, or nil. The
// caller sends it (see Append); if the signaling refuses it, the caller
// closes the session with ReasonInternalError.
func (s *Session) Poll(now time.Time) *pb.Rendezvous {
	if to := s.timeout(); !to.IsZero() && !now.Before(to) {
		if s.state == StateConnecting {
			s.Close(now, ReasonTimeout, "timed out waiting for the connection to be established")
		} else {
			s.Close(now, ReasonP2PRendezvous, "timed out finding a route")
		}
	}
	t := s.nextSignal()
	if t.IsZero() || now.Before(t) {
		return nil
	}
	if s.waitRouting && !now.Before(s.routingReadyBy) {
		s.waitRouting = false
	}
	return s.compose(now)
}

func (s *Session) compose(now time.Time) *pb.Rendezvous {
	m := &pb.Rendezvous{}
	switch s.reply {
	case replyClosed:
		m.ConnectionClosed = &pb.Rendezvous_ConnectionClosed{
			ReasonCode: proto.Uint32(uint32(s.end.Reason)),
			Debug:      proto.String(s.end.Debug),
		}
	case replyNoConnection:
		m.ConnectionClosed = &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(ReasonNoConnection)}
	}
	s.reply = replyNone
	if m.ConnectionClosed == nil {
		if s.needConnectOK {
			m.ConnectOk = &pb.Rendezvous_ConnectOK{Cert: s.cfg.Cert, Crypt: s.cfg.Crypt}
			s.needConnectOK = false
		}
		if s.state == StateConnecting && s.role == Initiator {
			req := &pb.Rendezvous_ConnectRequest{Cert: s.cfg.Cert, Crypt: s.cfg.Crypt}
			if p := s.cfg.LocalVirtualPort; p >= 0 {
				req.FromVirtualPort = proto.Uint32(uint32(p))
			}
			if p := s.cfg.RemoteVirtualPort; p >= 0 {
				req.ToVirtualPort = proto.Uint32(uint32(p))
			}
			m.ConnectRequest = req
			s.lastRequest = now
			s.sentRequest = true
		}
	}
	if m.ConnectRequest == nil && s.remoteConnID != 0 {
		m.ToConnectionId = proto.Uint32(s.remoteConnID)
	}
	if s.cfg.RemoteIdentity.IsValid() {
		m.ToIdentity = proto.String(s.cfg.RemoteIdentity.String())
	}
	m.FromIdentity = proto.String(s.cfg.LocalIdentity.String())
	m.FromConnectionId = proto.Uint32(s.cfg.LocalConnID)
	if !s.cfg.ICEDisabled {
		m.IceEnabled = proto.Bool(true)
	}
	if m.ConnectionClosed != nil {
		s.unacked = nil // never sent again once closed
	} else {
		handshake := m.ConnectRequest != nil || m.ConnectOk != nil
		total := 0
		for i := range s.unacked {
			o := &s.unacked[i]
			if m.FirstReliableMsg == nil {
				// Start at the oldest message due, or at the oldest of all
				// in a handshake signal; later ones ride along.
				if o.rto.After(now) && !handshake {
					continue
				}
				m.FirstReliableMsg = proto.Uint32(o.id)
			} else if total+o.size > maxReliableBytesPerSignal {
				break // the rest stay due and go in the next signal
			}
			m.ReliableMessages = append(m.ReliableMessages, o.msg)
			total += o.size
			o.rto = now.Add(ReliableRTO)
		}
		m.AckReliableMsg = proto.Uint32(s.lastRecv)
	}
	s.deadline = time.Time{}
	s.lastSignal = now
	s.sentAny = true
	return m
}
