package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// gnsExampleChatEnv names a GameNetworkingSockets example_chat binary. When
// it is set, the interop tests chat between mist and GNS in both roles.
const gnsExampleChatEnv = "MIST_GNS_EXAMPLE_CHAT"

func gnsExampleChat(t *testing.T) string {
	t.Helper()
	path := os.Getenv(gnsExampleChatEnv)
	if path == "" {
		t.Skipf("set %s to a GNS example_chat binary to chat with GNS", gnsExampleChatEnv)
	}
	return path
}

// startExternal runs a program as a chatProc: lines in on stdin, lines out
// from stdout.
func startExternal(t *testing.T, name, path string, args ...string) *chatProc {
	t.Helper()
	// example_chat writes received messages without flushing: ask for
	// line-buffered output when stdbuf is there.
	if stdbuf, err := exec.LookPath("stdbuf"); err == nil {
		args = append([]string{"-oL", path}, args...)
		path = stdbuf
	}
	cmd := exec.Command(path, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	p := &chatProc{t: t, name: name, lines: make(chan string, 1000), done: make(chan int, 1)}
	p.ext = in
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		cmd.Wait()
		p.done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
	})
	return p
}

// freeUDPPort finds a port nobody listens on, for a server that needs one
// named.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
}

func TestChatInteropGNSClientOnMistServer(t *testing.T) {
	gns := gnsExampleChat(t)
	server := startChat(t, "mist server", "server", "--bind", "127.0.0.1", "--port", "0")
	addr := "127.0.0.1:" + server.expect(logLine + `Server listening on port (\d+)$`)[1]

	alice := startChat(t, "mist client", "client", addr)
	aliceNick := alice.expect(`^Welcome, stranger\..*'(BraveWarrior\d+)'`)[1]

	valve := startExternal(t, "GNS client", gns, "client", addr)
	// example_chat reads messages before state changes, so its "Connected"
	// line may come after the welcome: do not wait for it.
	valveNick := valve.expect(`^Welcome, stranger\.  Thou art known to us for now as '(BraveWarrior\d+)'`)[1]
	valve.expect(`^` + aliceNick + `$`)
	alice.expect(`^Hark!  A stranger hath joined this merry host\.  For now we shall call them '` + valveNick + `'$`)

	valve.say("hello from GNS")
	alice.expect(`^` + valveNick + `: hello from GNS$`)
	alice.say("hello from mist")
	valve.expect(`^` + aliceNick + `: hello from mist$`)
	valve.say("/nick Gabe")
	valve.expect(`^Ye shall henceforth be known as Gabe$`)
	alice.expect(`^` + valveNick + ` shall henceforth be known as Gabe$`)
	valve.say("/quit")
	alice.expect(`^Gabe hath departed$`)

	server.say("/quit")
	alice.expect(`^Server is shutting down\.  Goodbye\.$`)
	if code := alice.wait(); code != 0 {
		t.Errorf("mist client exited %d", code)
	}
	if code := server.wait(); code != 0 {
		t.Errorf("mist server exited %d", code)
	}
}

func TestChatInteropMistClientOnGNSServer(t *testing.T) {
	gns := gnsExampleChat(t)
	port := freeUDPPort(t)
	server := startExternal(t, "GNS server", gns, "server", "--port", port)
	server.expect(logLine + `Server listening on port ` + port + `$`)
	addr := "127.0.0.1:" + port

	bob := startChat(t, "mist client", "client", addr)
	bob.expect(logLine + `Connected to server OK$`)
	bobNick := bob.expect(`^Welcome, stranger\.  Thou art known to us for now as '(BraveWarrior\d+)'; upon thine command '/nick' we shall know thee otherwise\.$`)[1]
	bob.expect(`^Thou art utterly alone\.$`)

	carol := startChat(t, "second mist client", "client", addr)
	carolNick := carol.expect(`^Welcome, stranger\..*'(BraveWarrior\d+)'`)[1]
	carol.expect(`^` + bobNick + `$`)
	bob.expect(`^Hark!  A stranger hath joined this merry host\.  For now we shall call them '` + carolNick + `'$`)

	bob.say("hello GNS server")
	carol.expect(`^` + bobNick + `: hello GNS server$`)
	bob.say("/nick Bob")
	bob.expect(`^Ye shall henceforth be known as Bob$`)
	carol.expect(`^` + bobNick + ` shall henceforth be known as Bob$`)
	bob.say("/quit")
	if code := bob.wait(); code != 0 {
		t.Errorf("mist client exited %d after /quit", code)
	}
	carol.expect(`^Bob hath departed$`)
	server.expect(logLine + `Connection .*'Bob' closed by peer, reason 1000: Goodbye$`)
	carol.say("/quit")
	if code := carol.wait(); code != 0 {
		t.Errorf("second mist client exited %d after /quit", code)
	}
}
