package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/ca"
)

// chatCA makes a CA in a temporary directory and returns the path of its
// ca.pub and a function writing a credential file for an identity.
func chatCA(t *testing.T) (pub string, issue func(id string, from time.Time) string) {
	t.Helper()
	dir := t.TempDir()
	authority, err := ca.Init(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ca", ca.PublicFile), func(id string, from time.Time) string {
		cred, err := authority.Issue(id, from, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		text, err := cred.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, strings.TrimPrefix(id, "str:")+".cred")
		if err := os.WriteFile(name, text, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
}

// A client with a credential from the CA the server trusts connects and
// chats; both sides require certificates.
func TestChatWithCertificates(t *testing.T) {
	t.Cleanup(checkGoroutines(t))
	pub, issue := chatCA(t)
	server := startChat(t, "server", "server", "--bind", "127.0.0.1", "--port", "0",
		"--cert", issue("str:chat-server", time.Now()), "--trust", pub)
	server.expect(logLine + `Presenting the certificate of str:chat-server from `)
	server.expect(logLine + `Accepting only peers with a certificate from the CA in ` + regexp.QuoteMeta(pub) + `$`)
	port := server.expect(logLine + `Server listening on port (\d+)$`)[1]
	addr := "127.0.0.1:" + port

	alice := startChat(t, "alice", "client", "--cert", issue("str:alice", time.Now()), "--trust", pub, addr)
	alice.expect(logLine + `Presenting the certificate of str:alice from `)
	alice.expect(logLine + `Connected to server OK$`)
	alice.expect(`^Thou art utterly alone\.$`)
	server.expect(logLine + `Connection request from .*str:alice`)
	alice.say("/quit")
	if code := alice.wait(); code != 0 {
		t.Errorf("client exited %d, want 0", code)
	}
	server.say("/quit")
	if code := server.wait(); code != 0 {
		t.Errorf("server exited %d, want 0", code)
	}
}

// A --trust client refuses a server without a certificate from its CA and
// says why; a --trust server ignores a client without one, which times out
// and is told about --cert.
func TestChatRefusesUnsignedPeers(t *testing.T) {
	t.Cleanup(checkGoroutines(t))
	pub, issue := chatCA(t)

	open := startChat(t, "open server", "server", "--bind", "127.0.0.1", "--port", "0")
	port := open.expect(logLine + `Server listening on port (\d+)$`)[1]
	var out, errOut syncBuffer
	code := runChat(context.Background(), []string{"client", "--cert", issue("str:alice", time.Now()), "--trust", pub, "--timeout", "5s", "127.0.0.1:" + port},
		strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Fatalf("client of an unsigned server exited %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "We sought the remote host, yet our efforts were met with defeat.  (Unsigned certs are not allowed") {
		t.Errorf("stdout does not show the refusal:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "The server's certificate was refused: --trust must name the CA") {
		t.Errorf("stderr does not say what to check:\n%s", errOut.String())
	}
	open.say("/quit")
	open.wait()

	strict := startChat(t, "strict server", "server", "--bind", "127.0.0.1", "--port", "0",
		"--cert", issue("str:chat-server", time.Now()), "--trust", pub)
	port = strict.expect(logLine + `Server listening on port (\d+)$`)[1]
	out, errOut = syncBuffer{}, syncBuffer{}
	code = runChat(context.Background(), []string{"client", "--timeout", "1s", "127.0.0.1:" + port},
		strings.NewReader(""), &out, &errOut)
	if code != 1 {
		t.Fatalf("unsigned client exited %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "A server started with --trust ignores clients without a certificate from its CA: give one with --cert.") {
		t.Errorf("stderr does not mention --cert:\n%s", errOut.String())
	}
	strict.say("/quit")
	if code := strict.wait(); code != 0 {
		t.Errorf("server exited %d", code)
	}
	if strings.Contains(strict.history(), "Connection request") {
		t.Errorf("the strict server let an unsigned client in:\n%s", strict.history())
	}
}

func TestChatCertificateFlagErrors(t *testing.T) {
	pub, issue := chatCA(t)
	cred := issue("str:alice", time.Now())
	missing := filepath.Join(t.TempDir(), "missing.cred")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--cert", missing}, "--cert " + missing + ": no such file or directory (make one with 'mist ca issue')"},
		{[]string{"server", "--cert", pub}, "--cert " + pub + `: credential holds no "STEAMDATAGRAM CERT" block`},
		{[]string{"client", "--trust", missing, "127.0.0.1"}, "--trust " + missing + ": no such file or directory"},
		{[]string{"client", "--trust", cred, "127.0.0.1"}, "--trust " + cred + ": public key: "},
		{[]string{"client", "--trust", cred, "127.0.0.1"}, "(give the ca.pub that 'mist ca init' wrote)"},
	} {
		var out, errOut syncBuffer
		code := runChat(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("chat %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// The flags warn about what peers will refuse: an expired certificate, and
// --trust without a certificate of one's own.
func TestCredentialWarnings(t *testing.T) {
	pub, issue := chatCA(t)
	expired := credentialFlags{certFile: issue("str:old", time.Now().Add(-3*time.Hour)), trustFile: pub}
	if msg := expired.load(); msg != "" {
		t.Fatal(msg)
	}
	var out, errOut syncBuffer
	expired.describe(newChatLog(&out), &errOut, "mist chat client", time.Now())
	if !strings.Contains(errOut.String(), "mist chat client: warning: the certificate in "+expired.certFile+" expired at ") {
		t.Errorf("no expiry warning: %q", errOut.String())
	}
	if !strings.Contains(out.String(), "Presenting the certificate of str:old") {
		t.Errorf("log: %q", out.String())
	}
	trustOnly := credentialFlags{trustFile: pub}
	if msg := trustOnly.load(); msg != "" {
		t.Fatal(msg)
	}
	errOut = syncBuffer{}
	trustOnly.describe(newChatLog(&out), &errOut, "mist chat server", time.Now())
	if !strings.Contains(errOut.String(), "mist chat server: warning: --trust without --cert") {
		t.Errorf("no warning for --trust alone: %q", errOut.String())
	}
	if cfg := trustOnly.config(); !cfg.RequireAuthentication || len(cfg.TrustedCAs) != 1 || cfg.Certificate != nil {
		t.Errorf("config for --trust alone: %+v", cfg)
	}
	fresh := credentialFlags{certFile: issue("str:new", time.Now())}
	fresh.load()
	errOut = syncBuffer{}
	fresh.describe(newChatLog(&out), &errOut, "mist chat client", time.Now())
	if errOut.String() != "" {
		t.Errorf("warnings for a valid certificate: %q", errOut.String())
	}
}

func TestConnectHints(t *testing.T) {
	_, issue := chatCA(t)
	none, with := credentialFlags{}, credentialFlags{certFile: issue("str:alice", time.Now())}
	with.load()
	for _, tc := range []struct {
		c      *credentialFlags
		reason mist.EndReason
		want   string
	}{
		{&with, mist.EndRemoteBadCert, "The server's certificate was refused"},
		{&none, mist.EndRemoteBadCrypt, "The server's certificate was refused"},
		{&none, mist.EndMiscTimeout, "give one with --cert"},
		{&with, mist.EndMiscTimeout, "another CA issued or that has expired"},
		{&with, mist.EndMiscGeneric, "Is a chat server running there?"},
	} {
		if got := tc.c.connectHint(tc.reason); !strings.Contains(got, tc.want) {
			t.Errorf("hint for %d (cert %v): %q, want %q", tc.reason, tc.c.cred != nil, got, tc.want)
		}
	}
}
