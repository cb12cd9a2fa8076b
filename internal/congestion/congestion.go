// Package congestion decides how fast one connection may put data packets on
// the wire. It is sans I/O: every method takes the current time from the
// caller, and nothing here reads the clock or starts timers.
//
// Two controllers share the [Controller] interface:
//
//   - [NewFixed] reproduces GNS's send-rate token bucket: the rate is
//     SendRateMin when it equals SendRateMax (the default), and otherwise an
//     estimate of 4380 bytes per round trip clamped into [min, max].
//   - [NewAdaptive] paces with the same bucket but sets the rate from the
//     path's delivery rate, kept within a few milliseconds of queueing
//     delay: it probes upward while no queue forms and drains any queue it
//     sees within a round trip. See adaptive.go for the design.
//
// Both pace with a token bucket: a packet may go whenever the bucket is not
// negative, and sending subtracts the whole datagram, so the bucket may go
// below zero. GNS lets the bucket fill to 1248 bytes, about one packet. mist
// lets it hold [BurstTime] of the rate when that is more: the connection is
// woken by timers that fire tens of microseconds to a millisecond late, and
// with a one-packet bucket every wake-up would send one packet whatever the
// rate, capping throughput at a few MB/s. At GNS's default rates the two are
// the same.
//
// The interface extends the one first sketched for the package with Reset
// (refill the bucket while not connected) and OnSendError (back off after a
// socket error), both behaviours of GNS's sender.
package congestion

import (
	"math"
	"time"
)

// Controller is the rate control of one connection. It is not safe for
// concurrent use; the connection's lock guards it.
type Controller interface {
	// OnPacketSent records a datagram of bytes (whole UDP payload, header and
	// stats included) handed to the socket at now. It consumes tokens even
	// for packets that bypass the pacing gate, such as ack-only packets.
	OnPacketSent(now time.Time, bytes int)
	// OnAck records that ackedBytes of earlier data packets were
	// acknowledged, with rtt the round-trip sample they yielded (0 if none).
	OnAck(now time.Time, ackedBytes int, rtt time.Duration)
	// OnLoss records that lostBytes of earlier data packets are deemed lost.
	OnLoss(now time.Time, lostBytes int)
	// TimeUntilSend is 0 when a data packet may go out now, otherwise the
	// wait until the bucket is no longer negative.
	TimeUntilSend(now time.Time) time.Duration
	// Rate is the current send rate in bytes per second.
	Rate() int
	// Reset fills the bucket to its burst allowance, as GNS does at connect
	// time and whenever the connection is not in the connected state.
	Reset(now time.Time)
	// OnSendError empties the bucket by one millisecond's worth of tokens
	// after the socket refused a datagram, so that sending pauses briefly.
	OnSendError(now time.Time)
}

const (
	// BurstBytes is the least the bucket may fill to: one packet of
	// headroom (GNS's k_flSendRateBurstOverageAllowance).
	BurstBytes = 1248

	// BurstTime is how much of the rate the bucket may hold when that
	// exceeds BurstBytes: enough to cover a late timer, small enough that
	// a burst stays within socket buffers (256 KiB at 256 MiB/s).
	BurstTime = time.Millisecond

	// initialEstimateBytes is the amount GNS assumes may be in flight per
	// round trip when it estimates a starting rate.
	initialEstimateBytes = 4380

	// DefaultRTT is the round trip assumed before any sample exists.
	DefaultRTT = 200 * time.Millisecond

	// RateFloor and RateCeiling bound SendRateMin/SendRateMax. GNS's
	// ceiling is 0x10000000 (256 MiB/s); mist's is the top of int32.
	RateFloor   = 1024
	RateCeiling = math.MaxInt32
)

// clampRates applies the config ranges and orders the pair so max >= min.
func clampRates(minRate, maxRate int) (int, int) {
	minRate = max(RateFloor, min(minRate, RateCeiling))
	maxRate = max(RateFloor, min(maxRate, RateCeiling))
	return minRate, max(minRate, maxRate)
}

// initialRate is GNS's starting estimate: 4380 bytes per round trip,
// clamped into [minRate, maxRate].
func initialRate(minRate, maxRate int, rtt time.Duration) int {
	if rtt <= 0 {
		rtt = DefaultRTT
	}
	r := int(int64(initialEstimateBytes) * int64(time.Second) / int64(rtt))
	return max(minRate, min(r, maxRate))
}

// bucket is the pacing token bucket shared by both controllers.
type bucket struct {
	tokens float64 // bytes; negative after a send that overdrew it
	last   time.Time
	rate   float64       // bytes per second
	burst  time.Duration // how much of the rate the bucket holds; 0 is BurstTime
}

// capacity is how far above zero the bucket may fill.
func (b *bucket) capacity() float64 {
	burst := b.burst
	if burst == 0 {
		burst = BurstTime
	}
	return max(BurstBytes, b.rate*burst.Seconds())
}

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		b.tokens = BurstBytes
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.tokens+b.rate*d.Seconds(), b.capacity())
		b.last = now
	}
}

func (b *bucket) spend(now time.Time, n int) {
	b.refill(now)
	b.tokens -= float64(n)
}

func (b *bucket) wait(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 0 {
		return 0
	}
	// Round up and add a microsecond so the caller wakes with the bucket
	// already at or above zero.
	return time.Duration(math.Ceil(-b.tokens/b.rate*float64(time.Second))) + time.Microsecond
}

func (b *bucket) reset(now time.Time) {
	b.last = now
	b.tokens = BurstBytes
}

func (b *bucket) sendError(now time.Time) {
	b.refill(now)
	b.tokens = -b.rate / 1000
}

// Fixed is GNS's token bucket at a rate fixed once estimated.
type Fixed struct {
	bucket
	minRate, maxRate int
	estimated        bool // the rate came from a real RTT sample
}

// NewFixed returns GNS's fixed-rate controller for the SendRateMin and
// SendRateMax options (each clamped to 1024..math.MaxInt32 bytes/s, max raised
// to min). When they differ the rate is 4380 bytes per 200 ms clamped into
// the range, replaced once by the same estimate from the first RTT sample:
// GNS makes the estimate at connect time from the handshake ping, which the
// first sample stands in for.
func NewFixed(minRate, maxRate int) *Fixed {
	minRate, maxRate = clampRates(minRate, maxRate)
	f := &Fixed{minRate: minRate, maxRate: maxRate, estimated: minRate == maxRate}
	f.rate = float64(initialRate(minRate, maxRate, 0))
	return f
}

// OnPacketSent implements [Controller].
func (f *Fixed) OnPacketSent(now time.Time, bytes int) { f.spend(now, max(bytes, 0)) }

// OnAck implements [Controller].
func (f *Fixed) OnAck(now time.Time, _ int, rtt time.Duration) {
	if !f.estimated && rtt > 0 {
		f.estimated = true
		f.refill(now)
		f.rate = float64(initialRate(f.minRate, f.maxRate, rtt))
	}
}

// OnLoss implements [Controller]; the fixed rate ignores loss.
func (f *Fixed) OnLoss(time.Time, int) {}

// TimeUntilSend implements [Controller].
func (f *Fixed) TimeUntilSend(now time.Time) time.Duration { return f.wait(now) }

// Rate implements [Controller].
func (f *Fixed) Rate() int { return int(f.rate) }

// Reset implements [Controller].
func (f *Fixed) Reset(now time.Time) { f.reset(now) }

// OnSendError implements [Controller].
func (f *Fixed) OnSendError(now time.Time) { f.sendError(now) }

var (
	_ Controller = (*Fixed)(nil)
	_ Controller = (*Adaptive)(nil)
)
