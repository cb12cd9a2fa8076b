package rendezvous

import (
	"errors"
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/p2p/signaling"
)

var (
	// ErrIgnored: a new connection was dropped silently (the context
	// returned no signaling, or the engine declined without a reason).
	ErrIgnored = errors.New("rendezvous: connect request ignored")
	// ErrSignalRefused: SendSignal returned false; the session is closed
	// with ReasonInternalError.
	ErrSignalRefused = errors.New("rendezvous: signaling refused the signal")
)

// Refusal is returned by the engine's NewInbound to have a rejection
// sent to the initiator with that end reason.
type Refusal struct {
	Reason int
	Debug  string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("rendezvous: connect request refused (%d): %s", r.Reason, r.Debug)
}

// NewInbound is the engine's part of a new inbound connection: it checks
// the listen socket for req.LocalVirtualPort and the peer's certificate
// and crypt info, and allocates the connection's handle and local id
// (filled into cfg; cfg.LocalIdentity is preset). A *Refusal error is
// answered with a rejection; any other error drops the request silently.
type NewInbound func(now time.Time, req *Request, cfg *Config) (handle uint32, err error)

// Receiver implements ReceivedP2PCustomSignal for one local identity.
// It is not safe for concurrent use.
type Receiver struct {
	Router *Router
	Local  identity.Identity
	// Config is the template of new inbound sessions.
	Config Config
	// NewInbound creates inbound connections; required.
	NewInbound NewInbound
	// Abandon undoes NewInbound for a connection OnConnectRequest did not
	// take. If the application closed the connection meanwhile it returns
	// a Refusal with the close's reason, and a rejection is sent.
	Abandon func(handle uint32) *Refusal
	// RejectionConnID is the from_connection_id put in rejections (GNS
	// initiators ignore a rejection without one); 0 leaves it out.
	RejectionConnID func() uint32
}

// Delivery is the outcome of one received signal.
type Delivery struct {
	Session *Session
	Inbound Inbound
	// New is set when the signal created the session; Signaling and
	// Handle then come from OnConnectRequest and NewInbound.
	New       bool
	Handle    uint32
	Signaling signaling.ConnectionSignaling
}

// Receive handles one received blob the way GNS's ReceivedP2PCustomSignal
// does: a signal for an existing connection goes to its session; a
// connect request for none is offered to the engine and to
// ctx.OnConnectRequest. ErrUnknownConnection and ErrIgnored are the
// silent drops; other errors say what was wrong with the signal.
func (r *Receiver) Receive(now time.Time, blob []byte, ctx signaling.RecvContext) (Delivery, error) {
	s, in, req, err := r.Router.Route(now, blob)
	if err != nil || req == nil {
		return Delivery{Session: s, Inbound: in}, err
	}
	cfg := r.Config
	cfg.LocalIdentity = r.Local
	handle, err := r.NewInbound(now, req, &cfg)
	if err != nil {
		var ref *Refusal
		if errors.As(err, &ref) {
			r.reject(req, ref, ctx)
		}
		return Delivery{}, err
	}
	sig := ctx.OnConnectRequest(handle, req.Identity.String(), req.LocalVirtualPort)
	if sig == nil {
		if r.Abandon != nil {
			if ref := r.Abandon(handle); ref != nil {
				r.reject(req, ref, ctx)
				return Delivery{}, ref
			}
		}
		return Delivery{}, ErrIgnored
	}
	s, in, err = NewAcceptor(cfg, req, now)
	if err == nil {
		err = r.Router.Add(s)
	}
	if err != nil {
		sig.Release()
		if r.Abandon != nil {
			r.Abandon(handle)
		}
		return Delivery{}, err
	}
	return Delivery{Session: s, Inbound: in, New: true, Handle: handle, Signaling: sig}, nil
}

func (r *Receiver) reject(req *Request, ref *Refusal, ctx signaling.RecvContext) {
	var from uint32
	if r.RejectionConnID != nil {
		from = r.RejectionConnID()
	}
	blob, err := Append(nil, Rejection(r.Local, from, req, ref.Reason, ref.Debug))
	if err == nil {
		ctx.SendRejectionSignal(req.Identity.String(), blob)
	}
}

// Flush sends the session's due signal, if any, through sig. A refused
// signal closes the session with ReasonInternalError, as GNS does.
func Flush(now time.Time, s *Session, sig signaling.ConnectionSignaling, h signaling.Header) error {
	m := s.Poll(now)
	if m == nil {
		return nil
	}
	blob, err := Append(nil, m)
	if err != nil {
		s.Close(now, ReasonInternalError, err.Error())
		return err
	}
	if !sig.SendSignal(h, blob) {
		s.Close(now, ReasonInternalError, "signaling refused a signal")
		return ErrSignalRefused
	}
	return nil
}
