package reliability

import (
	"container/heap"
	"encoding/binary"
	"flag"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
)

// simRate is the simulated send rate: 1 MiB/s, so that 50 ms of jitter
// reorders tens of packets, not thousands.
const simRate = 1 << 20

var fullSim = flag.Bool("snp.full", false, "run the full 10,000-message lossy-channel test")

// fixedRate is a stand-in congestion controller: a token bucket at a fixed
// rate with one packet of burst.
type fixedRate struct {
	rate   float64 // bytes per second
	tokens float64
	last   time.Time
	acked  int
	lost   int
}

func (f *fixedRate) refill(now time.Time) {
	if !f.last.IsZero() {
		f.tokens = math.Min(1248, f.tokens+now.Sub(f.last).Seconds()*f.rate)
	}
	f.last = now
}
func (f *fixedRate) OnPacketSent(now time.Time, n int)         { f.refill(now); f.tokens -= float64(n) }
func (f *fixedRate) OnAck(_ time.Time, n int, _ time.Duration) { f.acked += n }
func (f *fixedRate) OnLoss(_ time.Time, n int)                 { f.lost += n }
func (f *fixedRate) Rate() int                                 { return int(f.rate) }
func (f *fixedRate) wait(now time.Time) time.Duration {
	f.refill(now)
	if f.tokens >= 0 {
		return 0
	}
	return time.Duration(-f.tokens / f.rate * float64(time.Second))
}

// channel faults.
type faults struct {
	loss, dup, reorder float64
	latency, jitter    time.Duration
}

type inFlight struct {
	at   time.Time
	seq  int // tie-break, keeps the heap deterministic
	to   int
	num  int64
	data []byte
}

type flightHeap []inFlight

func (h flightHeap) Len() int { return len(h) }
func (h flightHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h flightHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *flightHeap) Push(x any)   { *h = append(*h, x.(inFlight)) }
func (h *flightHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// peer is one end of the simulated connection, with what its connection
// layer would add: packet numbering, a duplicate filter and pacing.
type peer struct {
	s       *Session
	rate    *fixedRate
	nextPkt int64
	seen    map[int64]bool
}

// sim runs two sessions over a faulty in-memory channel under simulated
// time.
type sim struct {
	t      *testing.T
	rng    *rand.Rand
	f      faults
	now    time.Time
	peers  [2]*peer
	flight flightHeap
	seq    int
	sent   int // datagrams put on the channel
	pkts   [2]int
	bytes  [2]int
}

func newSim(t *testing.T, seed uint64, f faults, cfg Config) *sim {
	sm := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), f: f, now: time.Unix(1000, 0)}
	for i := range sm.peers {
		r := &fixedRate{rate: simRate, tokens: 1248}
		c := cfg
		c.Rate = r
		sm.peers[i] = &peer{s: New(c), rate: r, nextPkt: 2, seen: map[int64]bool{}}
	}
	return sm
}

// transmit lets side i send whatever is due.
func (sm *sim) transmit(i int) {
	p := sm.peers[i]
	for range 128 {
		allow := p.rate.wait(sm.now) == 0
		buf, ok := p.s.AppendPacket(bufpool.Get(1300)[:0], sm.now, p.nextPkt, 1232, allow)
		if !ok {
			bufpool.Put(buf)
			return
		}
		if len(buf) > 1232 {
			sm.t.Fatalf("packet of %d bytes", len(buf))
		}
		sm.bytes[i] += len(buf)
		sm.pkts[i]++
		sm.put(1-i, p.nextPkt, buf)
		p.nextPkt++
	}
}

func (sm *sim) put(to int, num int64, data []byte) {
	sm.sent++
	if sm.rng.Float64() < sm.f.loss {
		bufpool.Put(data)
		return
	}
	copies := 1
	if sm.rng.Float64() < sm.f.dup {
		copies = 2
	}
	for c := range copies {
		d := sm.f.latency
		if sm.f.jitter > 0 {
			d += time.Duration(sm.rng.Int64N(int64(sm.f.jitter)))
		}
		if sm.rng.Float64() < sm.f.reorder {
			d += time.Duration(sm.rng.Int64N(int64(30 * time.Millisecond)))
		}
		b := data
		if c > 0 {
			b = append(bufpool.Get(len(data))[:0], data...)
		}
		sm.seq++
		heap.Push(&sm.flight, inFlight{at: sm.now.Add(d), seq: sm.seq, to: to, num: num, data: b})
	}
}

// step advances to the next event and processes it.
func (sm *sim) step(deliver [2]func(Message) bool) {
	next := sm.now.Add(200 * time.Millisecond)
	if len(sm.flight) > 0 && sm.flight[0].at.Before(next) {
		next = sm.flight[0].at
	}
	for _, p := range sm.peers {
		if d := p.s.NextDeadline(); !d.IsZero() {
			if w := p.rate.wait(sm.now); w > 0 && d.Before(sm.now.Add(w)) {
				d = sm.now.Add(w)
			}
			if d.Before(next) {
				next = d
			}
		}
	}
	// Always move forward a little, so a deadline the rate holds back
	// cannot spin the loop.
	sm.now = maxTime(next, sm.now.Add(20*time.Microsecond))
	for len(sm.flight) > 0 && !sm.flight[0].at.After(sm.now) {
		pk := heap.Pop(&sm.flight).(inFlight)
		p := sm.peers[pk.to]
		if !p.seen[pk.num] { // the connection's replay window
			p.seen[pk.num] = true
			if err := p.s.Receive(sm.now, pk.num, pk.data, deliver[pk.to]); err != nil {
				sm.t.Fatalf("side %d packet %d: %v", pk.to, pk.num, err)
			}
		}
		bufpool.Put(pk.data)
	}
	sm.transmit(0)
	sm.transmit(1)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fillPayload writes a payload that identifies itself: id, then bytes
// derived from it.
func fillPayload(b []byte, id uint64) {
	var tag [8]byte
	binary.LittleEndian.PutUint64(tag[:], id)
	for i := range b {
		if i < 8 {
			b[i] = tag[i]
		} else {
			b[i] = byte(id*131 + uint64(i)*7)
		}
	}
}

func checkPayload(b []byte, id uint64) bool {
	for i := range b {
		want := byte(id*131 + uint64(i)*7)
		if i < 8 {
			var tag [8]byte
			binary.LittleEndian.PutUint64(tag[:], id)
			want = tag[i]
		}
		if b[i] != want {
			return false
		}
	}
	return true
}

// runLossy sends n reliable messages (sizes log-uniform in 1 B .. 512 KiB)
// with unreliable ones mixed in, from side 0 to side 1, and checks that
// every reliable one arrives once, intact and in order, and every
// unreliable one at most once and intact.
func runLossy(t *testing.T, n int, seed uint64) {
	f := faults{loss: 0.20, dup: 0.10, reorder: 0.10, latency: 10 * time.Millisecond, jitter: 50 * time.Millisecond}
	runLossyFaults(t, n, seed, f)
}

func runLossyFaults(t *testing.T, n int, seed uint64, f faults) {
	sm := newSim(t, seed, f, Config{SendBufferSize: 4 << 20})
	sizes := make([]int, n)
	total := 0
	for i := range sizes {
		sizes[i] = int(math.Exp(sm.rng.Float64() * math.Log(512*1024)))
		total += sizes[i]
	}
	type unrel struct{ size int }
	unrelSent := map[uint64]unrel{}
	unrelGot := map[uint64]bool{}
	nextRecv := 0
	var lastNum int64
	deliver := [2]func(Message) bool{
		func(m Message) bool { bufpool.Put(m.Data); return true },
		func(m Message) bool {
			defer bufpool.Put(m.Data)
			if !m.Reliable {
				id := binary.LittleEndian.Uint64(m.Data)
				u, ok := unrelSent[id]
				if !ok || unrelGot[id] || len(m.Data) != u.size || !checkPayload(m.Data, id) {
					t.Fatalf("unreliable message %d: bad, duplicate or corrupt (%d bytes)", id, len(m.Data))
				}
				unrelGot[id] = true
				return true
			}
			if nextRecv >= n || len(m.Data) != sizes[nextRecv] || !checkPayload(m.Data, uint64(nextRecv)) {
				t.Fatalf("reliable message %d (num %d): wrong size %d or content", nextRecv, m.Num, len(m.Data))
			}
			if m.Num <= lastNum {
				t.Fatalf("message number %d after %d", m.Num, lastNum)
			}
			lastNum = m.Num
			nextRecv++
			return true
		},
	}
	scratch := make([]byte, 512*1024)
	sendNext, unrelID := 0, uint64(1<<40)
	start := sm.now
	// Generous: ten times what the data needs at the simulated rate.
	limit := time.Minute + 10*time.Duration(float64(total)/simRate*float64(time.Second))
	for nextRecv < n {
		s := sm.peers[0].s
		for sendNext < n && s.PendingReliable() < 1<<20 {
			b := scratch[:max(sizes[sendNext], 8)][:sizes[sendNext]]
			fillPayload(b, uint64(sendNext))
			if sizes[sendNext] < 8 { // too short for a tag: content is still checked
				fillPayload(b, uint64(sendNext))
			}
			if _, err := s.Send(sm.now, 0, b, SendReliable); err != nil {
				break
			}
			sendNext++
			if sendNext%7 == 0 {
				size := 8 + sm.rng.IntN(3000)
				ub := scratch[:size]
				fillPayload(ub, unrelID)
				if _, err := s.Send(sm.now, 0, ub, SendUnreliable); err == nil {
					unrelSent[unrelID] = unrel{size}
				}
				unrelID++
			}
		}
		sm.step(deliver)
		if sm.now.Sub(start) > limit {
			t.Fatalf("stuck: %d of %d delivered after %v of simulated time", nextRecv, n, limit)
		}
	}
	t.Logf("datagrams sent by each side %v, bytes %v", sm.pkts, sm.bytes)
	t.Logf("%d reliable messages (%d MB) in %v simulated, %d datagrams; unreliable %d/%d delivered; ping %v",
		n, total>>20, sm.now.Sub(start).Round(time.Millisecond), sm.sent, len(unrelGot), len(unrelSent), sm.peers[0].s.ping)
}

func TestLossyChannel(t *testing.T) {
	n := 1000
	if *fullSim {
		n = 10000
	}
	if testing.Short() {
		n = 200
	}
	runLossy(t, n, 1)
}
