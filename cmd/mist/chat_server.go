package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mistnet/mist"
)

// chatServer runs a chatRoom on a mist listen socket.
type chatServer struct {
	s     *mist.Sockets
	group mist.PollGroup
	log   *chatLog
	room  *chatRoom[mist.Conn]
}

func (cs *chatServer) send(c mist.Conn, text string) {
	// Like example_chat, a failed send (say, to a client that has just
	// gone) is not worth reporting: the close event follows.
	cs.s.SendMessageToConnection(c, []byte(text), mist.SendReliable)
}

func (cs *chatServer) close(c mist.Conn, debug string, linger bool) {
	if linger {
		waitDrained(cs.s, []mist.Conn{c}, drainTimeout)
	}
	cs.s.CloseConnection(c, chatCloseReason, debug, linger)
}

func (cs *chatServer) setName(c mist.Conn, name string) { cs.s.SetConnectionName(c, name) }

// onStatus handles connection state changes, inside RunCallbacks.
func (cs *chatServer) onStatus(ev *mist.ConnStatusChanged) {
	switch ev.Info.State {
	case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
		cs.room.left(ev.Conn, ev.Info.State == mist.StateProblemDetectedLocally,
			ev.Info.Description, int(ev.Info.EndReason), ev.Info.EndDebug)
	case mist.StateConnecting:
		cs.log.printf("Connection request from %s", ev.Info.Description)
		if r := cs.s.AcceptConnection(ev.Conn); r != mist.ResultOK {
			// The client may have given up already.
			cs.s.CloseConnection(ev.Conn, 0, "", false)
			cs.log.printf("Can't accept connection.  (It was already closed?)")
			return
		}
		if !cs.s.SetConnectionPollGroup(ev.Conn, cs.group) {
			cs.s.CloseConnection(ev.Conn, 0, "", false)
			cs.log.printf("Failed to set poll group?")
			return
		}
		cs.room.join(ev.Conn)
	}
	// Connected follows our own accept and is no news; None follows our
	// own close.
}

// receive relays every queued message.
func (cs *chatServer) receive() {
	var batch [32]*mist.Message
	for {
		n := cs.s.ReceiveMessagesOnPollGroup(cs.group, batch[:])
		for _, m := range batch[:max(n, 0)] {
			conn, text := m.Conn, string(m.Data)
			m.Release()
			cs.room.received(conn, text)
		}
		if n < len(batch) {
			return
		}
	}
}

func (cs *chatServer) printStats() {
	for _, c := range cs.room.order {
		if line, ok := statsLine(cs.s, c, cs.room.nicks[c]); ok {
			cs.log.printf("%s", line)
		}
	}
}

func runChatServer(ctx context.Context, local netip.AddrPort, o chatOptions, input *lineReader, stdout, stderr io.Writer) int {
	s, err := mist.New(o.creds.config())
	if err != nil {
		fmt.Fprintf(stderr, "mist chat server: %v\n", err)
		return 1
	}
	defer s.Close()
	stopWeb, code := serveWeb(o.web, s, "mist chat server", stdout, stderr)
	if code != 0 {
		return code
	}
	defer stopWeb()
	log := newChatLog(stdout)
	o.creds.describe(log, stderr, "mist chat server", time.Now())
	cs := &chatServer{s: s, log: log}
	cs.room = newChatRoom[mist.Conn](cs, log)
	s.OnConnectionStatusChanged(cs.onStatus)

	listen, local := createListenSocket(s, local, o.configValues()...)
	if listen == mist.InvalidListenSocket {
		fmt.Fprintf(stderr, "mist chat server: cannot listen on UDP %s: %s\n", formatListenAddr(local), udpDiagnosis(local))
		if local.Port() != 0 {
			fmt.Fprintf(stderr, "  Is another server already using port %d? Choose another with --port (0 picks a free one).\n", local.Port())
		}
		return 1
	}
	defer s.CloseListenSocket(listen)
	cs.group = s.CreatePollGroup()
	defer s.DestroyPollGroup(cs.group)
	bound, ok := s.ListenSocketAddress(listen)
	if !ok {
		bound = local
	}
	log.printf("Server listening on port %d", bound.Port())

	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	statsTick, stopStats := o.statsTicker()
	defer stopStats()
	lines := input.lines
loop:
	for {
		select {
		case <-ctx.Done():
			log.printf("Shutting down server")
			break loop
		case line, ok := <-lines:
			if !ok {
				// Unlike example_chat, losing the console does not stop the
				// server: it may run detached, with no input at all.
				lines = nil
				continue
			}
			if line == "/quit" {
				log.printf("Shutting down server")
				break loop
			}
			log.printf("The server only knows one command: '/quit'")
		case <-tick.C:
			// State changes first, so a client is in the room before its
			// first message is relayed.
			s.RunCallbacks()
			cs.receive()
		case <-statsTick:
			cs.printStats()
		}
	}

	log.printf("Closing connections...")
	cs.room.shutdown()
	return 0
}

// createListenSocket listens on local. Port 0 means any free port, which
// the library does not accept (GNS wants a port): then a free one is found
// by binding a probe socket, and tried, a few times in case another program
// takes it in between. It returns the address listened on.
func createListenSocket(s *mist.Sockets, local netip.AddrPort, opts ...mist.ConfigValue) (mist.ListenSocket, netip.AddrPort) {
	if local.Port() != 0 {
		return s.CreateListenSocketIP(local, opts...), local
	}
	for range 10 {
		probe, err := net.ListenUDP(udpNetwork(local), net.UDPAddrFromAddrPort(local))
		if err != nil {
			break
		}
		port := probe.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		probe.Close()
		addr := netip.AddrPortFrom(local.Addr(), port)
		if ls := s.CreateListenSocketIP(addr, opts...); ls != mist.InvalidListenSocket {
			return ls, addr
		}
	}
	return mist.InvalidListenSocket, local
}

func udpNetwork(local netip.AddrPort) string {
	if local.Addr().Is4() {
		return "udp4"
	}
	return "udp"
}

// udpDiagnosis explains why a UDP socket on local cannot be opened: the
// library only reports failure, so try the same bind here and show what the
// system says.
func udpDiagnosis(local netip.AddrPort) string {
	pc, err := net.ListenUDP(udpNetwork(local), net.UDPAddrFromAddrPort(local))
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			return se.Err.Error()
		}
		return err.Error()
	}
	pc.Close()
	return "the network library refused it (no further detail)"
}

// formatListenAddr names the address a server listens on for people.
func formatListenAddr(a netip.AddrPort) string {
	if a.Addr().IsUnspecified() {
		return fmt.Sprintf("port %d on all interfaces", a.Port())
	}
	return formatAddr(a)
}
