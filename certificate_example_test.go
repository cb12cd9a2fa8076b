package mist_test

import (
	"fmt"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/ca"
)

// A backend issues credentials after its own login check; peers load
// theirs and accept only certificates from that CA.
func Example_certificatesWithoutSteam() {
	authority, err := ca.New() // or ca.Load(dir), which reads dir/ca.key
	if err != nil {
		panic(err)
	}
	credentialFile := func(id string) []byte {
		cred, err := authority.Issue(id, time.Now(), 24*time.Hour)
		if err != nil {
			panic(err)
		}
		text, err := cred.MarshalPEM() // hand this to the player only
		if err != nil {
			panic(err)
		}
		return text
	}
	trust := ca.NewTrust(authority.PublicKey()) // or ca.LoadTrust("ca/ca.pub")

	peer := func(id string) *mist.Sockets {
		mine, err := ca.ParseCredential(credentialFile(id)) // or ca.ReadCredential(file)
		if err != nil {
			panic(err)
		}
		s, err := mist.New(mist.Config{
			Certificate: mine.Certificate, CertificateKey: mine.PrivateKey,
			TrustedCAs: trust.Keys(), RequireAuthentication: true,
		})
		if err != nil {
			panic(err)
		}
		return s
	}
	server, alice := peer("str:server"), peer("str:alice")
	defer server.Close()
	defer alice.Close()
	server.OnConnectionStatusChanged(func(ev *mist.ConnStatusChanged) {
		if ev.Info.State == mist.StateConnecting {
			server.AcceptConnection(ev.Conn)
		}
	})
	addr := localAddr()
	server.CreateListenSocketIP(addr)
	conn := alice.ConnectByIPAddress(addr)
	pollUntil(func() bool {
		info, _ := alice.ConnectionInfo(conn)
		return info.State == mist.StateConnected
	}, server, alice)
	info, _ := alice.ConnectionInfo(conn)
	id, _ := alice.Identity()
	fmt.Println(id, "->", info.RemoteIdentity, info.State, "authenticated:", info.Flags&mist.ConnInfoUnauthenticated == 0)
	fmt.Println("InitAuthentication:", int(alice.InitAuthentication()))
	// Output:
	// str:alice -> str:server Connected authenticated: true
	// InitAuthentication: 100
}
