package linkemu

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// An idle link adds exactly the transmission time and the delay.
func TestIdleDatagramDelay(t *testing.T) {
	l := New(Config{Rate: 10_000_000, Delay: 25 * time.Millisecond})
	at, fate := l.Send(t0, 1250) // 1 ms at 10 Mbit/s
	if fate != Delivered {
		t.Fatalf("fate %v", fate)
	}
	if got, want := at.Sub(t0), 26*time.Millisecond; got != want {
		t.Errorf("idle datagram took %v, want %v", got, want)
	}
	// Long after, the queue is empty again.
	at, _ = l.Send(t0.Add(time.Second), 1250)
	if got := at.Sub(t0.Add(time.Second)); got != 26*time.Millisecond {
		t.Errorf("second idle datagram took %v", got)
	}
}

// Offered twice the rate, the link delivers exactly its rate, holds at most
// its queue, and drops the rest at the tail.
func TestSaturatedRateAndQueue(t *testing.T) {
	for _, c := range []Config{
		{Rate: 10_000_000, Delay: 25 * time.Millisecond},
		{Rate: 100_000_000, Delay: 5 * time.Millisecond, QueueBytes: 20_000},
		{Rate: 2_000_000, Delay: 75 * time.Millisecond, QueueBytes: 200_000},
	} {
		l := New(c)
		const size = 1200
		gap := time.Duration(int64(size) * 8 * int64(time.Second) / (2 * c.Rate))
		now := t0
		var first, last time.Time
		maxWait := time.Duration(0)
		for now.Before(t0.Add(4 * time.Second)) {
			at, fate := l.Send(now, size)
			if fate == Delivered {
				if first.IsZero() {
					first = at
				}
				last = at
				maxWait = max(maxWait, at.Sub(now)-c.Delay)
			}
			now = now.Add(gap)
		}
		st := l.Stats()
		// Deliveries are back to back: (n-1) datagrams follow the first.
		rate := float64(st.Delivered-1) * size * 8 / last.Sub(first).Seconds()
		if math.Abs(rate/float64(c.Rate)-1) > 0.001 {
			t.Errorf("%+v: delivered %.0f bit/s", c, rate)
		}
		// Accepted: what the link sent in 4 s plus what fills its queue.
		want := (float64(c.Rate)/8*4 + float64(l.QueueLimit())) / size
		if math.Abs(float64(st.Delivered)-want) > 2 || st.Delivered+st.QueueDrops != st.Packets {
			t.Errorf("%+v: accepted %d of %d datagrams (dropped %d), want %.0f", c, st.Delivered, st.Packets, st.QueueDrops, want)
		}
		queueTime := time.Duration(int64(l.QueueLimit()) * 8 * int64(time.Second) / c.Rate)
		txTime := time.Duration(size * 8 * int64(time.Second) / c.Rate)
		if maxWait > queueTime+txTime || maxWait < queueTime-2*txTime {
			t.Errorf("%+v: longest wait %v, queue of %d bytes is %v", c, maxWait, l.QueueLimit(), queueTime)
		}
		if p95 := l.QueueDelay(0.95); p95 > queueTime || p95 < queueTime/2 {
			t.Errorf("%+v: queue delay p95 %v with a full queue of %v", c, p95, queueTime)
		}
	}
}

// The default queue is one bandwidth-delay product.
func TestDefaultQueueIsBDP(t *testing.T) {
	c := Config{Rate: 10_000_000, Delay: 25 * time.Millisecond}
	if got := New(c).QueueLimit(); got != 62_500 {
		t.Errorf("queue %d bytes, want 62500", got)
	}
	if got := New(Config{Rate: 1000}).QueueLimit(); got != MinQueueBytes {
		t.Errorf("queue %d, want the minimum", got)
	}
}

// Random loss hits the configured fraction.
func TestRandomLoss(t *testing.T) {
	l := New(Config{Delay: time.Millisecond, LossPct: 2, Seed: 7})
	const n = 100_000
	for i := range n {
		l.Send(t0.Add(time.Duration(i)*time.Millisecond), 100)
	}
	st := l.Stats()
	// Binomial standard deviation is 44 datagrams; allow 5 of them.
	if d := math.Abs(float64(st.Lost) - 0.02*n); d > 220 {
		t.Errorf("lost %d of %d at 2%%", st.Lost, n)
	}
	if st.Lost+st.Delivered != n {
		t.Errorf("lost %d + delivered %d != %d", st.Lost, st.Delivered, n)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{Rate: -1}, {Delay: -1}, {QueueBytes: -1}, {LossPct: 101}, {LossPct: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if (Config{Rate: 1, LossPct: 100}).Validate() != nil {
		t.Error("valid config rejected")
	}
}
