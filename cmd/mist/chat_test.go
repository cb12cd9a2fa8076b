package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every wait for expected output. It is generous: only a
// broken program, not a slow machine, should hit it.
const waitLimit = 20 * time.Second

// chatProc is one in-process run of "mist chat": its input, its output
// lines and its exit status.
type chatProc struct {
	t     *testing.T
	name  string
	in    *io.PipeWriter
	ext   io.WriteCloser // input of an external program, instead of in
	lines chan string
	mu    sync.Mutex
	seen  []string
	done  chan int
	code  int
}

func startChat(t *testing.T, name string, args ...string) *chatProc {
	t.Helper()
	return startChatContext(t, context.Background(), name, args...)
}

// startChatContext is startChat with a context standing for interrupts.
func startChatContext(t *testing.T, ctx context.Context, name string, args ...string) *chatProc {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &chatProc{t: t, name: name, in: inW, lines: make(chan string, 1000), done: make(chan int, 1)}
	var errBuf strings.Builder
	var errMu sync.Mutex
	stderr := writerFunc(func(b []byte) (int, error) {
		errMu.Lock()
		defer errMu.Unlock()
		return errBuf.Write(b)
	})
	go func() {
		code := runChat(ctx, args, inR, outW, stderr)
		outW.Close()
		p.done <- code
	}()
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		inW.Close()
		errMu.Lock()
		defer errMu.Unlock()
		if t.Failed() {
			t.Logf("%s stderr: %s", name, errBuf.String())
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// expect waits for an output line matching the regular expression and
// returns its submatches.
func (p *chatProc) expect(pattern string) []string {
	p.t.Helper()
	re := regexp.MustCompile(pattern)
	timeout := time.After(waitLimit)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s ended without printing a line matching %q; it printed:\n%s", p.name, pattern, p.history())
			}
			p.mu.Lock()
			p.seen = append(p.seen, line)
			p.mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			p.t.Fatalf("%s: no line matching %q within %v; it printed:\n%s", p.name, pattern, waitLimit, p.history())
		}
	}
}

func (p *chatProc) history() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, "\n")
}

func (p *chatProc) say(line string) {
	p.t.Helper()
	var w io.Writer = p.in
	if p.ext != nil {
		w = p.ext
	}
	if _, err := io.WriteString(w, line+"\n"); err != nil {
		p.t.Fatalf("%s: writing %q: %v", p.name, line, err)
	}
}

// wait waits for the run to end and returns its exit status.
func (p *chatProc) wait() int {
	p.t.Helper()
	// Keep the output flowing so the run cannot block on it.
	go func() {
		for line := range p.lines {
			p.mu.Lock()
			p.seen = append(p.seen, line)
			p.mu.Unlock()
		}
	}()
	select {
	case code := <-p.done:
		return code
	case <-time.After(waitLimit):
		p.t.Fatalf("%s did not exit within %v; it printed:\n%s", p.name, waitLimit, p.history())
		return -1
	}
}

// logLine matches a log line: seconds since start, then the text.
const logLine = `^ *\d+\.\d{6} `

func TestChatServerAndClients(t *testing.T) {
	// Registered first, so it runs after the runs' input is closed.
	t.Cleanup(checkGoroutines(t))
	server := startChat(t, "server", "server", "--bind", "127.0.0.1", "--port", "0")
	port := server.expect(logLine + `Server listening on port (\d+)$`)[1]
	addr := "127.0.0.1:" + port

	alice := startChat(t, "alice", "client", addr)
	alice.expect(logLine + regexp.QuoteMeta("Connecting to chat server at "+addr) + `$`)
	alice.expect(logLine + `Connected to server OK$`)
	aliceNick := alice.expect(`^Welcome, stranger\.  Thou art known to us for now as '(BraveWarrior\d+)'; upon thine command '/nick' we shall know thee otherwise\.$`)[1]
	alice.expect(`^Thou art utterly alone\.$`)
	server.expect(logLine + `Connection request from `)

	bob := startChat(t, "bob", "client", addr)
	bob.expect(logLine + `Connected to server OK$`)
	bobNick := bob.expect(`^Welcome, stranger\..*'(BraveWarrior\d+)'`)[1]
	bob.expect(`^1 companions greet you:$`)
	bob.expect(`^` + aliceNick + `$`)
	alice.expect(`^Hark!  A stranger hath joined this merry host\.  For now we shall call them '` + bobNick + `'$`)

	// A line typed by one arrives at the other with the sender's nick.
	alice.say("  hello from alice  ")
	bob.expect(`^` + aliceNick + `: hello from alice$`)

	// /nick renames: the renamed client is told, the others too, and the
	// new nick is used from then on.
	bob.say("/nick Bob the Builder")
	bob.expect(`^Ye shall henceforth be known as Bob the Builder$`)
	alice.expect(`^` + bobNick + ` shall henceforth be known as Bob the Builder$`)
	bob.say("can we fix it?")
	alice.expect(`^Bob the Builder: can we fix it\?$`)

	// /quit from a client: it says goodbye and exits 0, the others hear
	// that it departed.
	alice.say("/quit")
	alice.expect(logLine + `Disconnecting from chat server$`)
	if code := alice.wait(); code != 0 {
		t.Fatalf("alice exited %d after /quit, want 0", code)
	}
	bob.expect(`^` + aliceNick + ` hath departed$`)
	server.expect(logLine + `Connection .* closed by peer, reason \d+: `)

	// The server's console knows only /quit.
	server.say("hello?")
	server.expect(logLine + `The server only knows one command: '/quit'$`)

	// /quit on the server: clients get the goodbye, then the close.
	server.say("/quit")
	server.expect(logLine + `Shutting down server$`)
	bob.expect(`^Server is shutting down\.  Goodbye\.$`)
	bob.expect(logLine + `The host hath bidden us farewell\.  \(.*\)$`)
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d after the server closed, want 0", code)
	}
	if code := server.wait(); code != 0 {
		t.Fatalf("server exited %d after /quit, want 0", code)
	}
}

func TestChatClientGivesUpOnSilentServer(t *testing.T) {
	// A bound socket that never answers stands for a server that is gone.
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out, errOut syncBuffer
	code := runChat(context.Background(), []string{"client", "--timeout", "1s", pc.LocalAddr().String()},
		strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "We sought the remote host, yet our efforts were met with defeat.") {
		t.Errorf("stdout lacks the failure notice:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "could not connect to "+pc.LocalAddr().String()) ||
		!strings.Contains(errOut.String(), "Is a chat server running there?") {
		t.Errorf("stderr does not say what to do:\n%s", errOut.String())
	}
}

func TestChatServerPortInUse(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	var out, errOut syncBuffer
	code := runChat(context.Background(), []string{"server", "--bind", "127.0.0.1", "--port", port},
		strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{"cannot listen on UDP 127.0.0.1:" + port, "address already in use", "--port"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestChatUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"lurker"}, `unknown role "lurker"`},
		{[]string{"client"}, "missing server address"},
		{[]string{"client", "127.0.0.1", "127.0.0.2"}, "too many arguments"},
		{[]string{"client", "127.0.0.1:99999"}, `bad server address "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
		{[]string{"client", "[::1"}, "missing ']'"},
		{[]string{"client", "not an address!"}, "neither an IP address nor a host name"},
		{[]string{"client", "--timeout", "0s", "127.0.0.1"}, "--timeout 0s"},
		{[]string{"client", "--frobnicate", "127.0.0.1"}, "flag provided but not defined: -frobnicate"},
		{[]string{"server", "--port", "70000"}, "invalid port 70000"},
		{[]string{"server", "--port", "x"}, `invalid value "x" for flag -port`},
		{[]string{"server", "--bind", "example"}, `--bind "example" is not an IP address`},
		{[]string{"server", "extra"}, `unexpected argument "extra"`},
		{[]string{"server", "--stats", "--stats-interval", "0s"}, "--stats-interval 0s"},
		{[]string{"client", "--stats-interval", "-1s", "127.0.0.1"}, "--stats-interval -1s"},
	} {
		var out, errOut syncBuffer
		code := runChat(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
		if code != 2 {
			t.Errorf("chat %q: exit %d, want 2 (stderr %q)", tc.args, code, errOut.String())
			continue
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("chat %q: stderr %q lacks %q", tc.args, errOut.String(), tc.want)
		}
	}
	var out, errOut syncBuffer
	if code := runChat(context.Background(), []string{"-h"}, strings.NewReader(""), &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "mist chat client") {
		t.Errorf("chat -h: exit %d, output %q", code, out.String())
	}
}

// syncBuffer is a strings.Builder safe for the concurrent writes of a run.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --unencrypted takes effect only when both ends allow plaintext; --stats
// shows which way it went.
func TestChatUnencryptedAndStats(t *testing.T) {
	t.Cleanup(checkGoroutines(t))
	interrupt, stop := context.WithCancel(context.Background())
	defer stop()
	server := startChatContext(t, interrupt, "server", "server", "--bind", "127.0.0.1", "--port", "0",
		"--unencrypted", "--stats", "--stats-interval", "100ms")
	addr := "127.0.0.1:" + server.expect(logLine + `Server listening on port (\d+)$`)[1]

	plain := startChat(t, "plain", "client", "--unencrypted", "--stats", "--stats-interval", "100ms", addr)
	plain.expect(`^Thou art utterly alone\.$`)
	plain.expect(logLine + `stats server ` + regexp.QuoteMeta(addr) + `: Connected, unencrypted, ping \d+ms, `)

	// A client that does not allow plaintext still gets an encrypted
	// connection from the same server.
	sealed := startChat(t, "sealed", "client", addr, "--stats", "--stats-interval", "100ms")
	sealedNick := sealed.expect(`^Welcome, stranger\..*'(BraveWarrior\d+)'`)[1]
	sealed.expect(logLine + `stats server ` + regexp.QuoteMeta(addr) + `: Connected, encrypted, `)
	server.expect(logLine + `stats ` + sealedNick + `: Connected, encrypted, `)

	// An interrupt stops the server as /quit does.
	stop()
	server.expect(logLine + `Shutting down server$`)
	for _, p := range []*chatProc{plain, sealed} {
		p.expect(`^Server is shutting down\.  Goodbye\.$`)
		p.expect(logLine + `The host hath bidden us farewell\.`)
	}
	for _, p := range []*chatProc{plain, sealed, server} {
		if code := p.wait(); code != 0 {
			t.Errorf("%s exited %d, want 0", p.name, code)
		}
	}
}

// Input that ends (a pipe, a file) is sent in full before the client
// leaves, even though it ends before the connection is up.
func TestChatClientPipedInput(t *testing.T) {
	t.Cleanup(checkGoroutines(t))
	server := startChat(t, "server", "server", "--bind", "127.0.0.1", "--port", "0")
	addr := "127.0.0.1:" + server.expect(logLine + `Server listening on port (\d+)$`)[1]
	listener := startChat(t, "listener", "client", addr)
	listener.expect(`^Thou art utterly alone\.$`)

	var out, errOut syncBuffer
	code := runChat(context.Background(), []string{"client", addr},
		strings.NewReader("first line\n\n   \nsecond line\n/nick Piper\nthird line"), &out, &errOut)
	if code != 0 {
		t.Fatalf("piped client exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	nick := listener.expect(`^Hark!  A stranger hath joined this merry host\.  For now we shall call them '(BraveWarrior\d+)'$`)[1]
	listener.expect(`^` + nick + `: first line$`)
	listener.expect(`^` + nick + `: second line$`)
	listener.expect(`^` + nick + ` shall henceforth be known as Piper$`)
	listener.expect(`^Piper: third line$`)
	listener.expect(`^Piper hath departed$`)
	if !strings.Contains(out.String(), "Disconnecting from chat server") {
		t.Errorf("piped client did not say it was leaving:\n%s", out.String())
	}

	listener.say("/quit")
	server.say("/quit")
	for _, p := range []*chatProc{listener, server} {
		if code := p.wait(); code != 0 {
			t.Errorf("%s exited %d", p.name, code)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		positional []string
		stats      bool
	}{
		{[]string{"--stats", "host"}, []string{"host"}, true},
		{[]string{"host", "--stats"}, []string{"host"}, true},
		{[]string{"a", "b"}, []string{"a", "b"}, false},
		{[]string{"--", "--stats"}, []string{"--stats"}, false},
		{[]string{"a", "--", "-b"}, []string{"a", "-b"}, false},
	} {
		var o chatOptions
		fs := newChatFlagSet("test", io.Discard, &o, nil, nil, true)
		got, err := parseInterspersed(fs, tc.args)
		if err != nil || !slices.Equal(got, tc.positional) || o.stats != tc.stats {
			t.Errorf("%q: positional %q, stats %v, err %v; want %q, %v", tc.args, got, o.stats, err, tc.positional, tc.stats)
		}
	}
}
