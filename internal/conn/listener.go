package conn

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// Challenge timing: one tick is 2^20 µs (about 1.05 s) and a challenge is
// good for 3 ticks, roughly 3.1 to 4.2 s.
const (
	challengeTickShift = 20
	challengeMaxAge    = 3
)

// Listener is the stateless front of a listen socket. It holds only a secret
// key: challenges are a MAC of the peer's address and the time, so nothing is
// remembered about a peer until it returns a valid challenge.
type Listener struct {
	k0, k1 uint64
	Stats  ListenerStats
}

// ListenerStats counts what the listener did with datagrams.
type ListenerStats struct {
	ChallengesSent   uint64
	ConnectRequests  uint64 // requests with a valid challenge
	BadChallenges    uint64
	Dropped          uint64 // malformed or not for a listener
	NoConnectionSent uint64
}

// NewListener makes a listener with a fresh random secret from r
// (crypto/rand if nil).
func NewListener(r io.Reader) (*Listener, error) {
	if r == nil {
		r = rand.Reader
	}
	var key [16]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return nil, err
	}
	return &Listener{k0: binary.LittleEndian.Uint64(key[:8]), k1: binary.LittleEndian.Uint64(key[8:])}, nil
}

func challengeTick(now time.Time) uint16 {
	return uint16(uint64(now.UnixMicro()) >> challengeTickShift)
}

// challenge is the MAC of the tick and the source address, with the tick in
// the clear in the low 16 bits.
func (l *Listener) challenge(tick uint16, from netip.AddrPort) uint64 {
	var in [20]byte
	binary.LittleEndian.PutUint16(in[0:], tick)
	binary.LittleEndian.PutUint16(in[2:], from.Port())
	ip := from.Addr().As16() // IPv4 comes out IPv4-mapped
	copy(in[4:], ip[:])
	h := sipHash24(l.k0, l.k1, in[:])
	return h&^0xffff | uint64(tick)
}

func (l *Listener) checkChallenge(now time.Time, from netip.AddrPort, c uint64) bool {
	then := uint16(c)
	if uint16(challengeTick(now)-then) > challengeMaxAge {
		return false
	}
	return l.challenge(then, from) == c
}

// Receive handles a datagram from an address that has no connection. It
// appends any reply to reply and returns it; the reply is never larger than
// b. When b is a ConnectRequest with a valid challenge and a non-zero client
// id, it is returned for the caller to vet further (identity, duplicates)
// and to turn into a connection with NewServer.
func (l *Listener) Receive(now time.Time, from netip.AddrPort, b []byte, reply []byte) ([]byte, *pb.ConnectRequest) {
	kind, err := wire.Classify(b)
	if err != nil || kind != wire.KindControl {
		l.Stats.Dropped++
		return reply, nil
	}
	id, body, err := wire.ParseControl(b)
	if err != nil {
		l.Stats.Dropped++
		return reply, nil
	}
	switch id {
	case wire.MsgChallengeRequest:
		var m pb.ChallengeRequest
		if proto.Unmarshal(body, &m) != nil || m.GetConnectionId() == 0 {
			l.Stats.Dropped++
			return reply, nil
		}
		r := &pb.ChallengeReply{
			ConnectionId:    m.ConnectionId,
			Challenge:       proto.Uint64(l.challenge(challengeTick(now), from)),
			YourTimestamp:   m.MyTimestamp,
			ProtocolVersion: proto.Uint32(cert.ProtocolVersion),
		}
		out, err := wire.AppendChallengeReply(reply, r)
		if err != nil || len(out)-len(reply) > len(b) {
			l.Stats.Dropped++
			return reply, nil
		}
		l.Stats.ChallengesSent++
		return out, nil
	case wire.MsgConnectRequest:
		var m pb.ConnectRequest
		if proto.Unmarshal(body, &m) != nil {
			l.Stats.Dropped++
			return reply, nil
		}
		if !l.checkChallenge(now, from, m.GetChallenge()) {
			l.Stats.BadChallenges++
			return reply, nil
		}
		if m.GetClientConnectionId() == 0 {
			l.Stats.Dropped++
			return reply, nil
		}
		l.Stats.ConnectRequests++
		return reply, &m
	case wire.MsgConnectionClosed:
		// Padded, so the reply is much smaller: answer so the peer stops.
		var m pb.ConnectionClosed
		if proto.Unmarshal(body, &m) != nil {
			l.Stats.Dropped++
			return reply, nil
		}
		nc := &pb.NoConnection{}
		if m.GetFromConnectionId() != 0 {
			nc.ToConnectionId = m.FromConnectionId
		}
		if m.GetToConnectionId() != 0 {
			nc.FromConnectionId = m.ToConnectionId
		}
		out, err := wire.AppendNoConnection(reply, nc)
		if err != nil || len(out)-len(reply) > len(b) {
			return reply, nil
		}
		l.Stats.NoConnectionSent++
		return out, nil
	}
	l.Stats.Dropped++
	return reply, nil
}

// DuplicateReply is the answer to a ConnectRequest whose (identity, client
// id) already has a connection on the listen socket from another address: a
// padded ConnectionClosed with Misc_Generic.
func DuplicateReply(dst []byte, clientID uint32) []byte {
	out, err := wire.AppendConnectionClosed(dst, &pb.ConnectionClosed{
		ToConnectionId: proto.Uint32(clientID),
		ReasonCode:     proto.Uint32(ReasonMiscGeneric),
		Debug:          proto.String("Duplicate connection"),
	})
	if err != nil {
		return dst
	}
	return out
}
