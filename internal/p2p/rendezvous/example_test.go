package rendezvous_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/p2p/rendezvous"
	"github.com/mistnet/mist/internal/pb"
)

// Two peers handshake through signals passed by hand: the initiator's
// connect request creates the acceptor's session, the application accepts,
// and the connect OK completes the crypto handshake on the initiator.
func Example() {
	alice, _ := identity.Parse("str:alice")
	bob, _ := identity.Parse("str:bob")
	now := time.Unix(0, 0)

	// Initiator: fresh certificate and crypt info for the connection.
	ac, _ := rendezvous.NewLocalCrypto(alice, 0, cert.CipherList(0), rand.Reader)
	initiator, _ := rendezvous.NewInitiator(rendezvous.Config{
		LocalIdentity: alice, RemoteIdentity: bob, LocalConnID: 1,
		LocalVirtualPort: 0, RemoteVirtualPort: 0,
		Cert: ac.Cert.Signed, Crypt: ac.Signed,
	}, now)
	request, _ := rendezvous.Append(nil, initiator.Poll(now))

	// Acceptor: the router sees a connect request for no connection.
	router := rendezvous.NewRouter(rendezvous.Limits{})
	_, _, req, _ := router.Route(now, request)
	peer, err := cert.ValidatePeer(req.Cert, req.Crypt, &cert.Policy{AllowWithoutAuth: 1, PeerIdentity: req.Identity})
	if err != nil {
		fmt.Println(err)
		return
	}
	acceptor, _, _ := rendezvous.NewAcceptor(rendezvous.Config{LocalIdentity: bob, LocalConnID: 2}, req, now)
	router.Add(acceptor)
	cipher, _ := rendezvous.AcceptCipher(cert.CipherList(0), peer)
	bc, _ := rendezvous.NewLocalCrypto(bob, 0, []pb.Cipher{cipher}, rand.Reader)
	acceptor.Accept(now, bc.Cert.Signed, bc.Signed)

	now = now.Add(rendezvous.SignalDelay)
	ok, _ := rendezvous.Append(nil, acceptor.Poll(now))
	m, _ := rendezvous.Parse(ok)
	in, _ := initiator.Receive(now, m)
	fmt.Println("initiator got connect OK:", in.ConnectOK != nil, "state:", initiator.State())
	fmt.Println("acceptor state:", acceptor.State(), "peer port:", acceptor.RemoteVirtualPort())
	// Output:
	// initiator got connect OK: true state: finding route
	// acceptor state: finding route peer port: 0
}
