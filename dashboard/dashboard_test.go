package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// loopbackPair makes an instance with a connected UDP pair and sends n
// reliable messages of size bytes from a to b, receiving them all.
func loopbackPair(t *testing.T, n, size int) (*mist.Sockets, mist.Conn, mist.Conn) {
	t.Helper()
	s, err := mist.New(mist.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a, b, ok := s.CreateSocketPair(true, nil, nil)
	if !ok {
		t.Fatal("CreateSocketPair failed")
	}
	traffic(t, s, a, b, n, size)
	return s, a, b
}

func traffic(t *testing.T, s *mist.Sockets, a, b mist.Conn, n, size int) {
	t.Helper()
	payload := make([]byte, size)
	for range n {
		if _, r := s.SendMessageToConnection(a, payload, mist.SendReliable); r != mist.ResultOK {
			t.Fatalf("send: %v", r)
		}
	}
	s.FlushMessagesOnConnection(a)
	out := make([]*mist.Message, 64)
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < n && time.Now().Before(deadline); {
		k := s.ReceiveMessagesOnConnection(b, out)
		for _, m := range out[:k] {
			m.Release()
		}
		got += k
		if k == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if got < n {
		t.Fatalf("received %d of %d messages", got, n)
	}
}

func TestMetricsFollowTrafficAndNeverGoDown(t *testing.T) {
	s, a, b := loopbackPair(t, 40, 1000)
	reg := prometheus.NewRegistry()
	h, err := New(s, Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mist_connections Connections the application holds, by state.
# TYPE mist_connections gauge
mist_connections{state="closed_by_peer"} 0
mist_connections{state="connected"} 2
mist_connections{state="connecting"} 0
mist_connections{state="finding_route"} 0
mist_connections{state="problem_detected_locally"} 0
`), "mist_connections"); err != nil {
		t.Error(err)
	}
	sent := testutil.ToFloat64(collectorMetric(t, reg, "mist_sent_bytes_total"))
	recv := testutil.ToFloat64(collectorMetric(t, reg, "mist_received_bytes_total"))
	if sent < 40*1000 || recv < 40*1000 {
		t.Fatalf("sent %v received %v bytes, want at least 40000 each", sent, recv)
	}
	// A connection that goes keeps its share of the totals.
	s.CloseConnection(a, 0, "", false)
	s.CloseConnection(b, 0, "", false)
	if after := testutil.ToFloat64(collectorMetric(t, reg, "mist_sent_bytes_total")); after < sent {
		t.Errorf("mist_sent_bytes_total went down from %v to %v after closing", sent, after)
	}

	// The text format over HTTP, with the conventional names.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, name := range []string{"mist_sent_packets_total", "mist_retransmitted_segments_total",
		`mist_dropped_packets_total{reason="decrypt_failed"}`, "mist_handshake_connect_requests_total",
		"mist_pending_reliable_bytes", "mist_receive_queue_messages"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// collectorMetric gathers reg and returns a collector of the one metric name.
func collectorMetric(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if len(mf.Metric) != 1 {
				t.Fatalf("%s has %d series", name, len(mf.Metric))
			}
			v := mf.Metric[0].GetCounter().GetValue()
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			g.Set(v)
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func TestRegistryHookTakesOtherCollectors(t *testing.T) {
	s, _, _ := loopbackPair(t, 1, 10)
	h, err := New(s, Options{ConstLabels: prometheus.Labels{"instance_name": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	peers := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mist_service_peers", Help: "Registered peers."})
	peers.Set(7)
	h.Registry().MustRegister(peers)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "mist_service_peers 7") {
		t.Errorf("/metrics lacks the registered collector")
	}
	// A second collector with the same labels collides.
	if _, err := New(s, Options{Registry: h.Registry(), ConstLabels: prometheus.Labels{"instance_name": "a"}}); err == nil {
		t.Error("a second dashboard with the same ConstLabels registered")
	}
	if _, err := New(s, Options{Registry: h.Registry(), ConstLabels: prometheus.Labels{"instance_name": "b"}}); err != nil {
		t.Errorf("with ConstLabels: %v", err)
	}
}

func TestPageAndAssets(t *testing.T) {
	s, _, _ := loopbackPair(t, 1, 10)
	h, err := New(s, Options{Title: "game <server>"})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/": "game &lt;server&gt;", "/app.js": "EventSource", "/style.css": ".chart-card",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, rec.Code, want)
		}
	}
	for path, code := range map[string]int{"/nope": 404, "/static/app.js": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != code {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", rec.Code)
	}
}

func TestEventsStreamSamplesOnlyWhileWatched(t *testing.T) {
	s, a, b := loopbackPair(t, 5, 500)
	h, err := New(s, Options{Interval: 50 * time.Millisecond, MaxViewers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	if h.Sampling() {
		t.Fatal("sampling before any page is open")
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	// A second viewer beyond MaxViewers is refused.
	if r2, err := http.Get(srv.URL + "/events"); err == nil {
		if r2.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("second viewer: %d, want 503", r2.StatusCode)
		}
		r2.Body.Close()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var frames []frame
	for len(frames) < 4 && sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var f frame
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("frame %q: %v", line, err)
		}
		frames = append(frames, f)
		traffic(t, s, a, b, 5, 500)
	}
	if len(frames) < 4 {
		t.Fatalf("got %d frames: %v", len(frames), sc.Err())
	}
	if frames[0].History == nil {
		t.Error("the first frame carries no history")
	}
	last := frames[len(frames)-1]
	if last.Total != 2 || len(last.Rows) != 2 || len(last.Points) != 2 {
		t.Fatalf("last frame: total %d rows %d points %d, want 2 each", last.Total, len(last.Rows), len(last.Points))
	}
	var moving bool
	for _, r := range last.Rows {
		if r.State != "Connected" || !strings.HasPrefix(r.Route, "direct UDP") || r.Addr == "" {
			t.Errorf("row %+v", r)
		}
		moving = moving || r.OutBps > 0
	}
	if !moving {
		t.Error("no row shows an outgoing rate while traffic flows")
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for h.Sampling() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.Sampling() {
		t.Error("still sampling after the last page closed")
	}
}

func TestHistoryRingKeepsTheNewest(t *testing.T) {
	var tr tracked
	for i := range 10 {
		tr.add(point{T: int64(i)}, 4)
	}
	got := tr.points()
	if len(got) != 4 || got[0].T != 6 || got[3].T != 9 {
		t.Errorf("points %v, want T 6..9", got)
	}
}
