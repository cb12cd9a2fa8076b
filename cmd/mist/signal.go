package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/mistnet/mist/service/signaling"
)

func init() {
	register("signal", command{
		summary: "signaling server speaking GNS's trivial signaling protocol",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runSignal(interruptContext(), args, stdout, stderr)
		},
	})
}

const signalUsage = `Usage: mist signal [--addr IP] [--port 10000] [--log-level info]

A signaling server for P2P connections, speaking the trivial signaling
protocol of GameNetworkingSockets' examples (TCP, one line per message), so
GNS's test_p2p peers and mist peers can find each other by identity. Each
connection is bounded in line length, rate and queued bytes. Logs are
structured (key=value) on standard error. Interrupt or SIGTERM stops it.

Flags:
`

// listenAddr turns --addr and a port into a TCP listen address: all
// interfaces (IPv4 and IPv6) when addr is empty.
func listenAddr(addr string, port int) (string, error) {
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("invalid port %d: use a number from 1 to 65535 (or 0 for any free port)", port)
	}
	if addr == "" {
		return ":" + strconv.Itoa(port), nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("--addr %q is not an IP address (try 127.0.0.1, ::1 or 0.0.0.0)", addr)
	}
	return netip.AddrPortFrom(a, uint16(port)).String(), nil
}

// newLogger makes the structured logger of the service commands.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runSignal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mist signal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "local IP address to listen on (default: all interfaces, IPv4 and IPv6)")
	port := fs.Int("port", signaling.DefaultPort, "TCP port to listen on (0 picks a free one)")
	level := fs.String("log-level", "info", "least severe log level shown: debug, info, warn or error")
	maxLine := fs.Int("max-line", 64<<10, "longest line accepted, in bytes")
	rate := fs.Float64("rate", 200, "lines per second each connection may send (negative: no limit)")
	fs.Usage = func() {
		fmt.Fprint(stderr, signalUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, signalUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mist signal: unexpected argument %q (the server takes only flags)\n", fs.Arg(0))
		return 2
	}
	listen, err := listenAddr(*addr, *port)
	if err != nil {
		fmt.Fprintf(stderr, "mist signal: %v\n", err)
		return 2
	}
	if *maxLine < 64 {
		fmt.Fprintf(stderr, "mist signal: --max-line %d is too small: give at least 64 (GNS signals need a few KB)\n", *maxLine)
		return 2
	}
	if *rate == 0 {
		fmt.Fprintln(stderr, "mist signal: --rate 0 would block every client: give a positive rate, or a negative one for no limit")
		return 2
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintf(stderr, "mist signal: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(stderr, "mist signal: cannot listen on %s: %v\n", listen, err)
		return 1
	}
	fmt.Fprintf(stdout, "Listening at %s\n", ln.Addr())
	srv := signaling.New(signaling.Config{MaxLineBytes: *maxLine, LinesPerSecond: *rate, Logger: log})
	return serveUntilDone(ctx, log, srv, ln)
}

// serveUntilDone runs srv on ln until ctx ends, then closes it within a
// few seconds.
func serveUntilDone(ctx context.Context, log *slog.Logger, srv *signaling.Server, ln net.Listener) int {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		log.Error("signaling server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown did not finish", "err", err)
		return 1
	}
	<-errc
	st := srv.Stats()
	log.Info("stopped", "signals_forwarded", st.SignalsForwarded, "dropped_unknown_dest", st.DroppedUnknownDest, "dropped_queue_full", st.DroppedQueueFull)
	return 0
}
