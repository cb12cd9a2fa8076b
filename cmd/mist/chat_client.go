package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/mistnet/mist"
)

// chatClient is the client side: it prints what the server sends and sends
// what the user types.
type chatClient struct {
	s      *mist.Sockets
	conn   mist.Conn
	server netip.AddrPort
	log    *chatLog
	stderr io.Writer
	creds  *credentialFlags

	connected bool
	quitting  bool // the user asked to leave before the connection was up
	done      bool
	exitCode  int
}

// receive prints every queued message as it is, one per line.
func (cc *chatClient) receive() {
	var batch [32]*mist.Message
	for {
		n := cc.s.ReceiveMessagesOnConnection(cc.conn, batch[:])
		for _, m := range batch[:max(n, 0)] {
			cc.log.raw(string(m.Data))
			m.Release()
		}
		if n < len(batch) {
			return
		}
	}
}

// onStatus handles connection state changes, inside RunCallbacks.
func (cc *chatClient) onStatus(ev *mist.ConnStatusChanged) {
	if ev.Conn != cc.conn {
		return
	}
	switch ev.Info.State {
	case mist.StateConnected:
		cc.connected = true
		cc.log.printf(chatClientConnected)
		if cc.quitting {
			cc.leave()
		}
	case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
		// Whatever arrived before the end is still worth showing.
		cc.receive()
		switch {
		case ev.OldState == mist.StateConnecting:
			cc.log.printf(chatClientDefeat, ev.Info.EndDebug)
			fmt.Fprintf(cc.stderr, "mist chat client: could not connect to %s (%s).\n", formatAddr(cc.server), ev.Info.EndDebug)
			fmt.Fprintln(cc.stderr, cc.creds.connectHint(ev.Info.EndReason))
			cc.exitCode = 1
		case ev.Info.State == mist.StateProblemDetectedLocally:
			cc.log.printf(chatClientLost, ev.Info.EndDebug)
			fmt.Fprintf(cc.stderr, "mist chat client: lost contact with the server at %s (%s).\n",
				formatAddr(cc.server), ev.Info.EndDebug)
			cc.exitCode = 1
		default:
			cc.log.printf(chatClientFarewell, ev.Info.EndDebug)
		}
		cc.s.CloseConnection(cc.conn, 0, "", false)
		cc.done = true
	}
}

// leave closes the connection gracefully: what the user typed last still
// reaches the server.
func (cc *chatClient) leave() {
	cc.log.printf(chatClientLeaving)
	waitDrained(cc.s, []mist.Conn{cc.conn}, drainTimeout)
	cc.s.CloseConnection(cc.conn, chatCloseReason, "Goodbye", true)
	cc.done = true
}

// quit leaves now, or as soon as the connection is up: closing while still
// connecting would drop the lines already typed.
func (cc *chatClient) quit() {
	if cc.connected {
		cc.leave()
		return
	}
	cc.quitting = true
}

func runChatClient(ctx context.Context, server netip.AddrPort, o chatOptions, input *lineReader, stdout, stderr io.Writer) int {
	s, err := mist.New(o.creds.config())
	if err != nil {
		fmt.Fprintf(stderr, "mist chat client: %v\n", err)
		return 1
	}
	defer s.Close()
	stopWeb, code := serveWeb(o.web, s, "mist chat client", stdout, stderr)
	if code != 0 {
		return code
	}
	defer stopWeb()
	log := newChatLog(stdout)
	o.creds.describe(log, stderr, "mist chat client", time.Now())
	cc := &chatClient{s: s, server: server, log: log, stderr: stderr, creds: &o.creds}
	s.OnConnectionStatusChanged(cc.onStatus)

	log.printf(chatClientConnecting, formatAddr(server))
	cc.conn = s.ConnectByIPAddress(server, o.configValues()...)
	if cc.conn == mist.InvalidConn {
		fmt.Fprintf(stderr, "mist chat client: cannot start a connection to %s: %s\n", formatAddr(server), udpDiagnosis(netip.AddrPort{}))
		return 1
	}

	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	statsTick, stopStats := o.statsTicker()
	defer stopStats()
	lines := input.lines
	for !cc.done {
		select {
		case <-ctx.Done():
			cc.quit()
			ctx = context.Background() // quit once
		case line, ok := <-lines:
			if !ok {
				lines = nil
				if input.err != nil {
					log.printf("Failed to read on stdin (%v), quitting", input.err)
				}
				cc.quit()
				continue
			}
			if line == "/quit" {
				cc.quit()
				continue
			}
			if _, r := s.SendMessageToConnection(cc.conn, []byte(line), mist.SendReliable); r != mist.ResultOK {
				log.printf("Could not send that line: %v", r)
			}
		case <-tick.C:
			// State changes first: "Connected" is posted before any
			// message can arrive, so it is also printed first.
			s.RunCallbacks()
			cc.receive()
		case <-statsTick:
			if line, ok := statsLine(s, cc.conn, "server "+formatAddr(server)); ok {
				log.printf("%s", line)
			}
		}
	}
	return cc.exitCode
}
