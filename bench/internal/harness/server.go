package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mistnet/mist/bench/internal/system"
)

// ServerStats describe the process running a bench server.
type ServerStats struct {
	CPU   time.Duration // user + system time consumed so far
	RSS   int64         // resident set size, bytes
	Conns int           // connections the server currently holds
}

// A ServerHandle is a running bench server, in this process or another.
type ServerHandle interface {
	Addr() string
	// Stats reports the server process's usage; ErrNoStats when unknown.
	Stats() (ServerStats, error)
	// Collect asks the server process to run the garbage collector and
	// return freed memory to the OS, so RSS reflects live memory.
	Collect() error
	Close() error
}

// ErrNoStats is returned by servers whose process cannot be observed.
var ErrNoStats = errors.New("server statistics not available")

// A Launcher starts a bench server for a system.
type Launcher func(sys system.System, addr string) (ServerHandle, error)

// InProcess runs servers inside this process: usage figures then include
// the client, so scenarios only use them for correctness.
func InProcess(sys system.System, addr string) (ServerHandle, error) {
	s, err := sys.Listen(addr)
	if err != nil {
		return nil, err
	}
	return inProcess{s}, nil
}

type inProcess struct{ system.Server }

func (s inProcess) Stats() (ServerStats, error) {
	return ServerStats{CPU: processCPU(), RSS: processRSS(), Conns: s.Conns()}, nil
}

func (s inProcess) Collect() error {
	runtime.GC()
	debug.FreeOSMemory()
	return nil
}

// External is a server someone else runs at addr (for example a
// GNS-compatible server measured with the mist client).
func External(addr string) ServerHandle { return external(addr) }

type external string

func (e external) Addr() string                { return string(e) }
func (e external) Stats() (ServerStats, error) { return ServerStats{}, ErrNoStats }
func (e external) Collect() error              { return ErrNoStats }
func (e external) Close() error                { return nil }

// Child returns a launcher that runs each server as a separate process:
// exe with args(system name, address), which must end up calling
// ServeChild. Its CPU time and memory are then the server's alone.
func Child(exe string, args func(sysName, addr string) []string) Launcher {
	return func(sys system.System, addr string) (ServerHandle, error) {
		cmd := exec.Command(exe, args(sys.Name(), addr)...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		c := &child{cmd: cmd, in: stdin, out: bufio.NewReader(stdout)}
		line, err := c.readLine(30 * time.Second)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s server: %w", sys.Name(), err)
		}
		addrLine, ok := strings.CutPrefix(line, "addr ")
		if !ok {
			c.Close()
			return nil, fmt.Errorf("%s server: %s", sys.Name(), line)
		}
		c.addr = addrLine
		return c, nil
	}
}

type child struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

func (c *child) Addr() string { return c.addr }

// readLine waits a bounded time for the child's next line.
func (c *child) readLine(timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := c.out.ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("server process: %w", r.err)
		}
		return r.line, nil
	case <-time.After(timeout):
		return "", errors.New("server process did not answer")
	}
}

func (c *child) command(cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		return "", err
	}
	return c.readLine(time.Minute)
}

func (c *child) Stats() (ServerStats, error) {
	line, err := c.command("stats")
	if err != nil {
		return ServerStats{}, err
	}
	return parseStats(line)
}

func (c *child) Collect() error {
	_, err := c.command("gc")
	return err
}

func (c *child) Close() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-done
	}
}

func formatStats(s ServerStats) string {
	return fmt.Sprintf("stats cpu_ns=%d rss=%d conns=%d", s.CPU.Nanoseconds(), s.RSS, s.Conns)
}

func parseStats(line string) (ServerStats, error) {
	var s ServerStats
	fields, ok := strings.CutPrefix(line, "stats ")
	if !ok {
		return s, fmt.Errorf("unexpected stats line %q", line)
	}
	for _, f := range strings.Fields(fields) {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("stats field %q: %w", f, err)
		}
		switch k {
		case "cpu_ns":
			s.CPU = time.Duration(n)
		case "rss":
			s.RSS = n
		case "conns":
			s.Conns = int(n)
		}
	}
	return s, nil
}

// ServeChild is the server process's main loop: it listens, prints
// "addr HOST:PORT", then answers "stats" and "gc" lines on in until in
// closes.
func ServeChild(ctx context.Context, sys system.System, addr string, in io.Reader, out io.Writer) error {
	s, err := sys.Listen(addr)
	if err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		return err
	}
	defer s.Close()
	fmt.Fprintf(out, "addr %s\n", s.Addr())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "stats":
			fmt.Fprintln(out, formatStats(ServerStats{CPU: processCPU(), RSS: processRSS(), Conns: s.Conns()}))
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Fprintln(out, "ok")
		default:
			fmt.Fprintf(out, "error unknown command %q\n", sc.Text())
		}
		if ctx.Err() != nil {
			break
		}
	}
	return sc.Err()
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processRSS is the current resident set size, from /proc on Linux, or the
// peak from getrusage elsewhere.
func processRSS() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}
