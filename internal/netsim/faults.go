// Package netsim simulates bad networks for mist's tests and for GNS's fake
// network options.
//
// [Wrap] puts fault injection around any [endpoint.PacketConn]: on send,
// receive or both it drops, delays, jitters, reorders and duplicates
// datagrams the way GNS's FakePacket* and FakeRateLimit* options do.
// [NewNetwork] is an in-memory network of PacketConns that never touches a
// real socket: it only uses channels and timers, so it runs inside
// testing/synctest bubbles, where the delays cost no real time. Its links
// take the same [Faults], and [Network.SetBottleneck] puts an emulated
// bottleneck (rate, drop-tail queue, delay, loss; see linkemu) in front of
// an address, shared by every source.
//
// # Order of faults (as GNS applies them)
//
//  1. Rate limit: a token bucket (Rate bytes/s, Burst bytes); a datagram
//     arriving while the bucket is empty is dropped.
//  2. Loss: dropped with probability LossPct.
//  3. Lag: every datagram is held for Lag.
//  4. Jitter: with probability JitterPct, an extra delay drawn from an
//     exponential distribution of mean JitterAvg, capped at JitterMax.
//     Jitter never reorders: a datagram is never released before one
//     jittered earlier, so jitter makes clumps.
//  5. Reorder: with probability ReorderPct, an extra ReorderTime, which lets
//     later datagrams overtake it.
//  6. Duplication: with probability DupPct, a copy is released between 1 µs
//     and DupTimeMax after the original.
//
// Randomness comes from a seeded generator, so a single-goroutine test sees
// the same fates on every run. Delayed datagrams are copied into pooled
// buffers, held in a bounded queue (drops counted when it is full) and
// released by timers.
package netsim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/mistnet/mist/internal/config"
)

// Faults are the conditions applied to one direction of traffic. The zero
// value passes datagrams through untouched. Percentages are 0..100.
type Faults struct {
	LossPct float64
	Lag     time.Duration

	JitterAvg time.Duration // 0 disables jitter
	JitterMax time.Duration
	JitterPct float64

	ReorderPct  float64
	ReorderTime time.Duration

	DupPct     float64
	DupTimeMax time.Duration

	RateLimit int // bytes per second; 0 disables
	RateBurst int // bytes
}

// FromConfig turns GNS's fake network options into send and receive faults.
func FromConfig(f config.FakeNetwork) (send, recv Faults) {
	conv := func(d config.FakeDirection) Faults {
		return Faults{
			LossPct: float64(d.LossPct), Lag: d.Lag,
			JitterAvg: d.JitterAvg, JitterMax: d.JitterMax, JitterPct: float64(d.JitterPct),
			ReorderPct: float64(d.ReorderPct), ReorderTime: f.ReorderTime,
			DupPct: float64(d.DupPct), DupTimeMax: f.DupTimeMax,
			RateLimit: d.RateLimit, RateBurst: d.RateBurst,
		}
	}
	return conv(f.Send), conv(f.Recv)
}

// active reports whether f can do anything at all.
func (f *Faults) active() bool { return *f != Faults{} }

// fate is what happens to one datagram.
type fate struct {
	drop    dropReason
	at      time.Time // release time; not after now means immediately
	dup     bool
	dupAt   time.Time
	delayed bool

	jittered, reordered bool
}

type dropReason uint8

const (
	keep dropReason = iota
	dropLoss
	dropRate
)

// faulter decides fates for one direction of one conn or link. It is not
// safe for concurrent use.
type faulter struct {
	f   Faults
	rng *rand.Rand

	// minNextJittered keeps jittered datagrams in order: none is released
	// before the previous jittered one. Zero when no clump is open.
	minNextJittered time.Time

	tokens     float64
	tokensTime time.Time
}

func newFaulter(f Faults, seed uint64) *faulter {
	return &faulter{f: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (fl *faulter) odds(pct float64) bool {
	return pct > 0 && fl.rng.Float64()*100 < pct
}

func (fl *faulter) jitter() time.Duration {
	f := &fl.f
	if f.JitterAvg <= 0 || f.JitterMax <= 0 || !fl.odds(f.JitterPct) {
		return 0
	}
	r := 1e-6 + fl.rng.Float64()*(1-1e-6)
	x := -math.Log(r)
	return min(time.Duration(x*float64(f.JitterAvg)), f.JitterMax)
}

func (fl *faulter) decide(now time.Time, size int) fate {
	f := &fl.f
	if f.RateLimit > 0 {
		if fl.tokensTime.IsZero() {
			fl.tokens = float64(f.RateBurst)
		} else {
			fl.tokens = min(fl.tokens+now.Sub(fl.tokensTime).Seconds()*float64(f.RateLimit), float64(f.RateBurst))
		}
		fl.tokensTime = now
		if fl.tokens <= 0 {
			return fate{drop: dropRate}
		}
		fl.tokens -= float64(size)
	}
	if fl.odds(f.LossPct) {
		return fate{drop: dropLoss}
	}
	var reorder time.Duration
	if fl.odds(f.ReorderPct) {
		reorder = f.ReorderTime
	}
	jit := fl.jitter()
	dup := fl.odds(f.DupPct)
	if f.Lag <= 0 && reorder <= 0 && jit <= 0 && !dup && fl.minNextJittered.IsZero() {
		return fate{at: now}
	}
	at := now.Add(f.Lag)
	if !fl.minNextJittered.IsZero() {
		jit = max(jit, fl.minNextJittered.Sub(at))
	}
	if jit > 0 {
		at = at.Add(jit)
		fl.minNextJittered = at.Add(time.Microsecond)
	} else {
		fl.minNextJittered = time.Time{}
	}
	at = at.Add(reorder)
	ft := fate{at: at, delayed: at.After(now), jittered: jit > 0, reordered: reorder > 0}
	if dup {
		ft.dup = true
		ft.dupAt = at.Add(time.Microsecond + time.Duration(fl.rng.Float64()*float64(f.DupTimeMax)))
	}
	return ft
}

// shift delays a kept datagram (and its copy) by d more.
func (ft *fate) shift(d time.Duration) {
	if ft.drop != keep || d <= 0 {
		return
	}
	ft.at = ft.at.Add(d)
	ft.delayed = true
	if ft.dup {
		ft.dupAt = ft.dupAt.Add(d)
	}
}
