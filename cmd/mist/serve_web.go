package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mistnet/mist/service"
	"github.com/prometheus/client_golang/prometheus"
)

// serveOperatorPage serves the node's live page and /metrics on addr and
// prints the URL; stop shuts the server down.
func serveOperatorPage(addr string, node *service.Node, stdout io.Writer) (stop func(), err error) {
	h, err := service.WebHandler(node, prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "mist serve: operator page on %s (metrics at %smetrics)\n", webURL(ln.Addr()), webURL(ln.Addr()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
