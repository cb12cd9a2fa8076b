package congestion

import "time"

// Adaptive paces with the same bucket as [Fixed] but moves the rate within
// [min, max] once per measurement round (about one smoothed RTT, extended
// until enough bytes have been judged to tell loss fractions apart).
//
// Design (delay first, loss second, multiplicative steps):
//
//   - The queueing delay of a round is the smallest RTT sample seen in it
//     minus the floor, the smallest sample of the last five to ten seconds.
//     Taking the round's minimum ignores jitter: one sample without
//     queueing is enough.
//   - Back off (rate × 0.85) when the queueing delay exceeds max(4 ms, a
//     quarter of the floor RTT), or when more than 30% of the round's bytes
//     were lost, or when some loss coincides with half that delay. A standing
//     queue is the sign of sending above the bottleneck; heavy loss is that
//     sign for paths with very small buffers.
//   - Otherwise grow, but only if the round was not application limited
//     (at least half of rate × round time was sent): ×2 per round until the
//     first back-off (start-up), then ×1.08 per round.
//
// Random loss without delay growth (Wi-Fi, the fake-loss options) therefore
// does not lower the rate unless it exceeds 30%: 20% random loss leaves the
// rate growing toward max. The rate starts at GNS's 4380-bytes-per-RTT
// estimate, raised to at least 64 KiB/s, within [min, max].
type Adaptive struct {
	bucket
	minRate, maxRate float64

	startup bool

	srtt time.Duration
	// The RTT floor is the smallest sample of the current and the previous
	// half-window, so it forgets a path that got longer within floorWindow
	// without ever resting on a single inflated sample.
	floorRTT     time.Duration
	floorCur     time.Duration
	floorPrev    time.Duration
	floorRotated time.Time

	roundStart  time.Time
	roundMinRTT time.Duration
	roundSent   int
	roundAcked  int
	roundLost   int
}

const (
	adaptiveStartRate = 64 << 10
	backoffFactor     = 0.85
	growthFactor      = 1.08
	heavyLossFraction = 0.30
	floorWindow       = 10 * time.Second
	minQueueDelay     = 4 * time.Millisecond
	minRoundBytes     = 16 * 1200
	minRoundTime      = 5 * time.Millisecond
)

// NewAdaptive returns an adaptive controller bounded by SendRateMin and
// SendRateMax (clamped as for [NewFixed]). With min == max it behaves as a
// fixed rate.
func NewAdaptive(minRate, maxRate int) *Adaptive {
	minRate, maxRate = clampRates(minRate, maxRate)
	a := &Adaptive{minRate: float64(minRate), maxRate: float64(maxRate), startup: true}
	a.rate = float64(max(initialRate(minRate, maxRate, 0), min(adaptiveStartRate, maxRate)))
	return a
}

// OnPacketSent implements [Controller].
func (a *Adaptive) OnPacketSent(now time.Time, bytes int) {
	bytes = max(bytes, 0)
	a.spend(now, bytes)
	a.roundSent += bytes
}

// OnAck implements [Controller].
func (a *Adaptive) OnAck(now time.Time, ackedBytes int, rtt time.Duration) {
	a.roundAcked += max(ackedBytes, 0)
	if rtt > 0 {
		a.sampleRTT(now, rtt)
	}
	a.maybeEndRound(now)
}

// OnLoss implements [Controller].
func (a *Adaptive) OnLoss(now time.Time, lostBytes int) {
	a.roundLost += max(lostBytes, 0)
	a.maybeEndRound(now)
}

// TimeUntilSend implements [Controller].
func (a *Adaptive) TimeUntilSend(now time.Time) time.Duration { return a.wait(now) }

// Rate implements [Controller].
func (a *Adaptive) Rate() int { return int(a.rate) }

// Reset implements [Controller].
func (a *Adaptive) Reset(now time.Time) { a.reset(now) }

// OnSendError implements [Controller].
func (a *Adaptive) OnSendError(now time.Time) { a.sendError(now) }

func (a *Adaptive) sampleRTT(now time.Time, rtt time.Duration) {
	if a.srtt == 0 {
		a.srtt = rtt
	} else {
		a.srtt += (rtt - a.srtt) / 8
	}
	if a.floorRotated.IsZero() {
		a.floorRotated = now
	}
	if now.Sub(a.floorRotated) >= floorWindow/2 {
		a.floorPrev, a.floorCur, a.floorRotated = a.floorCur, 0, now
	}
	if a.floorCur == 0 || rtt < a.floorCur {
		a.floorCur = rtt
	}
	a.floorRTT = a.floorCur
	if a.floorPrev > 0 && a.floorPrev < a.floorRTT {
		a.floorRTT = a.floorPrev
	}
	if a.roundMinRTT == 0 || rtt < a.roundMinRTT {
		a.roundMinRTT = rtt
	}
}

func (a *Adaptive) maybeEndRound(now time.Time) {
	if a.roundStart.IsZero() {
		a.roundStart = now
		return
	}
	elapsed := now.Sub(a.roundStart)
	if elapsed < max(a.srtt, minRoundTime) || a.roundAcked+a.roundLost < minRoundBytes {
		return
	}
	a.endRound(elapsed)
	a.roundStart = now
	a.roundMinRTT, a.roundSent, a.roundAcked, a.roundLost = 0, 0, 0, 0
}

func (a *Adaptive) endRound(elapsed time.Duration) {
	var queueDelay time.Duration
	if a.roundMinRTT > 0 {
		queueDelay = a.roundMinRTT - a.floorRTT
	}
	limit := max(minQueueDelay, a.floorRTT/4)
	lossFrac := float64(a.roundLost) / float64(a.roundAcked+a.roundLost)

	switch {
	case queueDelay > limit, lossFrac > heavyLossFraction, a.roundLost > 0 && queueDelay > limit/2:
		a.startup = false
		a.setRate(a.rate * backoffFactor)
	case float64(a.roundSent) >= a.rate*elapsed.Seconds()/2:
		if a.startup {
			a.setRate(a.rate * 2)
		} else {
			a.setRate(a.rate * growthFactor)
		}
	}
}

func (a *Adaptive) setRate(r float64) {
	a.rate = max(a.minRate, min(r, a.maxRate))
}
