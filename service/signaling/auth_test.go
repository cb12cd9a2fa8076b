package signaling

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/ca"
)

func newAuthority(t *testing.T) *ca.Authority {
	t.Helper()
	a, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func issue(t *testing.T, a *ca.Authority, id string, now time.Time, valid time.Duration) *ca.Credential {
	t.Helper()
	c, err := a.Issue(id, now, valid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// registerProven registers with the extension on a new connection.
func registerProven(t *testing.T, addr, id string, cred *ca.Credential) (*testClient, *Registration, error) {
	t.Helper()
	c := dial(t, addr)
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	reg, err := Register(c.nc, c.r, id, cred)
	return c, reg, err
}

func TestAuthenticatedRegistration(t *testing.T) {
	authority := newAuthority(t)
	now := time.Now()
	s, addr := startServer(t, Config{Authenticator: &Authenticator{
		Trust: ca.NewTrust(authority.PublicKey()),
		TURNCredentials: func(id string, now time.Time) (string, string) {
			return "exp:" + id, "secret"
		},
	}})
	aliceCred := issue(t, authority, "str:alice", now, time.Hour)
	alice, reg, err := registerProven(t, addr, "str:alice", aliceCred)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Identity != "str:alice" || reg.TURNUser != "exp:str:alice" || reg.TURNPass != "secret" {
		t.Fatalf("registration %+v", reg)
	}
	bob, _, err := registerProven(t, addr, "str:bob", issue(t, authority, "str:bob", now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, s, 2)
	bob.send("str:alice 1234\n")
	alice.expect("str:bob 1234\n")

	refusals := []struct {
		name string
		try  func() error
		want string
	}{
		{"plain GNS greeting", func() error {
			c := register(t, addr, "str:alice")
			line, err := c.line(5 * time.Second)
			if err != nil || strings.Contains(line[:len(line)-1], " ") || !strings.HasPrefix(line, "!mist-refused:") {
				return fmt.Errorf("refusal line %q (%v) holds a space or is missing", line, err)
			}
			// The connection stays open, so GNS's client does not
			// reconnect in a loop; what it sends goes nowhere.
			c.send("str:bob 666\n")
			c.expectNothing(100 * time.Millisecond)
			return &RefusedError{Reason: line}
		}, "certificate"},
		{"no certificate", func() error {
			// The client gives up by itself; the server waits for its
			// greeting timeout and counts no refusal.
			_, _, err := registerProven(t, addr, "str:alice", nil)
			if err == nil {
				return nil
			}
			return &RefusedError{Reason: err.Error()}
		}, "requires a certificate"},
		{"certificate for another identity", func() error {
			_, _, err := registerProven(t, addr, "str:alice", issue(t, authority, "str:mallory", now, time.Hour))
			return err
		}, "another identity"},
		{"certificate from another CA", func() error {
			_, _, err := registerProven(t, addr, "str:alice", issue(t, newAuthority(t), "str:alice", now, time.Hour))
			return err
		}, "not signed by a trusted CA"},
		{"expired certificate", func() error {
			_, _, err := registerProven(t, addr, "str:alice", issue(t, authority, "str:alice", now.Add(-2*time.Hour), time.Hour))
			return err
		}, "expired"},
		{"alice's certificate without her key", func() error {
			stolen := *aliceCred
			stolen.PrivateKey = issue(t, authority, "str:mallory", now, time.Hour).PrivateKey
			_, _, err := registerProven(t, addr, "str:alice", &stolen)
			return err
		}, "does not verify"},
		{"replayed proof", func() error {
			// A proof is bound to its nonce: answering a new challenge
			// with an old proof fails.
			c := dial(t, addr)
			c.send("!mist-auth1 str:alice\n")
			if _, err := c.line(5 * time.Second); err != nil {
				return err
			}
			c.send("!mist-proof " + b64.EncodeToString(aliceCred.Certificate) + " " + b64.EncodeToString(make([]byte, 64)) + "\n")
			line, _ := c.line(5 * time.Second)
			return &RefusedError{Reason: line}
		}, "does not verify"},
		{"malformed greeting", func() error {
			c := dial(t, addr)
			c.send("!mist-auth1\n")
			line, _ := c.line(5 * time.Second)
			return &RefusedError{Reason: line}
		}, "unknown extension greeting"},
	}
	for _, r := range refusals {
		err := r.try()
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, r.want) {
			t.Errorf("%s: got %v, want a refusal saying %q", r.name, err, r.want)
		}
		// The rightful owner is undisturbed.
		bob.send("str:alice after-" + strings.ReplaceAll(r.name, " ", "-") + "\n")
		alice.expect("str:bob after-" + strings.ReplaceAll(r.name, " ", "-") + "\n")
	}
	// Nothing the refused clients sent reached anyone.
	bob.expectNothing(50 * time.Millisecond)
	if got := s.Stats().AuthRefused; got != uint64(len(refusals)-1) {
		t.Errorf("AuthRefused %d, want %d", got, len(refusals)-1)
	}

	// A second proven holder of alice's identity wins the registration.
	alice2, _, err := registerProven(t, addr, "str:alice", issue(t, authority, "str:alice", now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	alice.expectClosed()
	bob.send("str:alice new\n")
	alice2.expect("str:bob new\n")
}

func TestOpenServerAcceptsTheExtensionWithoutProof(t *testing.T) {
	s, addr := startServer(t, Config{})
	alice, reg, err := registerProven(t, addr, "str:alice", nil)
	if err != nil || reg.Identity != "str:alice" || reg.TURNUser != "" {
		t.Fatalf("%+v %v", reg, err)
	}
	bob := register(t, addr, "str:bob")
	waitRegistered(t, s, 2)
	bob.send("str:alice 77\n")
	alice.expect("str:bob 77\n")
}

func FuzzVerifyProof(f *testing.F) {
	authority, _ := ca.New()
	now := time.Unix(1_800_000_000, 0)
	cred, _ := authority.Issue("str:alice", now, time.Hour)
	nonce := make([]byte, nonceSize)
	sig := []byte("x")
	f.Add([]byte("!mist-proof " + b64.EncodeToString(cred.Certificate) + " " + b64.EncodeToString(sig) + "\n"))
	f.Add([]byte("!mist-proof a b\n"))
	trust := ca.NewTrust(authority.PublicKey())
	f.Fuzz(func(t *testing.T, line []byte) {
		if id, err := VerifyProof(trust, "str:alice", nonce, line, now); err == nil {
			t.Fatalf("a proof without alice's key passed as %q", id)
		}
	})
}
