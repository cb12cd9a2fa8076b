package rendezvous

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

// lossyExchange is an in-memory signaling service that loses, duplicates
// and reorders signals.
type lossyExchange struct {
	rng      *rand.Rand
	loss     float64
	dup      float64
	inFlight []flight
	sent     int
}

type flight struct {
	at   time.Time
	to   int
	blob []byte
}

func (x *lossyExchange) send(now time.Time, to int, blob []byte) {
	x.sent++
	copies := 1
	if x.rng.Float64() < x.dup {
		copies = 2
	}
	for range copies {
		if x.rng.Float64() < x.loss {
			continue
		}
		delay := time.Duration(5+x.rng.IntN(150)) * time.Millisecond
		x.inFlight = append(x.inFlight, flight{now.Add(delay), to, blob})
	}
}

func (x *lossyExchange) next() time.Time {
	var t time.Time
	for _, f := range x.inFlight {
		if t.IsZero() || f.at.Before(t) {
			t = f.at
		}
	}
	return t
}

func (x *lossyExchange) due(now time.Time) []flight {
	sort.SliceStable(x.inFlight, func(i, j int) bool { return x.inFlight[i].at.Before(x.inFlight[j].at) })
	n := 0
	for n < len(x.inFlight) && !x.inFlight[n].at.After(now) {
		n++
	}
	d := slices.Clone(x.inFlight[:n])
	x.inFlight = x.inFlight[n:]
	return d
}

type lossyResult struct {
	initiatorReady, acceptorReady time.Duration // to FindingRoute
	allDelivered                  time.Duration
	signals                       int
}

// runLossy connects a pair over the exchange; each side trickles an ICE
// password and candidates, and must receive the other's exactly once, in
// order, and derive matching keys.
func runLossy(t *testing.T, seed uint64, loss, dup float64) lossyResult {
	return runLossyHostile(t, seed, loss, dup, false)
}

// impostors returns signals an attacker could inject next to blob:
// garbage, and copies from another identity or another connection id.
func impostors(t *testing.T, rng *rand.Rand, blob []byte) [][]byte {
	junk := make([]byte, rng.IntN(64))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	out := [][]byte{junk}
	m := mustParse(t, blob)
	other := proto.Clone(m).(*pb.Rendezvous)
	other.FromIdentity = proto.String("str:mallory")
	out = append(out, encode(t, other))
	if m.ToConnectionId != nil {
		other = proto.Clone(m).(*pb.Rendezvous)
		other.FromConnectionId = proto.Uint32(m.GetFromConnectionId() + 1)
		other.ConnectionClosed = &pb.Rendezvous_ConnectionClosed{ReasonCode: proto.Uint32(1000)}
		out = append(out, encode(t, other))
	}
	return out
}

func runLossyHostile(t *testing.T, seed uint64, loss, dup float64, hostile bool) lossyResult {
	t.Helper()
	x := &lossyExchange{rng: rand.New(rand.NewPCG(seed, 99)), loss: loss, dup: dup}
	p := newPair(t, Config{LocalVirtualPort: 0, RemoteVirtualPort: 0, InitialRoutingWait: 10 * ms})
	var sent [2][]string // what initiator (0) and acceptor (1) queued
	var got [2][]string
	var res lossyResult
	var keys [2]bool
	var peerOfAlice *cert.Peer

	queue := func(side int, s *Session, now time.Time, m *pb.ICERendezvous) {
		if err := s.QueueICE(now, m); err != nil {
			t.Fatal(err)
		}
		sent[side] = append(sent[side], iceText(m))
	}
	queue(0, p.initiator, t0, authMsg("alice-pw"))
	// Candidates trickle in at fixed times after each side starts.
	trickle := []time.Duration{5 * ms, 40 * ms, 300 * ms, 1200 * ms}
	var acceptedAt time.Time

	now := t0
	for now.Before(t0.Add(30 * time.Second)) {
		for _, f := range x.due(now) {
			if f.to == 1 {
				_, in, req, err := p.bobRouter.Route(now, f.blob)
				if req != nil {
					in = p.acceptRequest(t, now, req, Config{InitialRoutingWait: 10 * ms})
					acceptedAt = now
					queue(1, p.acceptor, now, authMsg("bob-pw"))
				} else if err != nil {
					t.Fatalf("acceptor: %v", err)
				}
				for _, m := range in.ICE {
					got[1] = append(got[1], iceText(m))
				}
			} else {
				in, err := p.initiator.Receive(now, mustParse(t, f.blob))
				if err != nil {
					t.Fatalf("initiator: %v", err)
				}
				for _, m := range in.ICE {
					got[0] = append(got[0], iceText(m))
				}
				if in.ConnectOK != nil {
					res.initiatorReady = now.Sub(t0)
					c, cr := p.initiator.PeerCrypto()
					if peerOfAlice, err = cert.ValidatePeer(c, cr, peerPolicy(p.bob)); err != nil {
						t.Fatal(err)
					}
					keys[0] = true
				}
			}
			// Impostors arrive after the genuine signal: before the initiator
			// has heard from the acceptor at all, the first signal naming its
			// connection id from the right identity is, as in GNS, taken as
			// the acceptor's.
			if hostile {
				for _, b := range impostors(t, x.rng, f.blob) {
					if f.to == 1 {
						// A copy of a connect request from another identity is
						// a request of its own (for the engine to refuse), never
						// a signal for the genuine connection.
						s, _, req, err := p.bobRouter.Route(now, b)
						if s != nil && err == nil || req != nil && req.Identity == p.alice {
							t.Fatalf("seed %d: impostor signal accepted", seed)
						}
					} else if m, err := Parse(b); err == nil {
						if _, err := p.initiator.Receive(now, m); err == nil {
							t.Fatalf("seed %d: impostor signal accepted by the initiator", seed)
						}
					}
				}
			}
		}
		for i, d := range trickle {
			if now.Equal(t0.Add(d)) {
				queue(0, p.initiator, now, candidateMsg(fmt.Sprintf("candidate:%d 0 udp 1 10.0.0.1 %d typ host", i, 1000+i)))
			}
			if !acceptedAt.IsZero() && now.Equal(acceptedAt.Add(d)) {
				queue(1, p.acceptor, now, candidateMsg(fmt.Sprintf("candidate:%d 0 udp 1 10.0.0.2 %d typ host", i, 2000+i)))
			}
		}
		if m := p.initiator.Poll(now); m != nil {
			x.send(now, 1, encode(t, m))
		}
		if p.acceptor != nil {
			if m := p.acceptor.Poll(now); m != nil {
				x.send(now, 0, encode(t, m))
			}
		}
		if p.initiator.State() == StateClosedLocally || (p.acceptor != nil && p.acceptor.State() == StateClosedLocally) {
			t.Fatalf("seed %d: a side closed: %+v", seed, p.initiator.End())
		}
		if keys[0] && len(got[0]) == len(sent[1])+0 && len(sent[1]) == 1+len(trickle) &&
			len(got[1]) == len(sent[0]) && len(sent[0]) == 1+len(trickle) &&
			len(p.initiator.unacked) == 0 && len(p.acceptor.unacked) == 0 {
			res.allDelivered = now.Sub(t0)
			break
		}
		// Jump to the next event.
		next := x.next()
		for _, d := range []time.Time{p.initiator.Deadline(), acceptorDeadline(p)} {
			if !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		for _, d := range trickle {
			for _, base := range []time.Time{t0, acceptedAt} {
				if tt := base.Add(d); !base.IsZero() && tt.After(now) && (next.IsZero() || tt.Before(next)) {
					next = tt
				}
			}
		}
		if !next.After(now) {
			next = now.Add(ms)
		}
		now = next
	}
	if res.allDelivered == 0 {
		t.Fatalf("seed %d: not done after 30 s: initiator %v got %v; acceptor got %v", seed, p.initiator.State(), got[0], got[1])
	}
	if !slices.Equal(got[0], sent[1]) || !slices.Equal(got[1], sent[0]) {
		t.Fatalf("seed %d: delivery differs:\n%v\n%v\n%v\n%v", seed, got[0], sent[1], got[1], sent[0])
	}
	res.acceptorReady = acceptedAt.Sub(t0)
	res.signals = x.sent
	ac, acr := p.acceptor.PeerCrypto()
	peerOfBob, err := cert.ValidatePeer(ac, acr, peerPolicy(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	ka, err := DeriveKeys(Initiator, p.aliceCrypto, peerOfAlice, 0x1111, p.initiator.RemoteConnID())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := DeriveKeys(Acceptor, p.acceptorCrypto, peerOfBob, 0x2222, p.acceptor.RemoteConnID())
	if err != nil || ka.SendKey != kb.RecvKey || ka.RecvKey != kb.SendKey {
		t.Fatalf("seed %d: keys differ (%v)", seed, err)
	}
	return res
}

func acceptorDeadline(p *pair) time.Time {
	if p.acceptor == nil {
		return time.Time{}
	}
	return p.acceptor.Deadline()
}

// TestLossySignaling: with 30 % of signals lost, half of them duplicated and
// all reordered, every run connects well inside the 10 s initial timeout
// and both sides get the other's ICE messages exactly once, in order.
func TestLossySignaling(t *testing.T) {
	var ready, done []time.Duration
	for seed := range uint64(200) {
		r := runLossy(t, seed, 0.30, 0.50)
		ready = append(ready, r.initiatorReady)
		done = append(done, r.allDelivered)
	}
	slices.Sort(ready)
	slices.Sort(done)
	t.Logf("to connect OK: median %v, max %v; all ICE delivered: median %v, max %v",
		ready[len(ready)/2], ready[len(ready)-1], done[len(done)/2], done[len(done)-1])
	if ready[len(ready)-1] >= DefaultTimeoutInitial {
		t.Fatalf("slowest handshake took %v", ready[len(ready)-1])
	}
}

func TestLosslessSignalingIsQuick(t *testing.T) {
	r := runLossy(t, 1, 0, 0)
	// One connect request, one connect OK: at most two trips of at most
	// 155 ms each plus the 10 ms candidate wait.
	if r.initiatorReady > 330*ms {
		t.Fatalf("connect OK after %v without loss", r.initiatorReady)
	}
	t.Logf("lossless: connect OK at %v, all delivered at %v, %d signals", r.initiatorReady, r.allDelivered, r.signals)
}

// TestLossySignalingUnderAttack: the lossy run with garbage and impostor
// signals injected next to every genuine one; none is accepted and the
// handshake and deliveries are unaffected.
func TestLossySignalingUnderAttack(t *testing.T) {
	for seed := range uint64(50) {
		runLossyHostile(t, seed, 0.30, 0.50, true)
	}
}
