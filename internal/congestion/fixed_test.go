package congestion

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFixedRateSelection(t *testing.T) {
	tests := []struct {
		name             string
		minRate, maxRate int
		rtt              time.Duration // first ack sample; 0 for none
		want             int
	}{
		{"default equal pair", 262144, 262144, 0, 262144},
		{"equal pair ignores rtt", 262144, 262144, 10 * time.Millisecond, 262144},
		{"200ms assumed before a sample", 1024, 1 << 20, 0, 21900},
		{"estimate from first sample", 1024, 1 << 20, 20 * time.Millisecond, 219000},
		{"estimate clamped to max", 1024, 100000, time.Millisecond, 100000},
		{"estimate clamped to min", 50000, 1 << 20, 0, 50000},
		{"below floor", 10, 10, 0, 1024},
		{"above ceiling", math.MaxInt32 + 1, math.MaxInt32 + 1, 0, math.MaxInt32},
		{"max raised to min", 300000, 2000, 0, 300000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFixed(tt.minRate, tt.maxRate)
			if tt.rtt > 0 {
				f.OnAck(t0, 1200, tt.rtt)
				// Only the first sample counts.
				f.OnAck(t0, 1200, 3*tt.rtt)
			}
			if got := f.Rate(); got != tt.want {
				t.Errorf("Rate() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFixedBucket(t *testing.T) {
	const rate = 100000 // 100 bytes per millisecond
	f := NewFixed(rate, rate)
	f.Reset(t0)
	if d := f.TimeUntilSend(t0); d != 0 {
		t.Fatalf("full bucket: TimeUntilSend = %v, want 0", d)
	}
	// 1248 tokens, a 1300-byte datagram overdraws by 52 bytes = 520 µs.
	f.OnPacketSent(t0, 1300)
	if d, want := f.TimeUntilSend(t0), 520*time.Microsecond+time.Microsecond; d != want {
		t.Fatalf("after overdraw: TimeUntilSend = %v, want %v", d, want)
	}
	now := t0.Add(521 * time.Microsecond)
	if d := f.TimeUntilSend(now); d != 0 {
		t.Fatalf("after waiting: TimeUntilSend = %v, want 0", d)
	}
	// An idle second refills only up to the burst allowance.
	now = now.Add(time.Second)
	f.OnPacketSent(now, 1248)
	if d := f.TimeUntilSend(now); d != 0 {
		t.Fatalf("burst allowance: TimeUntilSend = %v, want 0", d)
	}
	f.OnPacketSent(now, 100)
	if d, want := f.TimeUntilSend(now), time.Millisecond+time.Microsecond; d != want {
		t.Fatalf("past burst: TimeUntilSend = %v, want %v", d, want)
	}
	// A send error costs one millisecond of tokens from wherever it is.
	f.Reset(now)
	f.OnSendError(now)
	if d, want := f.TimeUntilSend(now), time.Millisecond+time.Microsecond; d != want {
		t.Fatalf("after send error: TimeUntilSend = %v, want %v", d, want)
	}
}

// TestFixedPacing checks the long-run rate: a sender that sends whenever
// allowed moves rate bytes per second (plus one burst).
func TestFixedPacing(t *testing.T) {
	const rate = 262144
	f := NewFixed(rate, rate)
	f.Reset(t0)
	now, sent := t0, 0
	end := t0.Add(10 * time.Second)
	for now.Before(end) {
		if d := f.TimeUntilSend(now); d > 0 {
			now = now.Add(d)
			continue
		}
		f.OnPacketSent(now, 1200)
		sent += 1200
	}
	want := 10*rate + BurstBytes
	if sent < want-1200 || sent > want+1200 {
		t.Fatalf("sent %d bytes in 10 s, want %d ± 1200", sent, want)
	}
}

// TestBurstScalesWithRate: after an idle spell the bucket holds BurstTime
// of the rate at high rates, and one GNS burst at low ones.
func TestBurstScalesWithRate(t *testing.T) {
	for _, tc := range []struct {
		rate int
		want float64 // bytes that may go at one instant after idling
	}{
		{rate: 128 << 10, want: BurstBytes},
		{rate: 100e6, want: 100e6 * BurstTime.Seconds()},
	} {
		f := NewFixed(tc.rate, tc.rate)
		start := time.Unix(0, 0)
		f.Reset(start)
		now := start.Add(time.Second) // idle: the bucket is full
		sent := 0
		for f.TimeUntilSend(now) == 0 {
			f.OnPacketSent(now, 1200)
			sent += 1200
		}
		// The last packet may overdraw by up to one packet.
		if float64(sent) < tc.want || float64(sent) > tc.want+1200 {
			t.Errorf("rate %d: %d bytes went at once, want %.0f (+ one packet)", tc.rate, sent, tc.want)
		}
	}
}
