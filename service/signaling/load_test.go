package signaling

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The load test runs the server in a child process, so that server and
// clients each have a whole file-descriptor limit, and measures from the
// parent. It runs only when asked:
//
//	MIST_SIGNAL_LOAD=1 go test ./service/signaling -run TestLoad -v
//
// MIST_SIGNAL_LOAD_PEERS, _RATE and _SECONDS override 10,000 peers,
// 5,000 signals/s and 5 s.
func TestLoad(t *testing.T) {
	if os.Getenv("MIST_SIGNAL_LOAD_CHILD") == "1" {
		loadChild()
		return
	}
	if os.Getenv("MIST_SIGNAL_LOAD") != "1" {
		t.Skip("set MIST_SIGNAL_LOAD=1 to run the load test")
	}
	peers, rate, seconds := envInt("MIST_SIGNAL_LOAD_PEERS", 10000), envInt("MIST_SIGNAL_LOAD_RATE", 5000), envInt("MIST_SIGNAL_LOAD_SECONDS", 5)
	raiseFDLimit(t)

	child := exec.Command(os.Args[0], "-test.run=^TestLoad$")
	child.Env = append(os.Environ(), "MIST_SIGNAL_LOAD_CHILD=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); child.Wait() }()
	out := bufio.NewReader(stdout)
	addr, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	rssBase := rss(t, child.Process.Pid)

	// Register every peer; each has a reader that records latencies.
	conns := make([]net.Conn, peers)
	var mu sync.Mutex
	var latencies []time.Duration
	start := time.Now()
	for i := range peers {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		defer nc.Close()
		fmt.Fprintf(nc, "str:p%05d\n", i)
		conns[i] = nc
		go func() {
			r := bufio.NewReader(nc)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				_, payload, _ := strings.Cut(strings.TrimSpace(line), " ")
				sent, err := strconv.ParseInt(payload, 16, 64)
				if err != nil {
					continue
				}
				d := time.Duration(time.Now().UnixNano() - sent)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	for {
		line := askChild(t, stdin, out, "peers")
		if n, _ := strconv.Atoi(line); n == peers {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	regTime := time.Since(start)
	rssPeers := rss(t, child.Process.Pid)

	// Send rate signals per second, each from a random peer to another.
	total := rate * seconds
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sendStart := time.Now()
	sent := 0
	var line []byte
	for sent < total {
		<-tick.C
		due := int(time.Since(sendStart).Seconds()*float64(rate)) + 1
		for ; sent < min(due, total); sent++ {
			from, to := sent*7919%peers, (sent*104729+1)%peers
			if from == to {
				to = (to + 1) % peers
			}
			line = fmt.Appendf(line[:0], "str:p%05d %x\n", to, time.Now().UnixNano())
			conns[from].Write(line)
		}
	}
	sendTime := time.Since(sendStart)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	got := slices.Clone(latencies)
	mu.Unlock()
	slices.Sort(got)
	if len(got) == 0 {
		t.Fatal("no signal arrived")
	}
	q := func(p float64) time.Duration { return got[min(len(got)-1, int(p*float64(len(got))))] }
	perPeer := float64(rssPeers-rssBase) / float64(peers)
	t.Logf("%d peers registered in %v; server RSS %d KB → %d KB: %.1f KB per registered peer",
		peers, regTime.Round(time.Millisecond), rssBase/1024, rssPeers/1024, perPeer/1024)
	t.Logf("%d signals in %v (%.0f/s offered), %d delivered; latency p50 %v p99 %v max %v",
		total, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), len(got), q(0.5), q(0.99), got[len(got)-1])
	t.Logf("server: %s", askChild(t, stdin, out, "stats"))
	if len(got) < total*99/100 {
		t.Errorf("only %d of %d signals delivered", len(got), total)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func raiseFDLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// rss is a process's resident memory in bytes.
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func askChild(t *testing.T, w io.Writer, r *bufio.Reader, q string) string {
	fmt.Fprintln(w, q)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// loadChild serves until its standard input closes, answering "peers" and
// "stats" lines there.
func loadChild() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	s := New(Config{MaxConnsPerIP: -1, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go s.Serve(ln)
	fmt.Println(ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "peers":
			fmt.Println(s.Stats().RegisteredPeers)
		case "stats":
			fmt.Printf("%+v\n", s.Stats())
		}
	}
	s.Close()
	os.Exit(0)
}
