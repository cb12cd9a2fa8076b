package conn

import (
	"time"

	"github.com/mistnet/mist/internal/pb"
)

// qualityInterval is how long GNS measures packet sequencing before it
// publishes a local quality figure.
const qualityInterval = 5 * time.Second

// maxSequenceGap is the largest forward jump in packet numbers still
// counted as drops; a larger one is a lurch (the peer restarted its
// numbering or a burst went missing) and says nothing about quality.
const maxSequenceGap = 100

// seqCounts are the sequencing counters of one measurement interval.
type seqCounts struct {
	received, dropped, outOfOrder, duplicate, lurch int64
}

// quality tracks how the peer's packets arrive and what the peer reports
// about ours, for real-time status and the quality reports we send.
type quality struct {
	maxSeq       int64 // highest packet number seen in sequence; 0: none yet
	lastArrival  time.Time
	cur          seqCounts
	curStart     time.Time
	local        float32 // last completed interval; -1 unknown
	droppedPct   int     // last completed interval, 0..100; -1 unknown
	weirdPct     int
	remote       float32 // from the peer's latest report; -1 unknown
	maxJitter    time.Duration
	haveJitter   bool
	reportJitter time.Duration // peak since our last report; -1 unknown
}

func (q *quality) init(now time.Time) {
	*q = quality{curStart: now, local: -1, droppedPct: -1, weirdPct: -1, remote: -1, reportJitter: -1}
}

// roll closes the measurement interval when it has run its course.
func (q *quality) roll(now time.Time) {
	if now.Sub(q.curStart) < qualityInterval {
		return
	}
	c := q.cur
	if total := c.received + c.dropped; total > 0 && c.received > 0 {
		dropped := float64(c.dropped) / float64(total)
		weird := float64(c.outOfOrder+c.lurch+c.duplicate) / float64(total)
		q.local = float32(max(0, 1-dropped-weird))
		q.droppedPct = int(dropped*100 + 0.5)
		q.weirdPct = int(weird*100 + 0.5)
	} else {
		q.local, q.droppedPct, q.weirdPct = -1, -1, -1
	}
	q.cur = seqCounts{}
	q.curStart = now
}

// onPacket records a packet that decrypted and was processed. sincePrev
// is the sender's time since its previous packet, when it sent one.
func (q *quality) onPacket(now time.Time, num int64, sincePrev time.Duration, haveSincePrev bool) {
	q.roll(now)
	q.cur.received++
	gap := num - q.maxSeq
	switch {
	case q.maxSeq == 0 || gap == 1:
		if haveSincePrev && !q.lastArrival.IsZero() {
			j := now.Sub(q.lastArrival) - sincePrev
			if j < 0 {
				j = -j
			}
			if !q.haveJitter || j > q.maxJitter {
				q.maxJitter, q.haveJitter = j, true
			}
			q.reportJitter = max(q.reportJitter, j)
		}
	case gap <= 0:
		// A packet counted as dropped turned up after all.
		q.cur.outOfOrder++
		if q.cur.dropped > 0 {
			q.cur.dropped--
		}
		return
	case gap < maxSequenceGap:
		q.cur.dropped += gap - 1
	default:
		q.cur.lurch++
	}
	q.maxSeq = num
	q.lastArrival = now
}

// onDuplicate records a packet rejected as already received, or as older
// than the receive window (a lurch backwards).
func (q *quality) onDuplicate(now time.Time, tooOld bool) {
	q.roll(now)
	if tooOld {
		q.cur.lurch++
	} else {
		q.cur.duplicate++
	}
}

// onReport takes the peer's view of our packets from its quality report.
func (q *quality) onReport(r *pb.InstantaneousStats) {
	if r == nil || r.PacketsDroppedPct == nil || r.PacketsWeirdSequencePct == nil {
		return
	}
	v := 1 - float32(r.GetPacketsDroppedPct())/100 - float32(r.GetPacketsWeirdSequencePct())/100
	q.remote = max(0, min(1, v))
}

// Quality returns the fraction of the peer's packets that arrived in order
// over the last completed 5 s interval, the same figure as the peer
// reported it for ours, and the largest jitter since the previous call
// (-1 for what is unknown).
func (c *Conn) Quality(now time.Time) (local, remote float32, maxJitter time.Duration) {
	q := &c.quality
	if c.window == nil {
		return -1, -1, -1
	}
	q.roll(now)
	maxJitter = -1
	if q.haveJitter {
		maxJitter = q.maxJitter
		q.maxJitter, q.haveJitter = 0, false
	}
	return q.local, q.remote, maxJitter
}
