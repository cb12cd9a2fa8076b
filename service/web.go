package service

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed web/index.html
var operatorPage []byte

// WebHandler serves the operator's page of a node: "/" a live page of its
// figures (the browser polls "/stats" once a second and keeps the
// history), "/stats" the counters as JSON, "/metrics" the Prometheus text
// of reg, to which the node's Collector is added. Nothing is sampled
// unless a page or a scraper asks.
func WebHandler(n *Node, reg *prometheus.Registry) (http.Handler, error) {
	if err := reg.Register(NewCollector(n)); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(operatorPage)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(struct {
			Time  time.Time `json:"time"`
			Stats Stats     `json:"stats"`
		}{time.Now(), n.Stats()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux, nil
}
