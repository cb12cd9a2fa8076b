//go:build linux

// Package natns tests P2P through real Linux NATs: network namespaces joined
// by veth pairs and bridges, nftables masquerade on the routers, `mist serve`
// on a public segment and `mist p2p` peers as real processes.
//
// It needs root, ip (iproute2) and nft (nftables), and runs only when
// MIST_TEST_NAT=1 (make test-nat sets it), so that `go test ./...` does not
// build a network twice. Every address is a test address inside namespaces
// this test creates: the routers have no default route and nothing is
// attached to the host's interfaces, so no packet can leave the machine.
package natns

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The "public internet": one bridge in the public namespace. The bridge
// itself carries the service's address; routers' WAN ports are on it too.
// 198.18.0.0/15 is reserved for network tests (RFC 2544), and mist treats it
// as a non-private address, as a real Internet address would be.
const (
	publicPrefix = "198.18.0.0/24"
	serverIP     = "198.18.0.10"
	signalPort   = "10000"
	stunPort     = "3478"
	turnUser     = "natuser"
	turnPass     = "natpass"
	caseTimeout  = 30 * time.Second
)

// natKind is a home router's NAT behaviour.
type natKind int

const (
	// cone: masquerade keeping the source port, the same mapping for every
	// destination (endpoint-independent mapping), filtering by conntrack
	// (a port-restricted cone).
	cone natKind = iota
	// symmetric: masquerade fully-random, a new port per destination.
	symmetric
)

// home is a LAN behind one NAT router.
type home struct {
	router string // namespace name
	wanIP  string
	lanNet string // "192.168.N"
	peers  []string
}

type topology struct {
	prefix string
	public string
	homes  map[string]*home
	bin    string
	server *process
}

// requireNetns skips loudly unless the test can build namespaces and NATs.
func requireNetns(t *testing.T) {
	t.Helper()
	const need = "needs root, ip (iproute2) and nft (nftables); `make test-nat` runs it (as root, scripts/deps.sh installs the Debian packages iproute2 and nftables)"
	if os.Getenv("MIST_TEST_NAT") != "1" {
		t.Skip("SKIPPED real-NAT test: set MIST_TEST_NAT=1; it " + need)
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED real-NAT test: not root; it " + need)
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED real-NAT test: %s not found; it %s", tool, need)
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// inNS runs a command in namespace ns and fails the test if it fails.
func inNS(t *testing.T, ns string, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func nft(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v\n%s\nruleset:\n%s", ns, err, out, ruleset)
	}
}

// addNS creates a namespace with loopback up and deletes it at cleanup,
// whatever happens to the test.
func addNS(t *testing.T, name string) {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("cleanup: ip netns del %s: %v %s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
}

var staleName = regexp.MustCompile(`^(mnat(\d+)-\S+)`)

// sweepStale removes the namespaces of earlier runs whose test process is
// gone (killed before its cleanup ran), with the peers still inside them.
func sweepStale(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		m := staleName.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[2]); pid == os.Getpid() {
			continue
		} else if processAlive(pid) {
			continue // a run still going
		}
		if pids, err := exec.Command("ip", "netns", "pids", m[1]).Output(); err == nil {
			for _, f := range strings.Fields(string(pids)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		exec.Command("ip", "netns", "del", m[1]).Run()
		t.Logf("removed namespace %s left by an earlier run", m[1])
	}
}

// processAlive reports whether pid runs (a zombie, killed but not yet
// reaped, does not).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// routerRules is a home router's nftables ruleset. Inbound packets from the
// WAN pass only as replies to flows the LAN started; unsolicited ones are
// dropped in the input hook too, or conntrack would keep an entry for them
// that takes the port masquerade wants to keep for a LAN host.
func routerRules(kind natKind) string {
	masq := "masquerade persistent"
	if kind == symmetric {
		masq = "masquerade fully-random"
	}
	return fmt.Sprintf(`
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" %s
	}
}
table ip filter {
	counter direct {
		comment "packets from the LAN to the Internet other than the service"
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "wan" drop
		iifname "lan" oifname "wan" ip daddr != %s counter name direct
		iifname "lan" accept
	}
}
`, masq, serverIP)
}

// directPackets reads (and with reset, zeroes) a router's count of packets
// sent from its LAN to Internet addresses other than the service's.
func directPackets(t *testing.T, h *home, reset bool) int {
	t.Helper()
	verb := "list"
	if reset {
		verb = "reset"
	}
	out, err := exec.Command("ip", "netns", "exec", h.router, "nft", verb, "counter", "ip", "filter", "direct").CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s counter in %s: %v\n%s", verb, h.router, err, out)
	}
	m := regexp.MustCompile(`packets (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no packet count in %q", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// buildTopology makes the public segment with `mist serve` and the homes:
// cone1 (two peers, for the same-LAN case), cone2, sym1 and sym2.
func buildTopology(t *testing.T) *topology {
	t.Helper()
	sweepStale(t)
	var rnd [2]byte
	rand.Read(rnd[:])
	// Unique per run; the pid lets a later run remove what a killed run left.
	prefix := fmt.Sprintf("mnat%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	topo := &topology{prefix: prefix, public: prefix + "-pub", homes: map[string]*home{}}

	addNS(t, topo.public)
	run(t, "ip", "-n", topo.public, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", topo.public, "addr", "add", serverIP+"/24", "dev", "br0")
	run(t, "ip", "-n", topo.public, "link", "set", "br0", "up")

	specs := []struct {
		name  string
		kind  natKind
		peers int
	}{{"cone1", cone, 2}, {"cone2", cone, 1}, {"sym1", symmetric, 1}, {"sym2", symmetric, 1}}
	for i, s := range specs {
		h := &home{
			router: fmt.Sprintf("%s-%s-r", prefix, s.name),
			wanIP:  fmt.Sprintf("198.18.0.%d", 21+i),
			lanNet: fmt.Sprintf("192.168.%d", 11+i),
		}
		topo.homes[s.name] = h
		addNS(t, h.router)
		// WAN: a veth from the public bridge to the router. Links are
		// created inside the run's namespaces, never in the host's.
		port := fmt.Sprintf("w%d", i)
		run(t, "ip", "-n", topo.public, "link", "add", port, "type", "veth", "peer", "name", "wan", "netns", h.router)
		run(t, "ip", "-n", topo.public, "link", "set", port, "master", "br0", "up")
		run(t, "ip", "-n", h.router, "addr", "add", h.wanIP+"/24", "dev", "wan")
		run(t, "ip", "-n", h.router, "link", "set", "wan", "up")
		// LAN: a bridge in the router, one veth per peer.
		run(t, "ip", "-n", h.router, "link", "add", "lan", "type", "bridge")
		run(t, "ip", "-n", h.router, "addr", "add", h.lanNet+".1/24", "dev", "lan")
		run(t, "ip", "-n", h.router, "link", "set", "lan", "up")
		inNS(t, h.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
		nft(t, h.router, routerRules(s.kind))
		for p := 0; p < s.peers; p++ {
			peer := fmt.Sprintf("%s-%s-p%d", prefix, s.name, p)
			addNS(t, peer)
			lport := fmt.Sprintf("l%d", p)
			run(t, "ip", "-n", h.router, "link", "add", lport, "type", "veth", "peer", "name", "eth0", "netns", peer)
			run(t, "ip", "-n", h.router, "link", "set", lport, "master", "lan", "up")
			run(t, "ip", "-n", peer, "addr", "add", fmt.Sprintf("%s.%d/24", h.lanNet, 100+p), "dev", "eth0")
			run(t, "ip", "-n", peer, "link", "set", "eth0", "up")
			run(t, "ip", "-n", peer, "route", "add", "default", "via", h.lanNet+".1")
			h.peers = append(h.peers, peer)
		}
	}

	topo.bin = filepath.Join(t.TempDir(), "mist")
	build := exec.Command("go", "build", "-o", topo.bin, "./cmd/mist")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mist: %v\n%s", err, out)
	}

	topo.server = start(t, topo.public, topo.bin, "serve", "--addr", serverIP, "--relay-ip", serverIP,
		"--signal-port", signalPort, "--stun-port", stunPort, "--turn-user", turnUser, "--turn-pass", turnPass)
	if !topo.server.waitFor(`signaling server listening`, 0, 10*time.Second) {
		t.Fatalf("mist serve did not start within 10 s; output:\n%s", topo.server.output())
	}
	return topo
}

// process is a command running in a namespace; its output is kept.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// start runs bin args... in namespace ns; it is killed at cleanup.
func start(t *testing.T, ns, bin string, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	// ip netns exec execs the program, so the process is the program itself.
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	// If the test process dies without its cleanup, so do its peers.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", args, ns, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor reports whether output matching re appears at least n+1 times
// within d.
func (p *process) waitFor(re string, n int, d time.Duration) bool {
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(rx.FindAllString(p.output(), -1)) > n {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// wait returns the exit code, or -1 if the process outlived ctx (it is then
// killed).
func (p *process) wait(ctx context.Context) int {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return -1
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

var routeLine = regexp.MustCompile(`(?m)^TEST ROUTE: addr=(\S+) type=(\S+)$`)

// lastRoute is the last route a peer printed (a route may change, e.g.
// relay first, direct later).
func lastRoute(out string) (addr netip.AddrPort, kind string, ok bool) {
	m := routeLine.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return netip.AddrPort{}, "", false
	}
	last := m[len(m)-1]
	a, err := netip.ParseAddrPort(last[1])
	if err != nil {
		return netip.AddrPort{}, "", false
	}
	return a, last[2], true
}

func lastLine(out string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

type pairResult struct {
	listenCode, connectCode int
	listenOut, connectOut   string
}

// pair runs `mist p2p listen --once` in one peer namespace and `mist p2p
// connect` in another, both through the public service.
func (topo *topology) pair(t *testing.T, listenNS, connectNS, tag string, extra ...string) pairResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	sig := serverIP + ":" + signalPort
	listenID, connectID := "str:"+tag+"-listen", "str:"+tag+"-connect"
	common := append([]string{"--signaling", sig, "--timeout", "8s"}, extra...)

	registered := len(regexp.MustCompile(`registered`).FindAllString(topo.server.output(), -1))
	listener := start(t, listenNS, topo.bin, append([]string{"p2p", "listen", "--identity", listenID, "--once"}, common...)...)
	// connect only once the listener is registered: signals for an unknown
	// identity are dropped, as in GNS's signaling.
	if !topo.server.waitFor(`registered.*`+regexp.QuoteMeta(listenID), 0, 10*time.Second) {
		t.Fatalf("listener %s never registered (%d registrations before); server log:\n%s\nlistener:\n%s",
			listenID, registered, topo.server.output(), listener.output())
	}
	connector := start(t, connectNS, topo.bin, append(append([]string{"p2p", "connect", "--identity", connectID, "--ticks", "20"}, common...), listenID)...)
	var r pairResult
	r.connectCode = connector.wait(ctx)
	r.listenCode = listener.wait(ctx)
	r.listenOut, r.connectOut = listener.output(), connector.output()
	for _, side := range []struct {
		name, out string
		code      int
	}{{"listen", r.listenOut, r.listenCode}, {"connect", r.connectOut, r.connectCode}} {
		route := "no route"
		if m := routeLine.FindAllString(side.out, -1); len(m) > 0 {
			route = m[len(m)-1]
		}
		t.Logf("%s: exit %d, %s", side.name, side.code, route)
	}
	// The peers' whole output, when a check fails.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("listen output:\n%s\nconnect output:\n%s", r.listenOut, r.connectOut)
		}
	})
	if r.listenCode < 0 || r.connectCode < 0 {
		t.Fatalf("a peer was still running after %v", caseTimeout)
	}
	return r
}

// expectRoute checks both sides exited 0 and printed a route of kind, with
// an address for which addrOK holds (given the side's name).
func expectRoute(t *testing.T, r pairResult, kind string, addrOK func(side string, a netip.Addr) bool) {
	t.Helper()
	for _, side := range []struct {
		name string
		code int
		out  string
	}{{"listen", r.listenCode, r.listenOut}, {"connect", r.connectCode, r.connectOut}} {
		if side.code != 0 {
			t.Errorf("%s exited %d, want 0; last line: %s", side.name, side.code, lastLine(side.out))
		}
		addr, got, ok := lastRoute(side.out)
		if !ok {
			t.Errorf("%s printed no TEST ROUTE line", side.name)
			continue
		}
		if got != kind {
			t.Errorf("%s: route type=%s addr=%s, want type=%s", side.name, got, addr, kind)
		}
		if !addrOK(side.name, addr.Addr()) {
			t.Errorf("%s: route addr=%s is not the expected address for type=%s", side.name, addr, kind)
		}
	}
}

func TestRealNAT(t *testing.T) {
	requireNetns(t)
	began := time.Now()
	topo := buildTopology(t)
	t.Logf("topology %s built in %v", topo.prefix, time.Since(began).Round(time.Millisecond))
	stun := "--stun=" + serverIP + ":" + stunPort
	turn := []string{"--turn", serverIP + ":" + stunPort, "--turn-user", turnUser, "--turn-pass", turnPass}
	cone1, cone2 := topo.homes["cone1"], topo.homes["cone2"]
	sym1, sym2 := topo.homes["sym1"], topo.homes["sym2"]
	wan := func(h *home) netip.Addr { return netip.MustParseAddr(h.wanIP) }

	t.Run("SameLANLocal", func(t *testing.T) {
		r := topo.pair(t, cone1.peers[0], cone1.peers[1], "lan", stun)
		lan := netip.MustParsePrefix(cone1.lanNet + ".0/24")
		expectRoute(t, r, "local", func(_ string, a netip.Addr) bool { return lan.Contains(a) })
	})
	t.Run("ConeToConeDirectViaSTUN", func(t *testing.T) {
		directPackets(t, cone1, true)
		r := topo.pair(t, cone1.peers[0], cone2.peers[0], "cone", stun)
		if n := directPackets(t, cone1, false); n == 0 {
			t.Errorf("a direct route, yet no packet left %s for the other home", cone1.router)
		}
		// Each side sees the other's router: the NAT's public address.
		expectRoute(t, r, "udp", func(side string, a netip.Addr) bool {
			if side == "listen" {
				return a == wan(cone2)
			}
			return a == wan(cone1)
		})
	})
	t.Run("ConeToConeWithTURNDirect", func(t *testing.T) {
		// A relay is offered but the direct pair works: the route ends direct.
		r := topo.pair(t, cone1.peers[0], cone2.peers[0], "conerelay", append([]string{stun}, turn...)...)
		expectRoute(t, r, "udp", func(side string, a netip.Addr) bool {
			if side == "listen" {
				return a == wan(cone2)
			}
			return a == wan(cone1)
		})
	})
	t.Run("RelayOnlyHidesAddresses", func(t *testing.T) {
		directPackets(t, cone1, true)
		directPackets(t, cone2, true)
		r := topo.pair(t, cone1.peers[0], cone2.peers[0], "relayonly", append([]string{stun, "--relay-only"}, turn...)...)
		// Not one packet went toward the other home: only the relay was used.
		for _, h := range []*home{cone1, cone2} {
			if n := directPackets(t, h, false); n != 0 {
				t.Errorf("with --relay-only, %d packets left %s for an address other than the service", n, h.router)
			}
		}
		expectRoute(t, r, "relay", func(_ string, a netip.Addr) bool { return a == netip.MustParseAddr(serverIP) })
		// Neither side may learn the other's LAN or NAT address.
		for _, leak := range []string{cone1.wanIP, cone2.wanIP, cone1.lanNet + ".", cone2.lanNet + "."} {
			if strings.Contains(r.listenOut, leak) || strings.Contains(r.connectOut, leak) {
				t.Errorf("with --relay-only a peer printed %s, a peer's address", leak)
			}
		}
	})
	t.Run("SymmetricToSymmetricRelay", func(t *testing.T) {
		r := topo.pair(t, sym1.peers[0], sym2.peers[0], "relay", append([]string{stun}, turn...)...)
		expectRoute(t, r, "relay", func(_ string, a netip.Addr) bool { return a == netip.MustParseAddr(serverIP) })
	})
	t.Run("SymmetricToSymmetricWithoutTURNFails", func(t *testing.T) {
		r := topo.pair(t, sym1.peers[0], sym2.peers[0], "norelay", stun)
		for _, side := range []struct {
			name string
			code int
			out  string
		}{{"listen", r.listenCode, r.listenOut}, {"connect", r.connectCode, r.connectOut}} {
			if side.code != 1 {
				t.Errorf("%s exited %d, want 1", side.name, side.code)
			}
			if _, kind, ok := lastRoute(side.out); ok {
				t.Errorf("%s printed a route (type=%s) though no pair can work", side.name, kind)
			}
			if last := lastLine(side.out); !strings.Contains(last, "no route") {
				t.Errorf("%s: last line %q does not say no route was found", side.name, last)
			}
		}
	})
	if d := time.Since(began); d > 2*time.Minute {
		t.Errorf("the real-NAT test took %v, more than 2 minutes", d.Round(time.Second))
	}
	if gns := os.Getenv(gnsTestP2PEnv); gns != "" {
		t.Run("GNS", func(t *testing.T) { testGNSBehindNATs(t, topo, gns) })
	}
}

// gnsTestP2PEnv names a GameNetworkingSockets test_p2p binary; when set,
// GNS peers run behind the same NATs, against mist peers and each other,
// through the same mist serve node.
const gnsTestP2PEnv = "MIST_GNS_TEST_P2P"

// gnsRoute is test_p2p's route line, after its timestamp.
var gnsRoute = regexp.MustCompile(`TEST ROUTE: addr=(\S+) type=(\S+)`)

// startGNS runs test_p2p in namespace ns with its libraries beside it.
func startGNS(t *testing.T, ns, bin string, args ...string) *process {
	t.Helper()
	env := []string{"LD_LIBRARY_PATH=" + filepath.Dir(bin), bin}
	return start(t, ns, "/usr/bin/env", append(env, args...)...)
}

func testGNSBehindNATs(t *testing.T, topo *topology, gns string) {
	sig := serverIP + ":" + signalPort
	stunAddr := serverIP + ":" + stunPort
	turnGNS := []string{"--turn-server", stunAddr, "--turn-username", turnUser, "--turn-password", turnPass}
	turnMist := []string{"--turn", stunAddr, "--turn-user", turnUser, "--turn-pass", turnPass}
	cone1, cone2 := topo.homes["cone1"], topo.homes["cone2"]
	sym1, sym2 := topo.homes["sym1"], topo.homes["sym2"]
	gnsCommon := func(id string) []string {
		return []string{"--identity-local", id, "--signaling-server", sig, "--stun-server", stunAddr}
	}
	waitRegistered := func(t *testing.T, id string, p *process) {
		if !topo.server.waitFor(`registered.*`+regexp.QuoteMeta(id), 0, 10*time.Second) {
			t.Fatalf("%s never registered; its output:\n%s", id, p.output())
		}
	}
	finish := func(t *testing.T, procs map[string]*process, want string) {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		defer cancel()
		for name, p := range procs {
			code := p.wait(ctx)
			out := p.output()
			m := gnsRoute.FindAllStringSubmatch(out, -1)
			if code != 0 || len(m) == 0 {
				t.Errorf("%s: exit %d, route %v; output:\n%s", name, code, m, out)
				continue
			}
			route := m[len(m)-1]
			t.Logf("%s: exit 0, %s", name, route[0])
			// A GNS peer prints a relayed route with no address.
			if route[2] != want {
				t.Errorf("%s: route type=%s, want %s", name, route[2], want)
			}
		}
	}
	t.Run("GNSListenerMistClientCones", func(t *testing.T) {
		id := "str:gns-server-cone"
		srv := startGNS(t, cone1.peers[0], gns, append([]string{"--server"}, gnsCommon(id)...)...)
		waitRegistered(t, id, srv)
		cli := start(t, cone2.peers[0], topo.bin, "p2p", "connect", "--identity", "str:mist-client-cone", "--signaling", sig,
			"--stun", stunAddr, "--timeout", "8s", "--ticks", "20", id)
		finish(t, map[string]*process{"gns listen": srv, "mist connect": cli}, "udp")
	})
	t.Run("MistListenerGNSClientSymmetricRelay", func(t *testing.T) {
		id := "str:mist-server-sym"
		srv := start(t, sym1.peers[0], topo.bin, append([]string{"p2p", "listen", "--identity", id, "--once", "--signaling", sig,
			"--stun", stunAddr, "--timeout", "8s"}, turnMist...)...)
		waitRegistered(t, id, srv)
		cli := startGNS(t, sym2.peers[0], gns, append(append([]string{"--client", "--identity-remote", id}, gnsCommon("str:gns-client-sym")...), turnGNS...)...)
		finish(t, map[string]*process{"mist listen": srv, "gns connect": cli}, "relay")
	})
	t.Run("TwoGNSPeersSymmetricRelay", func(t *testing.T) {
		id := "str:gns-server-sym"
		srv := startGNS(t, sym1.peers[0], gns, append(append([]string{"--server"}, gnsCommon(id)...), turnGNS...)...)
		waitRegistered(t, id, srv)
		cli := startGNS(t, sym2.peers[0], gns, append(append([]string{"--client", "--identity-remote", id}, gnsCommon("str:gns-client-sym2")...), turnGNS...)...)
		finish(t, map[string]*process{"gns listen": srv, "gns connect": cli}, "relay")
	})
}
