package harness

import (
	"errors"
	"testing"
	"time"
)

func TestQuantileNearestRank(t *testing.T) {
	s := make([]time.Duration, 1000)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Microsecond
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0, time.Microsecond}} {
		if got := quantile(s, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of no samples should be 0")
	}
}

func TestCDFMonotonic(t *testing.T) {
	s := make([]time.Duration, 10000)
	for i := range s {
		s[i] = time.Duration(i*i) * time.Nanosecond
	}
	pts := cdf(s, 200)
	if len(pts) < 100 || len(pts) > 200 {
		t.Fatalf("%d points", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i][0] < pts[i-1][0] || pts[i][1] <= pts[i-1][1] {
			t.Fatalf("not increasing at %d: %v then %v", i, pts[i-1], pts[i])
		}
	}
	if last := pts[len(pts)-1]; last[1] < 0.999 {
		t.Errorf("tail stops at fraction %v", last[1])
	}
}

func TestStatsLineRoundTrip(t *testing.T) {
	in := ServerStats{CPU: 1234567 * time.Microsecond, RSS: 42 << 20, Conns: 9999}
	out, err := parseStats(formatStats(in))
	if err != nil || out != in {
		t.Fatalf("parseStats(formatStats(%+v)) = %+v, %v", in, out, err)
	}
	for _, bad := range []string{"", "addr x", "stats cpu_ns=x"} {
		if _, err := parseStats(bad); err == nil {
			t.Errorf("parseStats(%q) succeeded", bad)
		}
	}
}

func TestLossPct(t *testing.T) {
	if got := lossPct(200, 150); got != 25 {
		t.Errorf("lossPct(200, 150) = %v", got)
	}
	if lossPct(0, 0) != 0 || lossPct(10, 12) != 0 {
		t.Error("no loss expected without sends or with over-delivery")
	}
}

func TestFirstError(t *testing.T) {
	if firstError([]error{nil, nil}) != nil {
		t.Error("no errors should give nil")
	}
	a, b := errors.New("a"), errors.New("b")
	err := firstError([]error{nil, a, b, b})
	if !errors.Is(err, a) || err.Error() != "a (and 2 more)" {
		t.Errorf("firstError = %v", err)
	}
}
