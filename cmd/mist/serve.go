package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mistnet/mist/ca"
	"github.com/mistnet/mist/service"
	"github.com/mistnet/mist/service/relay"
	"github.com/mistnet/mist/service/signaling"
)

func init() {
	register("serve", command{
		summary: "self-hosted network service: signaling, STUN, TURN, certificates",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runServe(interruptContext(), args, stdout, stderr)
		},
	})
}

const serveUsage = `Usage: mist serve [--addr IP] [--signal-port 10000] [--stun-port 3478]
                  [--turn-user U --turn-pass P | --turn-secret S | --no-turn]
                  [--relay-ip IP] [--trust CA.pub] [--nats URL] [--web ADDR]

Runs what P2P peers need from a service, in one process: signaling on TCP
(GNS's trivial signaling protocol, so GNS and mist peers can use it), and
STUN and TURN on UDP. The relay is never open: allocations need the static
credential (--turn-user/--turn-pass) or short-lived ones made with
--turn-secret. With --trust, peers must prove their identity with a
certificate from that CA ('mist ca'), and each proven peer is handed
short-lived TURN credentials. With --nats, nodes sharing a NATS server form
one network. Logs are structured (key=value) on standard error; counters are
logged every --stats-interval. Interrupt or SIGTERM shuts down cleanly.

Flags:
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mist serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "local IP address to listen on (default: all interfaces)")
	signalPort := fs.Int("signal-port", signaling.DefaultPort, "signaling TCP port (0 picks a free one)")
	stunPort := fs.Int("stun-port", relay.DefaultPort, "STUN/TURN UDP port (0 picks a free one)")
	turnUser := fs.String("turn-user", "", "static TURN username (with --turn-pass)")
	turnPass := fs.String("turn-pass", "", "static TURN password")
	turnSecret := fs.String("turn-secret", "", "secret for short-lived TURN credentials (share it between nodes)")
	noTURN := fs.Bool("no-turn", false, "answer STUN only; relay nothing")
	relayIP := fs.String("relay-ip", "", "address peers reach relayed allocations at (default: --addr, else this host's outgoing address)")
	trust := fs.String("trust", "", "CA public key file (ca.pub): accept only registrations proven with its certificates")
	natsURL := fs.String("nats", "", "NATS URL joining this node to others, e.g. nats://127.0.0.1:4222")
	nodeName := fs.String("node", "", "this node's name on NATS (default: random)")
	statsInterval := fs.Duration("stats-interval", time.Minute, "how often counters are logged (0: never)")
	level := fs.String("log-level", "info", "least severe log level shown: debug, info, warn or error")
	web := fs.String("web", "", "serve the operator's live page and Prometheus /metrics on `ADDR` (host:port, :0 for a free port)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mist serve: "+format+"\n", a...)
		return 2
	}
	var cfg service.Config
	if *addr != "" {
		a, err := netip.ParseAddr(*addr)
		if err != nil || a.Zone() != "" {
			return bad("--addr %q is not an IP address (try 127.0.0.1, ::1 or 0.0.0.0)", *addr)
		}
		cfg.Addr = a
	}
	if *relayIP != "" {
		a, err := netip.ParseAddr(*relayIP)
		if err != nil || a.IsUnspecified() {
			return bad("--relay-ip %q: give the IP address peers reach this host at", *relayIP)
		}
		cfg.RelayIP = a
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"--signal-port", *signalPort}, {"--stun-port", *stunPort}} {
		if p.v < 0 || p.v > 65535 {
			return bad("invalid %s %d: use a number from 1 to 65535 (or 0 for any free port)", p.name, p.v)
		}
	}
	cfg.SignalPort, cfg.STUNPort = *signalPort, *stunPort
	switch {
	case (*turnUser == "") != (*turnPass == ""):
		return bad("--turn-user and --turn-pass go together: give both")
	case *noTURN && (*turnUser != "" || *turnSecret != ""):
		return bad("--no-turn runs no relay: drop it, or drop the TURN credentials")
	case !*noTURN && *turnUser == "" && *turnSecret == "" && *trust == "":
		return bad("TURN needs credentials: give --turn-user U --turn-pass P, --turn-secret S, or --trust CA.pub (proven peers get short-lived credentials); or --no-turn for STUN only")
	case strings.ContainsAny(*turnUser, ":"):
		return bad("--turn-user %q: a static username may not contain ':' (that form is reserved for short-lived credentials)", *turnUser)
	}
	cfg.NoTURN, cfg.TURNUser, cfg.TURNPass = *noTURN, *turnUser, *turnPass
	if *turnSecret != "" {
		cfg.TURNSecret = []byte(*turnSecret)
	}
	if *trust != "" {
		t, err := ca.LoadTrust(*trust)
		if err != nil {
			return bad("--trust: %v", err)
		}
		cfg.Trust = t
	}
	if *web != "" {
		if _, _, err := net.SplitHostPort(*web); err != nil {
			return bad("--web %q: want host:port or :port", *web)
		}
	}
	if *statsInterval < 0 {
		return bad("--stats-interval %v: give a positive duration, or 0 for never", *statsInterval)
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return bad("%v", err)
	}
	cfg.Logger = log
	if *natsURL != "" {
		join, err := natsCluster(*natsURL, *nodeName)
		if err != nil {
			return bad("%v", err)
		}
		cfg.Cluster = join
	}
	node, err := service.Start(cfg)
	if errors.Is(err, service.ErrNoRelayAddr) {
		fmt.Fprintln(stderr, "mist serve: cannot tell the address peers reach this host at: give --relay-ip IP (or --addr IP)")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "mist serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Signaling at %s\n", node.SignalAddr())
	if a := node.STUNAddr(); a != nil {
		fmt.Fprintf(stdout, "STUN/TURN at %s\n", a)
	}
	if *web != "" {
		stop, err := serveOperatorPage(*web, node, stdout)
		if err != nil {
			node.Close()
			fmt.Fprintf(stderr, "mist serve: --web: %v\n  Is the port in use? Choose another, or :0 for a free one.\n", err)
			return 1
		}
		defer stop()
	}
	if err := node.Run(ctx, *statsInterval); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "mist serve: %v\n", err)
		return 1
	}
	return 0
}
