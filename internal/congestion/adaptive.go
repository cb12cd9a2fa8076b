package congestion

import "time"

// Adaptive paces with the same bucket as [Fixed] and sets the rate from
// what the path delivers, once per measurement round (about one smoothed
// RTT, extended until enough bytes have been judged).
//
// Design (delivery rate first, queueing delay second, loss last):
//
//   - The delivery rate is the bytes acknowledged or declared lost over the
//     last smoothed RTT (at least 5 ms), measured between acks. Lost bytes
//     count because the path took them: random loss must not read as a
//     slower path. [Adaptive.DeliveryRate] reports it.
//   - The queueing delay is the smallest RTT sample of the round's second
//     half minus the floor, the smallest sample of the last five to ten
//     seconds. Taking a minimum ignores jitter; taking only the second half
//     shows the queue as the last rate change left it. The target is an
//     eighth of the floor, within 1..3 ms (4 ms on paths under 1 ms, where
//     the queue is the receiving host's backlog), plus the smallest queueing delay
//     of the last eight rounds (at most 5 ms): timers on a loaded machine
//     wake late and acks come in batches, which must not read as a queue.
//   - Start-up sets the rate to twice the delivery rate each round until the
//     queueing delay exceeds the target while the delivery rate has grown
//     less than 25 % in a round (or heavy loss, or max): on a 10 Mbit/s,
//     50 ms path it finds the rate in under a second. A queue while the
//     delivery rate still grows fast only pauses the doubling for a round,
//     so one late timer does not end start-up at a fraction of the link.
//   - A round without a queue raises the rate to the delivery rate × (1 +
//     half the target / round) plus one packet per round, which adds about
//     half a target of queue once the link is full. After every four such
//     rounds in a row the step doubles (up to 8×), so a path that got
//     faster is found quickly.
//   - A round with a queue sets the rate to the delivery rate × (1 − delay
//     / RTT) plus the same packet: the next round drains the queue. A round
//     ends early, after its first half, when two samples show the queue
//     above the target, so the queue stays within a few milliseconds and
//     drops are rare.
//   - The one packet per round is the same for every flow, while the other
//     terms scale with each flow's rate. Flows sharing a bottleneck see the
//     same queue, so they grow and drain together and the packet moves their
//     rates toward equal shares (additive increase, proportional decrease):
//     the flow with less gains relatively more.
//   - Real machines add noise that reads as a queue: a round with a small
//     queue (under twice the target) and no loss keeps at least 85 % of
//     the best delivery rate of the last ten rounds, no round cuts the rate
//     below 70 % of what it was, and the rate follows the better delivery
//     reading of the last two rounds. The bucket holds 3 ms of the rate
//     (not 1 ms as for [Fixed]) so that a connection woken late catches up
//     instead of reading the lost time as a slower path.
//   - Loss lowers the rate only when it is heavy (more than 30 % of a round)
//     or exceeds 5 % with a queue above half the target, so random loss of
//     a few percent costs only the lost packets.
//   - A round in which the sender used less than half its rate (application
//     limited) does not raise the rate.
//
// The rate starts at GNS's 4380-bytes-per-RTT estimate, raised to at least
// 64 KiB/s, within [min, max].
type Adaptive struct {
	bucket
	minRate, maxRate float64

	startup  bool
	delivery float64 // last round's delivery rate, bytes per second
	// startupDelivery is the delivery rate at the end of the last
	// start-up round.
	startupDelivery float64

	srtt time.Duration
	// The RTT floor is the smallest sample of the current and the previous
	// half-window, so it forgets a path that got longer within floorWindow
	// without ever resting on a single inflated sample.
	floorRTT     time.Duration
	floorCur     time.Duration
	floorPrev    time.Duration
	floorRotated time.Time

	// judged counts every byte acknowledged or declared lost; marks
	// samples it at acks, so that a delivery rate spans at least one
	// smoothed RTT whatever the length of the round.
	judged    int64
	marks     [32]mark
	markHead  int
	markCount int

	// recentQueue holds the queueing delay of the last rounds; its
	// minimum is the delay the path shows even when this flow's queue is
	// empty (late timers, batched acks), which the target sits above.
	recentQueue [8]time.Duration
	recentNext  int

	// recentDelivery holds the delivery rate of the last rounds; a
	// fraction of its maximum is the least a round with a small queue
	// (under twice the target) may set the rate to, so noise read as a
	// queue cannot walk the rate down.
	recentDelivery [10]float64
	deliveryNext   int

	// cleanRounds counts rounds in a row without a queue, which speed
	// up growth: a path that got faster is found in seconds.
	cleanRounds int

	roundStart  time.Time
	roundMinRTT time.Duration
	// roundSamples counts the RTT samples behind roundMinRTT.
	roundSamples int
	roundSent    int
	roundAcked   int
	roundLost    int
}

type mark struct {
	at     time.Time
	judged int64
}

const (
	adaptiveStartRate = 64 << 10
	startupGain       = 2
	startupGrowth     = 1.25
	maxGrowth         = 0.125
	minDrainGain      = 0.5
	maxCut            = 0.7
	// adaptiveBurst is what the bucket may hold: a connection woken a few
	// milliseconds late (a loaded machine) catches up instead of losing the
	// time, which would read as a slower path. The queue it adds is the
	// lateness, which the link would see anyway.
	adaptiveBurst     = 4 * time.Millisecond
	recentFloor       = 0.85
	probePackets      = 1
	probePacketBytes  = 1200
	heavyLossFraction = 0.30
	lossWithQueue     = 0.05
	floorWindow       = 10 * time.Second
	minRoundBytes     = 8 * 1200
	minRoundTime      = 5 * time.Millisecond
	// minEarlySamples RTT samples must agree before a round ends early.
	minEarlySamples = 2
	// Growth doubles after every cleanDoubling rounds without a queue,
	// up to maxGrowthBoost times.
	cleanDoubling  = 4
	maxGrowthBoost = 8
	// The queueing-delay target is an eighth of the floor RTT within
	// [minQueueTarget, maxQueueTarget]: small enough for a shallow buffer
	// and a 10 ms goal, large enough to tell a queue from scheduling noise.
	minQueueTarget = time.Millisecond
	maxQueueTarget = 3 * time.Millisecond
	// Paths with a floor under hostPathRTT get hostQueueTarget.
	hostPathRTT     = time.Millisecond
	hostQueueTarget = 4 * time.Millisecond
	// maxNoise bounds how far the delay noise may raise the target.
	maxNoise = 5 * time.Millisecond
)

// NewAdaptive returns an adaptive controller bounded by SendRateMin and
// SendRateMax (clamped as for [NewFixed]). With min == max it behaves as a
// fixed rate.
func NewAdaptive(minRate, maxRate int) *Adaptive {
	minRate, maxRate = clampRates(minRate, maxRate)
	a := &Adaptive{minRate: float64(minRate), maxRate: float64(maxRate), startup: true}
	a.burst = adaptiveBurst
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
	a.judged += int64(max(ackedBytes, 0))
	if rtt > 0 {
		a.sampleRTT(now, rtt)
	}
	a.maybeEndRound(now)
}

// OnLoss implements [Controller].
func (a *Adaptive) OnLoss(now time.Time, lostBytes int) {
	a.roundLost += max(lostBytes, 0)
	a.judged += int64(max(lostBytes, 0))
	a.maybeEndRound(now)
}

// TimeUntilSend implements [Controller].
func (a *Adaptive) TimeUntilSend(now time.Time) time.Duration { return a.wait(now) }

// Rate implements [Controller].
func (a *Adaptive) Rate() int { return int(a.rate) }

// DeliveryRate is the last round's delivery rate in bytes per second: the
// controller's estimate of what the path carries for this connection (0
// before the first round).
func (a *Adaptive) DeliveryRate() int { return int(a.delivery) }

// StartingUp reports whether the controller is still in start-up.
func (a *Adaptive) StartingUp() bool { return a.startup }

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
	// Only the second half of a round says what the queue is now: the
	// minimum over the whole round would still show the queue as it was
	// before the last rate change took effect.
	if now.Sub(a.roundStart) >= max(a.srtt, minRoundTime)/2 {
		a.roundSamples++
		if a.roundMinRTT == 0 || rtt < a.roundMinRTT {
			a.roundMinRTT = rtt
		}
	}
}

// window is the span a delivery rate is measured over.
func (a *Adaptive) window() time.Duration { return max(a.srtt, minRoundTime) }

// mark records the judged bytes at now, at most 16 marks per window.
func (a *Adaptive) mark(now time.Time) {
	if a.markCount > 0 {
		last := a.marks[(a.markHead+a.markCount-1)%len(a.marks)]
		if now.Sub(last.at) < a.window()/16 {
			return
		}
	}
	if a.markCount == len(a.marks) {
		a.markHead = (a.markHead + 1) % len(a.marks)
		a.markCount--
	}
	a.marks[(a.markHead+a.markCount)%len(a.marks)] = mark{now, a.judged}
	a.markCount++
}

// deliveryRate is the judged bytes per second since the newest mark at
// least one window and span old (the oldest mark if none is), or -1 if no
// mark spans time. The span is the round: acks may come far apart (a
// receiver acking every 64 KiB of unreliable data), and a window shorter
// than their interval would leave most bytes out.
func (a *Adaptive) deliveryRate(now time.Time, span time.Duration) float64 {
	w := max(a.window(), span)
	var from *mark
	for i := a.markCount - 1; i >= 0; i-- {
		m := &a.marks[(a.markHead+i)%len(a.marks)]
		from = m
		if now.Sub(m.at) >= w {
			break
		}
	}
	if from == nil || !now.After(from.at) {
		return -1
	}
	return float64(a.judged-from.judged) / now.Sub(from.at).Seconds()
}

func (a *Adaptive) maybeEndRound(now time.Time) {
	defer a.mark(now)
	if a.roundStart.IsZero() {
		a.roundStart = now
		return
	}
	elapsed := now.Sub(a.roundStart)
	if a.roundAcked+a.roundLost < minRoundBytes {
		return
	}
	// A round ends after a smoothed RTT, or as soon as its second half
	// shows a queue above the target: waiting for the end would let the
	// queue grow for the rest of it.
	early := a.roundSamples >= minEarlySamples && a.roundMinRTT-a.floorRTT > a.queueTarget()
	if elapsed < max(a.srtt, minRoundTime) && !early {
		return
	}
	a.endRound(now, elapsed)
	a.roundStart = now
	a.roundMinRTT, a.roundSamples, a.roundSent, a.roundAcked, a.roundLost = 0, 0, 0, 0, 0
}

// queueTarget is the queueing delay above which a round counts as queued.
func (a *Adaptive) queueTarget() time.Duration {
	if a.floorRTT < hostPathRTT {
		// Loopback or a LAN: the queue is the receiving host's backlog,
		// and its scheduling noise is milliseconds.
		return hostQueueTarget + a.noise()
	}
	return max(minQueueTarget, min(a.floorRTT/8, maxQueueTarget)) + a.noise()
}

func (a *Adaptive) maxRecentDelivery() float64 {
	m := 0.0
	for _, d := range a.recentDelivery {
		m = max(m, d)
	}
	return m
}

// noise is the smallest queueing delay of the recent rounds, at most
// maxNoise.
func (a *Adaptive) noise() time.Duration {
	n := a.recentQueue[0]
	for _, q := range a.recentQueue[1:] {
		n = min(n, q)
	}
	return min(n, maxNoise)
}

func (a *Adaptive) endRound(now time.Time, elapsed time.Duration) {
	secs := elapsed.Seconds()
	judged := a.roundAcked + a.roundLost
	lossFrac := float64(a.roundLost) / float64(judged)
	delivery := a.deliveryRate(now, elapsed)
	if delivery < 0 {
		delivery = float64(judged) / secs
	}
	if lossFrac > heavyLossFraction {
		delivery *= 1 - lossFrac
	}
	// One stalled batch of acks (a descheduled receiver, a late timer)
	// reads as a slow round: the rate follows the better of the last two.
	prevDelivery := a.delivery
	a.delivery = delivery
	a.recentDelivery[a.deliveryNext] = delivery
	a.deliveryNext = (a.deliveryNext + 1) % len(a.recentDelivery)
	delivery = max(delivery, prevDelivery)
	var queueDelay time.Duration
	if a.roundMinRTT > 0 {
		queueDelay = a.roundMinRTT - a.floorRTT
	}
	target := a.queueTarget()
	a.recentQueue[a.recentNext] = queueDelay
	a.recentNext = (a.recentNext + 1) % len(a.recentQueue)
	congested := queueDelay > target || lossFrac > heavyLossFraction ||
		(lossFrac > lossWithQueue && queueDelay > target/2)
	appLimited := float64(a.roundSent) < a.rate*secs/2
	probe := probePackets * probePacketBytes / max(secs, a.srtt.Seconds())

	if a.startup {
		prev := a.startupDelivery
		a.startupDelivery = delivery
		switch {
		case congested && delivery >= startupGrowth*prev && lossFrac <= lossWithQueue:
			// The path still delivers much more than a round ago: the
			// delay is noise (a late timer, a batch of acks), or the
			// link was only just exceeded. Stop doubling for a round.
			a.setRate(max(a.rate/startupGain, startupGrowth*delivery))
			return
		case congested:
			a.startup = false
		case appLimited:
			return
		case a.rate >= a.maxRate:
			a.startup = false
			return
		default:
			a.setRate(max(a.rate, startupGain*delivery))
			return
		}
	}
	if congested {
		a.cleanRounds = 0
	} else if !appLimited {
		a.cleanRounds++
	}
	switch {
	case congested:
		// The next round, about one smoothed RTT, drains the queue.
		drain := max(minDrainGain, 1-queueDelay.Seconds()/max(secs, a.srtt.Seconds()))
		if lossFrac > heavyLossFraction {
			drain = min(drain, 1-lossFrac/2)
		}
		// A round cuts the rate by at most maxCut, so a delivery rate
		// that read low cannot collapse it.
		r := max(delivery, a.rate*maxCut)*drain + probe
		if a.roundLost == 0 && queueDelay <= 2*target {
			r = max(r, recentFloor*a.maxRecentDelivery())
		}
		a.setRate(min(a.rate, r))
	case appLimited:
	default:
		// Growing by target/round adds about one target of queue per
		// round once the link is full, which the next round drains.
		boost := float64(min(maxGrowthBoost, 1<<(a.cleanRounds/cleanDoubling)))
		growth := 1 + min(maxGrowth, boost*max(0, target.Seconds()/2-probe/delivery)/secs)
		// The delivery rate lags the rate by a round trip: it may not
		// lower a rate that causes no queue.
		a.setRate(max(a.rate, delivery*growth+boost*probe))
	}
}

func (a *Adaptive) setRate(r float64) {
	a.rate = max(a.minRate, min(r, a.maxRate))
}
