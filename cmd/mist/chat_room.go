package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The chat speaks the protocol of GNS's example_chat: every message is a
// reliable message of plain text (no terminator). The server assigns each
// newcomer a random nick, relays every line to all other clients as
// "nick: text", and understands one command from clients, "/nick NAME".
// The texts below are the ones that example sends, so people (and scripts)
// see the same conversation whichever implementation runs either end.
const (
	chatWelcome       = "Welcome, stranger.  Thou art known to us for now as '%s'; upon thine command '/nick' we shall know thee otherwise."
	chatAlone         = "Thou art utterly alone."
	chatCompanions    = "%d companions greet you:"
	chatJoined        = "Hark!  A stranger hath joined this merry host.  For now we shall call them '%s'"
	chatRenamedOthers = "%s shall henceforth be known as %s"
	chatRenamedSelf   = "Ye shall henceforth be known as %s"
	chatSaid          = "%s: %s"
	chatDeparted      = "%s hath departed"
	chatFallen        = "Alas, %s hath fallen into shadow.  (%s)"
	chatServerGoodbye = "Server is shutting down.  Goodbye."

	chatClientConnecting = "Connecting to chat server at %s"
	chatClientConnected  = "Connected to server OK"
	chatClientDefeat     = "We sought the remote host, yet our efforts were met with defeat.  (%s)"
	chatClientLost       = "Alas, troubles beset us; we have lost contact with the host.  (%s)"
	chatClientFarewell   = "The host hath bidden us farewell.  (%s)"
	chatClientLeaving    = "Disconnecting from chat server"

	// The close reason GNS's example passes: 0, which the library turns
	// into the generic application close code.
	chatCloseReason = 0
)

// chatLog prints log lines the way example_chat does: seconds since start,
// then the text. Received chat text is printed bare, without this prefix.
type chatLog struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newChatLog(w io.Writer) *chatLog { return &chatLog{w: w, start: time.Now()} }

func (l *chatLog) printf(format string, args ...any) {
	text := printable(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%10.6f %s\n", time.Since(l.start).Seconds(), text)
}

// raw prints a received chat line as it came, but for control characters.
func (l *chatLog) raw(text string) {
	text = printable(text)
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, text+"\n")
}

// printable makes text from the network safe to print on a terminal:
// control characters (escape sequences could rewrite the screen) become
// visible \xNN escapes and invalid UTF-8 becomes U+FFFD.
func printable(text string) string {
	isControl := func(r rune) bool {
		return (r < 0x20 && r != '\t') || (r >= 0x7f && r < 0xa0)
	}
	if !strings.ContainsFunc(text, isControl) && utf8.ValidString(text) {
		return text
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(text, "\uFFFD") {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// chatTransport is what the chat room needs from the network, per
// connection C.
type chatTransport[C comparable] interface {
	send(c C, text string)
	close(c C, debug string, linger bool)
	setName(c C, name string)
}

// chatRoom is the server's state: who is connected and under which nick.
// It does no I/O of its own and is driven from one goroutine.
type chatRoom[C comparable] struct {
	net   chatTransport[C]
	log   *chatLog
	nicks map[C]string
	order []C // join order, for the list of companions
	rand  func() int
}

func newChatRoom[C comparable](net chatTransport[C], log *chatLog) *chatRoom[C] {
	return &chatRoom[C]{net: net, log: log, nicks: map[C]string{}, rand: func() int { return rand.IntN(100000) }}
}

// join admits an accepted connection: welcome it, introduce the company,
// announce it to the others.
func (r *chatRoom[C]) join(c C) {
	nick := fmt.Sprintf("BraveWarrior%d", 10000+r.rand()%100000)
	r.net.send(c, fmt.Sprintf(chatWelcome, nick))
	if len(r.order) == 0 {
		r.net.send(c, chatAlone)
	} else {
		r.net.send(c, fmt.Sprintf(chatCompanions, len(r.order)))
		for _, other := range r.order {
			r.net.send(c, r.nicks[other])
		}
	}
	r.broadcast(fmt.Sprintf(chatJoined, nick), c)
	r.order = append(r.order, c)
	r.setNick(c, nick)
}

// received handles one message from a client.
func (r *chatRoom[C]) received(c C, text string) {
	nick, ok := r.nicks[c]
	if !ok {
		return // not admitted (or already gone): nothing to relay
	}
	// Like the example, any message starting with "/nick" renames, and the
	// new nick is the rest with leading spaces removed.
	if rest, isNick := strings.CutPrefix(text, "/nick"); isNick {
		newNick := strings.TrimLeft(rest, " \t\r\n\v\f")
		r.broadcast(fmt.Sprintf(chatRenamedOthers, nick, newNick), c)
		r.net.send(c, fmt.Sprintf(chatRenamedSelf, newNick))
		r.setNick(c, newNick)
		return
	}
	r.broadcast(fmt.Sprintf(chatSaid, nick, text), c)
}

// left handles a connection that ended without the server closing it.
// problem tells a local problem (timeout, error) from a close by the peer.
func (r *chatRoom[C]) left(c C, problem bool, description string, endReason int, endDebug string) {
	if nick, ok := r.nicks[c]; ok {
		action, notice := "closed by peer", fmt.Sprintf(chatDeparted, nick)
		if problem {
			action, notice = "problem detected locally", fmt.Sprintf(chatFallen, nick, endDebug)
		}
		r.log.printf("Connection %s %s, reason %d: %s", description, action, endReason, endDebug)
		r.remove(c)
		r.broadcast(notice, c)
	}
	r.net.close(c, "", false)
}

// shutdown says goodbye to everyone and closes their connections,
// lingering so the goodbye gets through.
func (r *chatRoom[C]) shutdown() {
	for _, c := range r.order {
		r.net.send(c, chatServerGoodbye)
		r.net.close(c, "Server Shutdown", true)
	}
	r.order = nil
	clear(r.nicks)
}

func (r *chatRoom[C]) setNick(c C, nick string) {
	r.nicks[c] = nick
	r.net.setName(c, nick)
}

func (r *chatRoom[C]) remove(c C) {
	delete(r.nicks, c)
	for i, o := range r.order {
		if o == c {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
}

func (r *chatRoom[C]) broadcast(text string, except C) {
	for _, c := range r.order {
		if c != except {
			r.net.send(c, text)
		}
	}
}
