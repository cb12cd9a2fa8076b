package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/dashboard"
)

// webFlagUsage describes the --web flag of the commands that have one.
const webFlagUsage = "serve a live dashboard of the connections and Prometheus /metrics on this TCP address, e.g. :8080 or 127.0.0.1:0"

// webServer serves the dashboard of one Sockets over HTTP.
type webServer struct {
	srv  *http.Server
	dash *dashboard.Handler
	url  string
	done chan struct{}
}

// startWeb listens on addr and serves the dashboard of s there.
func startWeb(addr string, s *mist.Sockets, title string) (*webServer, error) {
	dash, err := dashboard.New(s, dashboard.Options{Title: title})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve the dashboard on %q: %w", addr, err)
	}
	w := &webServer{
		srv:  &http.Server{Handler: dash, ReadHeaderTimeout: 10 * time.Second},
		dash: dash,
		url:  webURL(l.Addr()),
		done: make(chan struct{}),
	}
	go func() {
		defer close(w.done)
		w.srv.Serve(l)
	}()
	return w, nil
}

// close ends open pages' streams and stops serving.
func (w *webServer) close() {
	w.dash.Close()
	w.srv.Close()
	<-w.done
}

// webURL is the address to open in a browser for a listener on a: the
// unspecified address becomes localhost.
func webURL(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/"
	}
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port)) + "/"
}

// serveWeb starts the dashboard when addr is set, printing its URL with the
// command's name as prefix. It returns how to stop it, or an exit code of 1
// after printing why it could not start.
func serveWeb(addr string, s *mist.Sockets, name string, stdout, stderr io.Writer) (stop func(), code int) {
	if addr == "" {
		return func() {}, 0
	}
	w, err := startWeb(addr, s, name)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			fmt.Fprintf(stderr, "%s: --web: %v\n  Is the port in use? Choose another, or :0 for a free one.\n", name, err)
		} else {
			fmt.Fprintf(stderr, "%s: --web: %v\n", name, err)
		}
		return nil, 1
	}
	fmt.Fprintf(stdout, "%s: dashboard on %s (metrics at %smetrics)\n", name, w.url, w.url)
	return w.close, 0
}

// webDemoDuration is how long the demo sends by default when it serves a
// dashboard: long enough to look at it.
const webDemoDuration = 10 * time.Minute

// flagGiven reports whether the command line set the named flag.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
