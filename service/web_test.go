package service

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestWebHandlerShowsRealTraffic: after two GNS-style peers exchange a
// signal and a TURN client relays through the node, /metrics reports
// exactly that, /stats agrees and the page is served.
func TestWebHandlerShowsRealTraffic(t *testing.T) {
	n, err := Start(Config{Addr: loopback(), TURNUser: "game", TURNPass: "secret", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h, err := WebHandler(n, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(h)
	defer web.Close()

	register := func(id string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", n.SignalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte(id + "\n"))
		return c, bufio.NewReader(c)
	}
	alice, _ := register("str:alice")
	_, bob := register("str:bob")
	for n.Stats().Signaling.RegisteredPeers != 2 {
		time.Sleep(time.Millisecond)
	}
	alice.Write([]byte("str:bob 0a0b\n"))
	if line, err := bob.ReadString('\n'); err != nil || line != "str:alice 0a0b\n" {
		t.Fatalf("bob got %q, %v", line, err)
	}
	alice.Write([]byte("str:nobody 0a0b\n"))

	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer pc.Close()
	client, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: n.STUNAddr().String(), STUNServerAddr: n.STUNAddr().String(),
		Username: "game", Password: "secret", Realm: "mist", Conn: pc})
	if err != nil {
		t.Fatal(err)
	}
	client.Listen()
	defer client.Close()
	relayConn, err := client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relayConn.Close()
	peer, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer peer.Close()
	buf := make([]byte, 64)
	for i := 0; ; i++ {
		relayConn.WriteTo([]byte("via relay"), peer.LocalAddr())
		peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if k, _, err := peer.ReadFrom(buf); err == nil && string(buf[:k]) == "via relay" {
			break
		}
		if i == 50 {
			t.Fatal("nothing relayed")
		}
	}
	for n.Stats().Signaling.DroppedUnknownDest == 0 {
		time.Sleep(time.Millisecond)
	}

	resp, err := http.Get(web.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		f := families[name]
		if f == nil {
			t.Fatalf("/metrics has no %s", name)
		}
	metrics:
		for _, m := range f.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.Label {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
		t.Fatalf("/metrics has no %s%v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   func(float64) bool
		what   string
	}{
		{"mist_service_registered_peers", nil, func(v float64) bool { return v == 2 }, "2"},
		{"mist_service_signals_forwarded_total", nil, func(v float64) bool { return v == 1 }, "1"},
		{"mist_service_signals_dropped_total", []string{"reason", "unknown_destination"}, func(v float64) bool { return v == 1 }, "1"},
		{"mist_service_relay_allocations", nil, func(v float64) bool { return v == 1 }, "1"},
		{"mist_service_relay_allocations_total", nil, func(v float64) bool { return v == 1 }, "1"},
		{"mist_service_relayed_bytes_total", nil, func(v float64) bool { return v >= float64(len("via relay")) }, "at least one payload"},
		{"mist_service_relayed_packets_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
	} {
		if v := value(c.name, c.labels...); !c.want(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.what)
		}
	}

	if families["mist_service_cluster_connected"] != nil {
		t.Error("a standalone node exports mist_service_cluster_connected")
	}

	resp, err = http.Get(web.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Stats Stats }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Stats.Signaling.RegisteredPeers != 2 || got.Stats.Relay.AllocationsTotal != 1 {
		t.Errorf("/stats %+v", got.Stats)
	}
	resp, err = http.Get(web.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<title>mist serve</title>") || !strings.Contains(string(page), `fetch("stats"`) {
		t.Errorf("page: %d, %d bytes", resp.StatusCode, len(page))
	}
}
