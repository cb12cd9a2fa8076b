package ca_test

import (
	"fmt"
	"time"

	"github.com/mistnet/mist/ca"
)

// A game backend issues a player a certificate after its own login check,
// and anyone trusting the CA's public key accepts it.
func ExampleAuthority_Issue() {
	authority, err := ca.New()
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cred, err := authority.Issue("str:alice", now, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	file, _ := cred.MarshalPEM() // what the player receives

	back, _ := ca.ParseCredential(file)
	trust := ca.NewTrust(authority.PublicKey())
	c, err := trust.Verify(back.Certificate, "str:alice", now.Add(time.Hour))
	fmt.Println(c.Identity, c.Expires.UTC(), err)
	_, err = trust.Verify(back.Certificate, "str:bob", now)
	fmt.Println(err != nil)
	// Output:
	// str:alice 2026-01-03 03:04:05 +0000 UTC <nil>
	// true
}
