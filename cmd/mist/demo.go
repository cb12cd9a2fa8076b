package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/mistnet/mist"
)

func init() {
	register("demo", command{
		summary: "server and clients over loopback UDP, with a live view and a delivery check",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runDemo(interruptContext(), args, stdout, stderr)
		},
	})
}

const demoUsage = `Usage: mist demo [flags]

Starts a server and clients in this process, connected over real UDP on
127.0.0.1, and has every connection send reliable and unreliable messages
both ways through mist's simulated packet loss and lag. A live view shows
each connection's state, ping, quality, rates and queues about once a
second. At the end a summary counts the messages of each kind and checks
that every reliable message arrived exactly once, in order and intact
(each carries a sequence number and a checksum). The exit status is 1 if
one did not, or if a connection failed.

Flags:
`

type demoOptions struct {
	duration       time.Duration
	clients        int
	lossPct        float64
	lag            time.Duration
	reliableRate   float64
	unreliableRate float64
	web            string
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o demoOptions
	fs := flag.NewFlagSet("mist demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "how long to send traffic")
	fs.IntVar(&o.clients, "clients", 3, "number of clients (1 to 50)")
	fs.Float64Var(&o.lossPct, "loss", 2, "simulated packet loss on every send, in percent (0 to 50)")
	fs.DurationVar(&o.lag, "lag", 10*time.Millisecond, "simulated one-way lag added to every packet (0 to 1s)")
	fs.Float64Var(&o.reliableRate, "reliable-rate", 50, "reliable messages per second, each way on each connection")
	fs.Float64Var(&o.unreliableRate, "unreliable-rate", 30, "unreliable messages per second, each way on each connection")
	fs.StringVar(&o.web, "web", "", webFlagUsage+" (the --duration default then becomes 10m)")
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.web != "" && !flagGiven(fs, "duration") {
		o.duration = webDemoDuration
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mist demo: unexpected argument %q (the demo takes only flags; see mist demo -h)\n", fs.Arg(0))
		return 2
	}
	if msg := o.check(); msg != "" {
		fmt.Fprintf(stderr, "mist demo: %s\n", msg)
		return 2
	}
	return o.run(ctx, stdout, stderr)
}

func (o demoOptions) check() string {
	switch {
	case o.duration <= 0 || o.duration > 24*time.Hour:
		return fmt.Sprintf("--duration %v: give a positive duration such as 15s or 2m", o.duration)
	case o.clients < 1 || o.clients > 50:
		return fmt.Sprintf("--clients %d: give a number from 1 to 50", o.clients)
	case o.lossPct < 0 || o.lossPct > 50:
		return fmt.Sprintf("--loss %g: give a percentage from 0 to 50", o.lossPct)
	case o.lag < 0 || o.lag > time.Second:
		return fmt.Sprintf("--lag %v: give a duration from 0 to 1s", o.lag)
	case o.reliableRate < 0 || o.reliableRate > 10000 || o.unreliableRate < 0 || o.unreliableRate > 10000:
		return "message rates must be from 0 to 10000 per second"
	}
	return ""
}

// drainLimit bounds the wait, after sending stops, for reliable messages
// still in flight (retransmissions through simulated loss take a few RTOs;
// a busy machine can take much longer).
const drainLimit = 30 * time.Second

// setGlobal sets a process-wide option and returns how to put it back.
func setGlobal(v mist.ConfigValue) (restore func(), ok bool) {
	old, res := mist.GlobalConfigValue(v.Option)
	if !mist.SetGlobalConfigValue(v) {
		return func() {}, false
	}
	return func() {
		if res == mist.ConfigOK {
			mist.SetGlobalConfigValue(old)
		} else {
			mist.ResetGlobalConfigValue(v.Option)
		}
	}, true
}

// demoRun is one run of the demo: its options, sockets and traffic.
type demoRun struct {
	o          demoOptions
	traffic    *demoTraffic
	sockets    []*mist.Sockets // the server's first
	serverAddr netip.AddrPort
	serverEnds map[mist.Conn]*demoEnd
	problems   []string // connection failures, latest shown in the live view
	phase      int
}

func (o demoOptions) run(ctx context.Context, stdout, stderr io.Writer) int {
	// The fault simulation is process-wide, as in GNS.
	for _, v := range []mist.ConfigValue{
		mist.FloatValue(mist.OptFakePacketLossSend, float32(o.lossPct)),
		mist.Int32Value(mist.OptFakePacketLagSend, int32(o.lag/time.Millisecond)),
	} {
		restore, ok := setGlobal(v)
		if !ok {
			fmt.Fprintf(stderr, "mist demo: cannot set %s\n", v)
			return 1
		}
		defer restore()
	}

	d := &demoRun{o: o, traffic: newDemoTraffic(o.reliableRate, o.unreliableRate), serverEnds: map[mist.Conn]*demoEnd{}}
	defer func() {
		for _, s := range d.sockets {
			s.Close()
		}
	}()
	if err := d.startServer(); err != nil {
		fmt.Fprintf(stderr, "mist demo: %v\n", err)
		return 1
	}
	stopWeb, code := serveWeb(o.web, d.sockets[0], "mist demo", stdout, stderr)
	if code != 0 {
		return code
	}
	defer stopWeb()
	for i := 1; i <= o.clients; i++ {
		if err := d.startClient(i); err != nil {
			fmt.Fprintf(stderr, "mist demo: %v\n", err)
			return 1
		}
	}

	clients := "clients"
	if o.clients == 1 {
		clients = "client"
	}
	fmt.Fprintf(stdout, "mist demo: server on %s, %d %s, %v of traffic, simulated loss %g%%, lag %v\n\n",
		formatAddr(d.serverAddr), o.clients, clients, o.duration, o.lossPct, o.lag)
	start := time.Now()
	interrupted := d.loop(ctx, start, newLiveView(stdout))
	for _, e := range d.traffic.ends {
		if !e.closed {
			e.s.CloseConnection(e.conn, 0, "Demo over", true)
			e.closed = true
		}
	}
	return printDemoSummary(stdout, o, d.traffic, time.Since(start), interrupted)
}

func (d *demoRun) newSockets() (*mist.Sockets, error) {
	s, err := mist.New(mist.Config{})
	if err == nil {
		d.sockets = append(d.sockets, s)
	}
	return s, err
}

func (d *demoRun) problem(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// ended records that the connection of e ended without the demo closing it.
func (d *demoRun) ended(e *demoEnd, info mist.ConnectionInfo) {
	if e == nil || e.closed {
		return
	}
	e.note(fmt.Sprintf("%s (%d): %s", info.State, info.EndReason, info.EndDebug))
	d.problem("%s: %s", e.label, e.failed)
}

// startServer listens on a free loopback port and accepts every client.
func (d *demoRun) startServer() error {
	server, err := d.newSockets()
	if err != nil {
		return err
	}
	local := netip.MustParseAddrPort("127.0.0.1:0")
	listen, _ := createListenSocket(server, local)
	if listen == mist.InvalidListenSocket {
		return fmt.Errorf("cannot listen on 127.0.0.1: %s", udpDiagnosis(local))
	}
	d.serverAddr, _ = server.ListenSocketAddress(listen)
	server.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		e := d.serverEnds[ev.Conn]
		switch ev.Info.State {
		case mist.StateConnecting:
			if r := server.AcceptConnection(ev.Conn); r != mist.ResultOK {
				d.problem("server could not accept %s: %v", ev.Info.Description, r)
				server.CloseConnection(ev.Conn, 0, "", false)
				return
			}
			// Named after its client once the client's first message says
			// which one it is.
			k := len(d.serverEnds) + 1
			e = &demoEnd{s: server, conn: ev.Conn, label: fmt.Sprintf("server#%d", k),
				stream: uint16(serverStreamBase + k), labelPending: true}
			d.serverEnds[ev.Conn] = e
			d.traffic.add(e)
		case mist.StateConnected:
			if e != nil {
				e.connected = true
			}
		case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
			d.ended(e, ev.Info)
		}
	})
	return nil
}

// startClient starts client i (from 1) connecting, in its own Sockets.
func (d *demoRun) startClient(i int) error {
	cs, err := d.newSockets()
	if err != nil {
		return err
	}
	e := &demoEnd{s: cs, label: fmt.Sprintf("client%d->server", i), stream: uint16(i)}
	cs.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		switch ev.Info.State {
		case mist.StateConnected:
			e.connected = true
		case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
			d.ended(e, ev.Info)
		}
	})
	e.conn = cs.ConnectByIPAddress(d.serverAddr)
	if e.conn == mist.InvalidConn {
		return fmt.Errorf("client %d cannot connect to %s: %s", i, formatAddr(d.serverAddr), udpDiagnosis(netip.AddrPort{}))
	}
	d.traffic.add(e)
	return nil
}

// The phases of a run.
const (
	phaseConnecting = iota // waiting for every client to connect
	phaseSending
	phaseDraining // waiting for reliable messages in flight
)

// connectLimit bounds the wait for clients to connect; the library gives up
// on a connection after TimeoutInitial (10 s) anyway.
const connectLimit = 15 * time.Second

// loop waits for the clients to connect, sends for the configured duration
// (or until ctx is done), then waits for reliable messages in flight,
// refreshing the view every second. It reports whether it was interrupted.
func (d *demoRun) loop(ctx context.Context, start time.Time, view *liveView) (interrupted bool) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	viewTick := time.NewTicker(time.Second)
	defer viewTick.Stop()

	connectUntil := start.Add(connectLimit)
	var sendUntil, drainUntil time.Time
	drain := func(now time.Time) {
		d.traffic.stopSending()
		d.phase = phaseDraining
		drainUntil = now.Add(drainLimit)
	}
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			if d.phase != phaseDraining {
				drain(time.Now())
			}
			ctx = context.Background() // once is enough
			continue
		case now := <-viewTick.C:
			d.traffic.refreshStatus()
			view.draw(now.Sub(start), d.title(), d.traffic.rows())
			continue
		case <-tick.C:
		}
		now := time.Now()
		for _, s := range d.sockets {
			s.RunCallbacks()
		}
		d.traffic.step(now)
		switch d.phase {
		case phaseConnecting:
			if d.clientsSettled() || now.After(connectUntil) {
				for _, e := range d.traffic.ends {
					if e.stream < serverStreamBase && !e.connected {
						e.note(fmt.Sprintf("did not connect within %v", connectLimit))
					}
				}
				// The traffic's duration counts from here, so a slow
				// handshake does not eat into it.
				d.phase = phaseSending
				d.traffic.startSending(now)
				sendUntil = now.Add(d.o.duration)
			}
		case phaseSending:
			if !now.Before(sendUntil) {
				drain(now)
			}
		case phaseDraining:
			if d.traffic.reliableComplete() || now.After(drainUntil) {
				d.traffic.refreshStatus()
				view.draw(time.Since(start), "done", d.traffic.rows())
				return interrupted
			}
		}
	}
}

// clientsSettled reports whether every client has connected or failed.
func (d *demoRun) clientsSettled() bool {
	for _, e := range d.traffic.ends {
		if e.stream < serverStreamBase && !e.connected && e.failed == "" {
			return false
		}
	}
	return true
}

// title is the live view's first line: the phase and the latest problem.
func (d *demoRun) title() string {
	up := 0
	var rel, unrel uint64
	for _, e := range d.traffic.ends {
		if e.connected && e.failed == "" && e.stream < serverStreamBase {
			up++
		}
		rel += e.relSent
		unrel += e.unrelSent
	}
	var s string
	switch d.phase {
	case phaseConnecting:
		s = fmt.Sprintf("connecting, %d/%d clients connected", up, d.o.clients)
	case phaseSending:
		s = fmt.Sprintf("sending, %d/%d clients connected, %d reliable and %d unreliable messages so far",
			up, d.o.clients, rel, unrel)
	default:
		s = "sending stopped, waiting for reliable messages in flight"
	}
	if len(d.problems) > 0 {
		s += "  |  " + d.problems[len(d.problems)-1]
	}
	return s
}

// printDemoSummary prints the totals and the verdict, and returns the exit
// status.
func printDemoSummary(w io.Writer, o demoOptions, d *demoTraffic, elapsed time.Duration, interrupted bool) int {
	up := d.totals(func(e *demoEnd) bool { return e.stream < serverStreamBase })
	down := d.totals(func(e *demoEnd) bool { return e.stream >= serverStreamBase })

	fmt.Fprintf(w, "\nSummary after %.1fs", elapsed.Seconds())
	if interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintln(w, ":")
	fmt.Fprintf(w, "  %-16s %9s %9s %8s %9s %10s\n", "reliable", "sent", "received", "missing", "dup/late", "bytes")
	for _, r := range []struct {
		name string
		t    demoTotals
	}{{"client -> server", up}, {"server -> client", down}} {
		fmt.Fprintf(w, "  %-16s %9d %9d %8d %9d %10d\n", r.name, r.t.relSent, r.t.relReceived, r.t.relMissing, r.t.relBackwards, r.t.relBytes)
	}
	fmt.Fprintf(w, "  %-16s %9s %9s %8s %9s %10s\n", "unreliable", "sent", "received", "lost", "reordered", "duplicated")
	for _, r := range []struct {
		name string
		t    demoTotals
	}{{"client -> server", up}, {"server -> client", down}} {
		lost := "-"
		if r.t.unrelSent > 0 {
			lost = fmt.Sprintf("%.1f%%", 100*float64(r.t.unrelSent-min(r.t.unrelReceived, r.t.unrelSent))/float64(r.t.unrelSent))
		}
		fmt.Fprintf(w, "  %-16s %9d %9d %8s %9d %10d\n", r.name, r.t.unrelSent, r.t.unrelReceived, lost, r.t.unrelReordered, r.t.unrelDuplicates)
	}
	if up.retransmits >= 0 && down.retransmits >= 0 {
		fmt.Fprintf(w, "  retransmissions: %d by clients, %d by the server\n", up.retransmits, down.retransmits)
	} else {
		fmt.Fprintln(w, "  retransmissions: not reported by the connection status")
	}
	if n := up.limitHits + down.limitHits; n > 0 {
		fmt.Fprintf(w, "  send buffer full %d times (senders waited; nothing is dropped)\n", n)
	}

	failed := false
	var connProblems []string
	for _, e := range d.ends {
		if e.failed != "" {
			connProblems = append(connProblems, fmt.Sprintf("%s: %s", e.label, e.failed))
		}
	}
	if len(connProblems) > 0 {
		failed = true
		fmt.Fprintln(w, "connections: FAILED")
		for _, p := range connProblems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	relSent := up.relSent + down.relSent
	switch {
	case relSent == 0:
		failed = true
		fmt.Fprintln(w, "reliable delivery: NOT CHECKED, nothing was sent (did the clients connect?)")
	case up.reliableOK() && down.reliableOK() && d.corrupt == 0 && d.misrouted == 0:
		fmt.Fprintf(w, "reliable delivery: OK, all %d reliable messages arrived exactly once, in order, intact\n", relSent)
	case up.relSkipped+down.relSkipped+up.relBackwards+down.relBackwards+d.corrupt+d.misrouted == 0 &&
		up.relMissing == up.relInFlight && down.relMissing == down.relInFlight:
		// Nothing went wrong, but the wait ended before everything arrived.
		failed = true
		fmt.Fprintf(w, "reliable delivery: INCOMPLETE, %d messages still in flight when the wait ended; none lost, duplicated, reordered or damaged so far\n",
			up.relMissing+down.relMissing)
		fmt.Fprintf(w, "  %s\n", strings.Join(append(up.problems, down.problems...), "\n  "))
	default:
		failed = true
		fmt.Fprintf(w, "reliable delivery: FAILED, %d missing, %d duplicated or out of order, %d skipped over, %d corrupt, %d misrouted\n",
			up.relMissing+down.relMissing, up.relBackwards+down.relBackwards, up.relSkipped+down.relSkipped, d.corrupt, d.misrouted)
		problems := append(up.problems, down.problems...)
		if d.firstBad != "" {
			problems = append(problems, d.firstBad)
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(problems, "\n  "))
	}
	if failed {
		return 1
	}
	return 0
}
