package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mistnet/mist"
)

func init() {
	register("chat", command{
		summary: "chat server and client, compatible with GNS's example_chat",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runChat(interruptContext(), args, os.Stdin, stdout, stderr)
		},
	})
}

const chatUsage = `Usage:
  mist chat server [--port PORT] [--bind ADDR] [--cert FILE] [--trust CA.pub] [--unencrypted] [--stats] [--web ADDR]
  mist chat client [--cert FILE] [--trust CA.pub] [--unencrypted] [--stats] [--timeout D] [--web ADDR] SERVER_ADDR

A text chat over Steam Networking Sockets that speaks the protocol of
GameNetworkingSockets' example_chat: GNS and mist clients can talk on either
server. Lines typed on standard input are sent as reliable messages.

The server gives each client a nick and relays what they say to everyone
else. Clients may type '/nick NAME' to rename themselves and '/quit' to leave;
the server's own console understands '/quit'.

SERVER_ADDR is an IPv4 or IPv6 address or a host name, with an optional port
(default %d): 127.0.0.1, 127.0.0.1:27020, ::1, [::1]:27020, localhost:27020.

With --cert each side presents a certificate issued with 'mist ca issue';
with --trust it accepts only peers whose certificate that CA signed (GNS's
IP_AllowWithoutAuth 0). A --trust server ignores other clients, which time
out; a --trust client refuses such a server with the reason.

Flags:
`

// chatOptions are the flags both roles share.
type chatOptions struct {
	unencrypted   bool
	stats         bool
	statsInterval time.Duration
	timeout       time.Duration // client: how long to try connecting
	web           string
	creds         credentialFlags
}

// statsTicker ticks every --stats-interval when --stats is on and never
// otherwise; stop releases it.
func (o chatOptions) statsTicker() (ticks <-chan time.Time, stop func()) {
	if !o.stats {
		return nil, func() {}
	}
	t := time.NewTicker(o.statsInterval)
	return t.C, t.Stop
}

// configValues are the connection options the flags ask for.
func (o chatOptions) configValues() []mist.ConfigValue {
	var opts []mist.ConfigValue
	if o.unencrypted {
		// 2 = "allowed and preferred": plaintext with a mist peer that
		// also allows it, and still encrypted with a GNS peer left at its
		// default, which refuses plaintext. 3 ("required") would cut those
		// peers off.
		opts = append(opts, mist.Int32Value(mist.OptUnencrypted, 2))
	}
	if o.timeout > 0 {
		opts = append(opts, mist.Int32Value(mist.OptTimeoutInitial, int32(min(o.timeout.Milliseconds(), math.MaxInt32))))
	}
	return opts
}

// check returns what is wrong with the flags, or "".
func (o chatOptions) check() string {
	if o.statsInterval <= 0 {
		return fmt.Sprintf("--stats-interval %v: give a positive duration such as 5s", o.statsInterval)
	}
	return ""
}

func (o *chatOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.unencrypted, "unencrypted", false,
		"prefer unencrypted packets (used only if the peer allows them too; GNS peers by default do not)")
	fs.BoolVar(&o.stats, "stats", false, "print connection statistics periodically")
	fs.DurationVar(&o.statsInterval, "stats-interval", 5*time.Second, "how often --stats prints")
	fs.StringVar(&o.web, "web", "", webFlagUsage)
	o.creds.register(fs)
}

// runChat is the chat command with its input and a context for shutdown
// (interrupts) made explicit, so tests can drive it.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, chatUsage, defaultChatPort)
		printChatFlags(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, chatUsage, defaultChatPort)
		printChatFlags(stdout)
		return 0
	case "server":
		return runChatServerCommand(ctx, args[1:], stdin, stdout, stderr)
	case "client":
		return runChatClientCommand(ctx, args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "mist chat: unknown role %q: use 'server' or 'client'\n\n", args[0])
	fmt.Fprintf(stderr, chatUsage, defaultChatPort)
	printChatFlags(stderr)
	return 2
}

func printChatFlags(w io.Writer) {
	var o chatOptions
	var port int
	var bind string
	fs := newChatFlagSet("mist chat", w, &o, &port, &bind, true)
	fs.PrintDefaults()
}

// newChatFlagSet declares the chat flags: the shared ones, the server's
// (port and bind, when given somewhere to store them) and the client's.
func newChatFlagSet(name string, w io.Writer, o *chatOptions, port *int, bind *string, client bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	o.register(fs)
	if port != nil {
		fs.IntVar(port, "port", defaultChatPort, "server: UDP port to listen on (0 picks a free one)")
	}
	if bind != nil {
		fs.StringVar(bind, "bind", "", "server: local IP address to listen on (default: all interfaces, IPv4 and IPv6)")
	}
	if client {
		fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "client: give up connecting after this long")
	}
	return fs
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// After "--" (which Parse consumes) everything is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func runChatServerCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o chatOptions
	port := defaultChatPort
	var bind string
	fs := newChatFlagSet("mist chat server", stderr, &o, &port, &bind, false)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mist chat server [--port PORT] [--bind ADDR] [--cert FILE] [--trust CA.pub] [--unencrypted] [--stats] [--web ADDR]")
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "mist chat server: unexpected argument %q (the server takes only flags)\n", rest[0])
		return 2
	}
	if msg := o.check(); msg != "" {
		fmt.Fprintf(stderr, "mist chat server: %s\n", msg)
		return 2
	}
	if msg := o.creds.load(); msg != "" {
		fmt.Fprintf(stderr, "mist chat server: %s\n", msg)
		return 2
	}
	if port < 0 || port > 65535 {
		fmt.Fprintf(stderr, "mist chat server: invalid port %d: use a number from 1 to 65535 (or 0 for any free port)\n", port)
		return 2
	}
	local := netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port))
	if bind != "" {
		a, err := netip.ParseAddr(bind)
		if err != nil {
			fmt.Fprintf(stderr, "mist chat server: --bind %q is not an IP address (try 127.0.0.1, ::1 or 0.0.0.0)\n", bind)
			return 2
		}
		local = netip.AddrPortFrom(a.Unmap(), uint16(port))
	}
	input := newLineReader(stdin)
	defer input.stop()
	return runChatServer(ctx, local, o, input, stdout, stderr)
}

func runChatClientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o chatOptions
	fs := newChatFlagSet("mist chat client", stderr, &o, nil, nil, true)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mist chat client [--cert FILE] [--trust CA.pub] [--unencrypted] [--stats] [--timeout D] [--web ADDR] SERVER_ADDR")
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	switch len(rest) {
	case 0:
		fmt.Fprintln(stderr, "mist chat client: missing server address (for example: mist chat client 127.0.0.1:27020)")
		return 2
	case 1:
	default:
		fmt.Fprintf(stderr, "mist chat client: too many arguments %q: give one server address\n", rest)
		return 2
	}
	if msg := o.check(); msg != "" {
		fmt.Fprintf(stderr, "mist chat client: %s\n", msg)
		return 2
	}
	if msg := o.creds.load(); msg != "" {
		fmt.Fprintf(stderr, "mist chat client: %s\n", msg)
		return 2
	}
	if o.timeout <= 0 {
		fmt.Fprintf(stderr, "mist chat client: --timeout %v: give a positive duration such as 10s\n", o.timeout)
		return 2
	}
	server, err := parseServerAddr(rest[0], defaultChatPort)
	if err != nil {
		fmt.Fprintf(stderr, "mist chat client: bad %v\n", err)
		return 2
	}
	input := newLineReader(stdin)
	defer input.stop()
	return runChatClient(ctx, server, o, input, stdout, stderr)
}

// lineReader turns an input stream into trimmed, non-blank lines on a
// channel, closed at end of input. Like example_chat it reads from its own
// goroutine so the network loop never blocks on the keyboard.
type lineReader struct {
	lines chan string
	err   error // valid once lines is closed
	done  chan struct{}
}

// stop tells the reader nobody listens any more. A read in progress still
// blocks until input comes or ends.
func (lr *lineReader) stop() { close(lr.done) }

// maxInputLine bounds one input line; longer lines are cut into pieces, as
// example_chat's fixed-size read does.
const maxInputLine = 4000

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(lr.lines)
		br := bufio.NewReaderSize(r, maxInputLine)
		for {
			line, err := br.ReadSlice('\n')
			if s := strings.TrimSpace(string(line)); s != "" {
				select {
				case lr.lines <- s:
				case <-lr.done:
					return
				}
			}
			switch {
			case err == nil, errors.Is(err, bufio.ErrBufferFull):
			case errors.Is(err, io.EOF):
				return
			default:
				lr.err = err
				return
			}
		}
	}()
	return lr
}

// statsLine is one --stats report on a connection.
func statsLine(s *mist.Sockets, c mist.Conn, label string) (string, bool) {
	st, r := s.ConnectionRealTimeStatus(c, nil)
	info, ok := s.ConnectionInfo(c)
	if r != mist.ResultOK || !ok {
		return "", false
	}
	crypto := "encrypted"
	if info.Flags&mist.ConnInfoUnencrypted != 0 {
		crypto = "unencrypted"
	}
	return fmt.Sprintf("stats %s: %s, %s, ping %dms, quality %s, out %s (%.0f pkt/s), in %s (%.0f pkt/s), send rate %s, pending %s reliable / %s unreliable, unacked %s",
		label, st.State, crypto, st.Ping, formatQuality(st.QualityLocal, st.QualityRemote),
		formatRate(st.OutBytesPerSec), st.OutPacketsPerSec, formatRate(st.InBytesPerSec), st.InPacketsPerSec,
		formatRate(float32(st.SendRate)), formatBytes(st.PendingReliable), formatBytes(st.PendingUnreliable),
		formatBytes(st.SentUnackedReliable)), true
}

// drainTimeout bounds how long a closing side waits for its reliable data
// to be acknowledged before it closes anyway.
const drainTimeout = 3 * time.Second

// pollInterval is how often the chat loops look for messages and
// callbacks, as in example_chat.
const pollInterval = 10 * time.Millisecond

// waitDrained waits until c has no reliable data pending or unacknowledged,
// the connection ends, or timeout passes, so a lingering close does not
// depend on the process staying alive after it.
func waitDrained(s *mist.Sockets, conns []mist.Conn, timeout time.Duration) {
	for _, c := range conns {
		s.FlushMessagesOnConnection(c)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		busy := false
		for _, c := range conns {
			st, r := s.ConnectionRealTimeStatus(c, nil)
			if r == mist.ResultOK && st.State == mist.StateConnected && st.PendingReliable+st.SentUnackedReliable > 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(pollInterval)
	}
}

// interruptContext is done at the first interrupt or termination signal,
// which asks for a clean exit. The signals are released then, so a second
// one ends the process at once.
func interruptContext() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx
}
