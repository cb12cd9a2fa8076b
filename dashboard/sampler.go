package dashboard

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mistnet/mist"
)

// row is one connection as the page's table shows it. Unknown figures are
// -1.
type row struct {
	ID          uint32  `json:"id"`
	State       string  `json:"state"`
	Identity    string  `json:"identity"`
	Addr        string  `json:"addr"`
	Route       string  `json:"route"`
	Name        string  `json:"name,omitempty"`
	Ping        int     `json:"ping"`
	QualityL    float32 `json:"ql"`
	QualityR    float32 `json:"qr"`
	InBps       float64 `json:"inBps"`
	OutBps      float64 `json:"outBps"`
	InPps       float64 `json:"inPps"`
	OutPps      float64 `json:"outPps"`
	SendRate    int     `json:"sendRate"`
	PendRel     int     `json:"pendRel"`
	PendUnrel   int     `json:"pendUnrel"`
	Unacked     int     `json:"unacked"`
	QueueTimeMs float64 `json:"queueMs"`
	RecvQueue   int     `json:"recvQueue"`
	Lanes       int     `json:"lanes"`
	Retrans     uint64  `json:"retrans"`
	Dropped     uint64  `json:"dropped"`
}

// point is one sample of a connection's charts. Unknown values are -1.
type point struct {
	T      int64   `json:"t"` // Unix milliseconds
	Ping   int     `json:"ping"`
	InBps  float64 `json:"in"`
	OutBps float64 `json:"out"`
	Loss   float64 `json:"loss"` // percent of the peer's packets not arriving in order
}

// tracked is what the sampler remembers of a connection.
type tracked struct {
	at      time.Time
	counter mist.ConnectionCounters
	history []point // ring of at most historyLen, oldest at start
	start   int
}

func (t *tracked) add(p point, limit int) {
	if len(t.history) < limit {
		t.history = append(t.history, p)
		return
	}
	t.history[t.start] = p
	t.start = (t.start + 1) % limit
}

func (t *tracked) points() []point {
	out := make([]point, 0, len(t.history))
	out = append(out, t.history[t.start:]...)
	return append(out, t.history[:t.start]...)
}

// frame is what one server-sent event carries.
type frame struct {
	T        int64            `json:"t"`
	Identity string           `json:"identity"`
	Total    int              `json:"total"` // connections, also those not shown
	Rows     []row            `json:"rows"`
	Points   map[uint32]point `json:"points,omitempty"`
	// History, in the first frame of a stream only, holds every
	// connection's earlier points.
	History map[uint32][]point `json:"history,omitempty"`
	Counts  map[string]int     `json:"counts"`
}

// sampler reads the instance at a fixed interval while anyone subscribes.
type sampler struct {
	s          *mist.Sockets
	interval   time.Duration
	historyLen int
	maxRows    int
	identity   string

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	stop    chan struct{} // closes the running loop; nil when none runs
	closed  bool
	conns   map[mist.Conn]*tracked
	last    *frame
	handles []mist.Conn
}

func newSampler(s *mist.Sockets, interval time.Duration, historyLen, maxRows int) *sampler {
	id := ""
	if ident, ok := s.Identity(); ok {
		id = ident.String()
	}
	return &sampler{s: s, interval: interval, historyLen: historyLen, maxRows: maxRows, identity: id,
		subs: make(map[chan []byte]struct{}), conns: make(map[mist.Conn]*tracked)}
}

// subscribe registers a stream. It returns the first frame (with history)
// and the channel later frames arrive on, or why it cannot.
func (sm *sampler) subscribe(maxSubs int) (first []byte, ch chan []byte, err error) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.closed {
		return nil, nil, errClosed
	}
	if len(sm.subs) >= maxSubs {
		return nil, nil, errTooManyViewers
	}
	if sm.last == nil || time.Since(time.UnixMilli(sm.last.T)) > sm.interval {
		sm.sampleLocked(time.Now())
	}
	f := *sm.last
	f.Points = nil
	f.History = make(map[uint32][]point, len(sm.conns))
	for h, t := range sm.conns {
		f.History[uint32(h)] = t.points()
	}
	first, _ = json.Marshal(&f)
	ch = make(chan []byte, 4)
	sm.subs[ch] = struct{}{}
	if sm.stop == nil {
		sm.stop = make(chan struct{})
		go sm.run(sm.stop)
	}
	return first, ch, nil
}

var (
	errClosed         = errors.New("the dashboard is closed")
	errTooManyViewers = errors.New("too many pages are open; close one and reload")
)

// unsubscribe removes a stream; the loop stops with the last one.
func (sm *sampler) unsubscribe(ch chan []byte) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if _, ok := sm.subs[ch]; !ok {
		return
	}
	delete(sm.subs, ch)
	close(ch)
	if len(sm.subs) == 0 && sm.stop != nil {
		close(sm.stop)
		sm.stop = nil
	}
}

// close ends every stream and stops sampling for good.
func (sm *sampler) close() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.closed = true
	for ch := range sm.subs {
		delete(sm.subs, ch)
		close(ch)
	}
	if sm.stop != nil {
		close(sm.stop)
		sm.stop = nil
	}
}

func (sm *sampler) running() bool {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.stop != nil
}

func (sm *sampler) run(stop chan struct{}) {
	tick := time.NewTicker(sm.interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			sm.mu.Lock()
			if sm.stop != stop {
				sm.mu.Unlock()
				return
			}
			f := sm.sampleLocked(now)
			msg, _ := json.Marshal(f)
			for ch := range sm.subs {
				select {
				case ch <- msg:
				default: // a slow reader misses a frame rather than holding the others
				}
			}
			sm.mu.Unlock()
		}
	}
}

// sampleLocked reads every connection (up to maxRows) once, records a
// point for each and returns the frame. Called with sm.mu held.
func (sm *sampler) sampleLocked(now time.Time) *frame {
	sm.handles = sm.s.Connections(sm.handles[:0])
	f := &frame{T: now.UnixMilli(), Identity: sm.identity, Total: len(sm.handles),
		Points: make(map[uint32]point), Counts: make(map[string]int)}
	seen := make(map[mist.Conn]bool, len(sm.handles))
	for _, h := range sm.handles {
		if len(f.Rows) >= sm.maxRows {
			break
		}
		o, ok := sm.s.ObserveConnection(h, nil)
		if !ok {
			continue
		}
		seen[h] = true
		f.Counts[o.Info.State.String()]++
		t := sm.conns[h]
		if t == nil || o.Counters.BytesSent < t.counter.BytesSent || o.Counters.BytesRecv < t.counter.BytesRecv {
			t = &tracked{}
			sm.conns[h] = t
		}
		r := makeRow(h, &o)
		// Rates need a previous sample; until then they are unknown.
		r.InBps, r.OutBps, r.InPps, r.OutPps = -1, -1, -1, -1
		if !t.at.IsZero() {
			if d := now.Sub(t.at).Seconds(); d > 0 {
				r.InBps = float64(o.Counters.BytesRecv-t.counter.BytesRecv) / d
				r.OutBps = float64(o.Counters.BytesSent-t.counter.BytesSent) / d
				r.InPps = float64(o.Counters.PacketsRecv-t.counter.PacketsRecv) / d
				r.OutPps = float64(o.Counters.PacketsSent-t.counter.PacketsSent) / d
			}
		}
		t.at, t.counter = now, o.Counters
		p := point{T: f.T, Ping: r.Ping, InBps: r.InBps, OutBps: r.OutBps, Loss: -1}
		if r.QualityL >= 0 {
			p.Loss = float64(1-r.QualityL) * 100
		}
		t.add(p, sm.historyLen)
		f.Rows = append(f.Rows, r)
		f.Points[r.ID] = p
	}
	for h := range sm.conns {
		if !seen[h] {
			delete(sm.conns, h)
		}
	}
	sm.last = f
	return f
}

func makeRow(h mist.Conn, o *mist.ConnectionObservation) row {
	st := &o.Status
	r := row{
		ID: uint32(h), State: o.Info.State.String(), Route: route(o.Info.Flags),
		Ping: st.Ping, QualityL: st.QualityLocal, QualityR: st.QualityRemote, SendRate: st.SendRate,
		PendRel: st.PendingReliable, PendUnrel: st.PendingUnreliable, Unacked: st.SentUnackedReliable,
		QueueTimeMs: float64(st.QueueTime.Microseconds()) / 1000, RecvQueue: o.ReceiveQueueBytes, Lanes: o.Lanes,
		Retrans: o.Counters.RetransmittedSegments,
		Dropped: o.Counters.DroppedInvalid + o.Counters.DroppedDuplicate + o.Counters.DecryptFailed,
	}
	if o.Info.RemoteIdentity.IsValid() {
		r.Identity = o.Info.RemoteIdentity.String()
	}
	if o.Info.RemoteAddr.IsValid() {
		r.Addr = mist.FormatIPAddr(o.Info.RemoteAddr)
	}
	if i := strings.Index(o.Info.Description, " '"); i >= 0 {
		r.Name = strings.TrimSuffix(o.Info.Description[i+2:], "'")
	}
	return r
}

// route names how the connection's packets travel.
func route(f mist.ConnInfoFlags) string {
	var parts []string
	switch {
	case f&mist.ConnInfoLoopbackBuffers != 0:
		parts = append(parts, "in-process")
	case f&mist.ConnInfoRelayed != 0:
		parts = append(parts, "relayed UDP")
	default:
		parts = append(parts, "direct UDP")
	}
	if f&mist.ConnInfoUnencrypted != 0 {
		parts = append(parts, "unencrypted")
	} else if f&mist.ConnInfoUnauthenticated != 0 {
		parts = append(parts, "unauthenticated")
	}
	return strings.Join(parts, ", ")
}
