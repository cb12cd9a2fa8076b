// Package dashboard serves a live web page and Prometheus metrics for a
// [mist.Sockets].
//
// The page shows a table of the instance's connections (state, identity,
// address and route, ping, quality, rates, send rate, queues, lanes) and
// per-connection charts of ping, rate and loss over the last minutes,
// updated once a second by server-sent events. Its assets are embedded;
// it works offline. /metrics serves the Prometheus text format.
//
// An instance pays nothing for a dashboard nobody looks at: the page's
// sampler runs only while a page is open, and metrics are read when
// scraped. Both read the instance through its public observation calls,
// which leave what ConnectionRealTimeStatus reports to the application
// undisturbed.
package dashboard

import (
	"embed"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mistnet/mist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var static embed.FS

// Options configure a [Handler]. The zero value is usable.
type Options struct {
	// Registry serves /metrics and receives the instance's collector. Nil
	// makes a new registry that also holds the Go runtime and process
	// collectors. Other parts of a program (a service's own collectors)
	// register into Handler.Registry.
	Registry *prometheus.Registry
	// ConstLabels are added to the instance's metrics, to tell several
	// instances in one registry apart.
	ConstLabels prometheus.Labels
	// Interval is how often the page's data is sampled; 1 s by default.
	Interval time.Duration
	// History is how far back the charts reach; 5 minutes by default.
	History time.Duration
	// MaxConnections is how many connections the page shows (lowest
	// handles first); 200 by default.
	MaxConnections int
	// MaxViewers is how many pages may stream at once; 32 by default.
	MaxViewers int
	// Title heads the page; "mist" by default.
	Title string
}

// Handler serves the page at /, its event stream at /events and the
// metrics at /metrics. Mount it under a prefix with http.StripPrefix.
type Handler struct {
	reg        *prometheus.Registry
	collector  *Collector
	sampler    *sampler
	maxViewers int
	title      string
	metrics    http.Handler
	files      http.Handler
}

// New makes the handler for s and registers its collector.
func New(s *mist.Sockets, o Options) (*Handler, error) {
	if s == nil {
		return nil, errors.New("dashboard: nil Sockets")
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.History <= 0 {
		o.History = 5 * time.Minute
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 200
	}
	if o.MaxViewers <= 0 {
		o.MaxViewers = 32
	}
	if o.Title == "" {
		o.Title = "mist"
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	col := NewCollector(s, o.ConstLabels)
	if err := reg.Register(col); err != nil {
		return nil, fmt.Errorf("dashboard: registering the mist collector: %w", err)
	}
	historyLen := max(2, int(o.History/o.Interval))
	h := &Handler{
		reg: reg, collector: col, maxViewers: o.MaxViewers, title: o.Title,
		sampler: newSampler(s, o.Interval, historyLen, o.MaxConnections),
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		files:   http.FileServerFS(static),
	}
	return h, nil
}

// Registry is the registry /metrics serves, for further collectors.
func (h *Handler) Registry() *prometheus.Registry { return h.reg }

// Close ends every event stream and stops sampling; the page and metrics
// keep being served.
func (h *Handler) Close() { h.sampler.close() }

// Sampling reports whether the page's sampler is running, which it does
// only while a page is open.
func (h *Handler) Sampling() bool { return h.sampler.running() }

// ServeHTTP serves the page, its assets, the event stream and metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/", "", "/index.html":
		h.servePage(w)
	case "/events":
		h.serveEvents(w, r)
	case "/metrics":
		h.metrics.ServeHTTP(w, r)
	case "/app.js", "/style.css":
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/static" + r.URL.Path
		h.files.ServeHTTP(w, r2)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) servePage(w http.ResponseWriter) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(replaceTitle(page, h.title))
}

// serveEvents streams a frame per sample until the client goes away.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	first, ch, err := h.sampler.subscribe(h.maxViewers)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer h.sampler.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	if writeEvent(w, first) != nil {
		return
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if writeEvent(w, msg) != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, data []byte) error {
	if _, err := w.Write([]byte("data: ")); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	_, err := w.Write([]byte("\n\n"))
	return err
}
