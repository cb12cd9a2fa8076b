package signaling

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the server's counters at one moment.
type Stats struct {
	Connections     int // open TCP connections, registered or not
	RegisteredPeers int // identities currently registered on this server

	SignalsForwarded uint64  // lines written toward a destination (local or remote)
	SignalsPerSecond float64 // forwarded over the last completed measuring interval

	DroppedUnknownDest uint64 // destination not registered anywhere known
	DroppedQueueFull   uint64 // destination's write budget was full
	IgnoredLines       uint64 // no space or empty destination
	RateLimited        uint64 // lines that had to wait for the connection's rate
	LinesTooLong       uint64 // connections closed for an over-long line
	Timeouts           uint64 // connections closed for a slow greeting, line or write
	RefusedConns       uint64 // connections refused by the connection caps
	Replaced           uint64 // registrations that replaced an earlier connection
	AuthRefused        uint64 // registrations refused by the authenticator
}

type counters struct {
	forwarded, unknownDest, queueFull, ignored, rateLimited atomic.Uint64
	tooLong, timeouts, refusedConns, replaced, authRefused  atomic.Uint64
}

// rateMeter turns a growing total into a per-second rate over intervals of
// at least one second; the caller passes the time.
type rateMeter struct {
	mu        sync.Mutex
	lastTotal uint64
	lastTime  time.Time
	rate      float64
}

func (m *rateMeter) observe(total uint64, now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastTime.IsZero() {
		m.lastTotal, m.lastTime = total, now
		return 0
	}
	if d := now.Sub(m.lastTime); d >= time.Second {
		m.rate = float64(total-m.lastTotal) / d.Seconds()
		m.lastTotal, m.lastTime = total, now
	}
	return m.rate
}
