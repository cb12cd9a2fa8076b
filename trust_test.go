package mist

import (
	"crypto/ed25519"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/ca"
	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/pb"
)

// What certificate a peer in the trust tests presents.
type certKind int

const (
	certTrusted    certKind = iota // issued by the trusted CA, for the peer
	certSelfSigned                 // none installed: self-signed per connection
	certOtherCA                    // issued by another CA
	certExpired                    // issued by the trusted CA, expired
	certOtherID                    // issued by the trusted CA to str:mallory
	certStolen                     // the peer's certificate without its key
)

// refusalCases are the certificates a peer that trusts one CA
// (RequireAuthentication) refuses, with the end reason's debug text.
var refusalCases = []struct {
	name   string
	kind   certKind
	reason EndReason
	debug  string
}{
	{"self-signed", certSelfSigned, EndRemoteBadCert, "Unsigned certs are not allowed"},
	{"another CA", certOtherCA, EndRemoteBadCert, "Bad cert: CA key id"},
	{"expired", certExpired, EndRemoteBadCert, "Bad cert: certificate expired at"},
	{"stolen certificate", certStolen, EndRemoteBadCrypt, "signature"},
}

// trustPeer makes an instance named str:name presenting a certificate of
// kind; strict ones trust authority only and require authentication.
func trustPeer(t *testing.T, authority *ca.Authority, name string, kind certKind, strict bool) *Sockets {
	t.Helper()
	cfg := Config{Identity: strIdentity(t, name)}
	if strict {
		cfg.TrustedCAs = []ed25519.PublicKey{authority.PublicKey()}
		cfg.RequireAuthentication = true
	}
	var cred *ca.Credential
	switch kind {
	case certTrusted:
		cred = issue(t, authority, "str:"+name, false)
	case certOtherCA:
		cred = issue(t, newAuthority(t), "str:"+name, false)
	case certExpired:
		cred = issue(t, authority, "str:"+name, true)
	}
	if cred != nil {
		cfg.Certificate, cfg.CertificateKey = cred.Certificate, cred.PrivateKey
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	switch kind {
	case certOtherID:
		// Mallory's credential in an instance that calls itself name:
		// SetCertificate refuses this, so it is installed here.
		mallory := issue(t, authority, "str:mallory", false)
		installUnchecked(t, s, mallory.Certificate, mallory.PrivateKey)
	case certStolen:
		// The certificate of name, without the key it vouches for.
		victim := issue(t, authority, "str:"+name, false)
		installUnchecked(t, s, victim.Certificate, issue(t, authority, "str:"+name, false).PrivateKey)
	}
	return s
}

// installUnchecked makes s present certificate, signing with key, without
// SetCertificate's checks.
func installUnchecked(t *testing.T, s *Sockets, certificate []byte, key ed25519.PrivateKey) {
	t.Helper()
	var signed pb.CertificateSigned
	if err := proto.Unmarshal(certificate, &signed); err != nil {
		t.Fatal(err)
	}
	c, err := cert.Parse(&signed)
	if err != nil {
		t.Fatal(err)
	}
	s.local.Store(&cert.Local{Signed: &signed, Cert: c, Key: key})
}

// trustServer listens on a free loopback port, accepting every connection
// it is told of, and returns the address and the connections it saw.
func trustServer(t *testing.T, s *Sockets) (netip.AddrPort, *[]*ConnStatusChanged) {
	t.Helper()
	var events []*ConnStatusChanged
	s.OnConnectionStatusChanged(func(ev *ConnStatusChanged) {
		events = append(events, ev)
		if ev.Info.State == StateConnecting {
			s.AcceptConnection(ev.Conn)
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t))
	if s.CreateListenSocketIP(addr) == 0 {
		t.Fatal("listen failed")
	}
	return addr, &events
}

func settled(info ConnectionInfo) bool {
	return info.State == StateConnected || info.State == StateProblemDetectedLocally || info.State == StateClosedByPeer
}

// Two peers that trust the same CA and present certificates it issued
// connect, each authenticated and knowing the other's certified identity.
func TestTrustAcceptsCAIssuedCertificates(t *testing.T) {
	authority := newAuthority(t)
	server := trustPeer(t, authority, "server", certTrusted, true)
	addr, events := trustServer(t, server)
	client := trustPeer(t, authority, "client", certTrusted, true)
	h := client.ConnectByIPAddress(addr)
	waitFor(t, "connection", func() bool { info, _ := client.ConnectionInfo(h); return settled(info) }, server, client)
	info, _ := client.ConnectionInfo(h)
	if info.State != StateConnected || info.Flags&ConnInfoUnauthenticated != 0 || info.RemoteIdentity.String() != "str:server" {
		t.Fatalf("client: state %v (end %d %q), flags %b, peer %v", info.State, info.EndReason, info.EndDebug, info.Flags, info.RemoteIdentity)
	}
	var sconn Conn
	waitFor(t, "server side", func() bool {
		for _, ev := range *events {
			sconn = ev.Conn
		}
		sinfo, _ := server.ConnectionInfo(sconn)
		return sinfo.State == StateConnected
	}, server, client)
	if sinfo, _ := server.ConnectionInfo(sconn); sinfo.Flags&ConnInfoUnauthenticated != 0 || sinfo.RemoteIdentity.String() != "str:client" {
		t.Errorf("server: flags %b, peer %v", sinfo.Flags, sinfo.RemoteIdentity)
	}
}

// A client that trusts one CA refuses a server whose certificate is not
// signed by it or is expired with Remote_BadCert (4003), and one that
// presents a certificate without holding its key with Remote_BadCrypt
// (4002), with the reason in the debug text. The server hears of it as
// ClosedByPeer with the same reason.
func TestTrustClientRefusesServer(t *testing.T) {
	authority := newAuthority(t)
	client := trustPeer(t, authority, "client", certTrusted, true)
	for _, tc := range refusalCases {
		t.Run(tc.name, func(t *testing.T) {
			server := trustPeer(t, authority, "server", tc.kind, false)
			addr, events := trustServer(t, server)
			h := client.ConnectByIPAddress(addr)
			waitFor(t, "refusal", func() bool { info, _ := client.ConnectionInfo(h); return settled(info) }, server, client)
			info, _ := client.ConnectionInfo(h)
			if info.State != StateProblemDetectedLocally || info.EndReason != tc.reason || !strings.Contains(info.EndDebug, tc.debug) {
				t.Fatalf("client: state %v, end %d %q; want ProblemDetectedLocally, %d, %q", info.State, info.EndReason, info.EndDebug, tc.reason, tc.debug)
			}
			t.Logf("client's end: %d %q", info.EndReason, info.EndDebug)
			waitFor(t, "server to hear of it", func() bool {
				for _, ev := range *events {
					if ev.Info.State == StateClosedByPeer {
						return true
					}
				}
				return false
			}, server, client)
			for _, ev := range *events {
				if ev.Info.State == StateClosedByPeer && ev.Info.EndReason != tc.reason {
					t.Errorf("server: closed by peer with %d %q, want %d", ev.Info.EndReason, ev.Info.EndDebug, tc.reason)
				}
			}
			client.CloseConnection(h, 0, "", false)
		})
	}
}

// A server that trusts one CA refuses such clients as GNS does: the
// ConnectRequest is dropped without a connection the application sees,
// and the client times out (Misc_Timeout).
func TestTrustServerRefusesClient(t *testing.T) {
	authority := newAuthority(t)
	server := trustPeer(t, authority, "server", certTrusted, true)
	addr, events := trustServer(t, server)
	for _, tc := range refusalCases {
		t.Run(tc.name, func(t *testing.T) {
			client := trustPeer(t, authority, "client", tc.kind, false)
			h := client.ConnectByIPAddress(addr, Int32Value(OptTimeoutInitial, 800))
			waitFor(t, "refusal", func() bool { info, _ := client.ConnectionInfo(h); return settled(info) }, server, client)
			info, _ := client.ConnectionInfo(h)
			if info.State != StateProblemDetectedLocally || info.EndReason != EndMiscTimeout {
				t.Errorf("client: state %v, end %d %q; want a timeout", info.State, info.EndReason, info.EndDebug)
			}
			if len(*events) != 0 {
				t.Errorf("server saw %d connection events for a refused client", len(*events))
			}
		})
	}
}

// Over IP a peer's identity is its certificate's, as in GNS: an instance
// holding mallory's credential is mallory to the other side whatever it
// calls itself, on both sides of the connection. (A certificate for
// another identity than the one connected to is refused with
// Remote_BadCert where that identity is known beforehand: P2P.)
func TestTrustIdentityIsTheCertificates(t *testing.T) {
	authority := newAuthority(t)
	for _, serverImpostor := range []bool{false, true} {
		serverKind, clientKind := certTrusted, certOtherID
		if serverImpostor {
			serverKind, clientKind = certOtherID, certTrusted
		}
		server := trustPeer(t, authority, "server", serverKind, true)
		addr, events := trustServer(t, server)
		client := trustPeer(t, authority, "client", clientKind, true)
		h := client.ConnectByIPAddress(addr)
		var sconn Conn
		waitFor(t, "connection", func() bool {
			for _, ev := range *events {
				sconn = ev.Conn
			}
			info, _ := client.ConnectionInfo(h)
			sinfo, _ := server.ConnectionInfo(sconn)
			return settled(info) && sinfo.State == StateConnected
		}, server, client)
		info, _ := client.ConnectionInfo(h)
		sinfo, _ := server.ConnectionInfo(sconn)
		wantServer, wantClient := "str:server", "str:mallory"
		if serverImpostor {
			wantServer, wantClient = "str:mallory", "str:client"
		}
		if info.State != StateConnected || info.RemoteIdentity.String() != wantServer || sinfo.RemoteIdentity.String() != wantClient {
			t.Errorf("server impostor %v: client %v sees %v, server sees %v; want %s and %s",
				serverImpostor, info.State, info.RemoteIdentity, sinfo.RemoteIdentity, wantServer, wantClient)
		}
	}
}

// p2pTrustCases are refusals over P2P, where the identity connected to is
// known beforehand, so a certificate for another one is refused too.
var p2pTrustCases = append(refusalCases[:len(refusalCases):len(refusalCases)],
	struct {
		name   string
		kind   certKind
		reason EndReason
		debug  string
	}{"another identity", certOtherID, EndRemoteBadCert, "Cert was issued to str:mallory, not str:"})

// trustP2P connects con to lis over P2P with in-process signaling and
// returns the connector's settled connection info and the listener's
// events.
func trustP2P(t *testing.T, lis, con *Sockets) (ConnectionInfo, *p2pPeers) {
	t.Helper()
	lis.p2p.iceLoopback, con.p2p.iceLoopback = true, true
	sn := newSignalNet(0)
	sn.join(t, lis)
	sn.join(t, con)
	p := &p2pPeers{lis: lis, con: con}
	ls, err := lis.CreateListenSocketP2P(7)
	if err != nil {
		t.Fatal(err)
	}
	p.ls = ls
	p.watch()
	target, _ := lis.Identity()
	p.cconn, err = con.ConnectP2PCustomSignaling(sn.signaling(target.String()), target, 7, Int32Value(OptTimeoutInitial, 3000))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connector to settle", func() bool { info, _ := con.ConnectionInfo(p.cconn); return settled(info) }, lis, con)
	info, _ := con.ConnectionInfo(p.cconn)
	return info, p
}

// Over P2P, the same policy: peers that trust one CA connect with its
// certificates, and refuse other certificates in both directions with
// GNS's end reasons.
func TestTrustP2P(t *testing.T) {
	authority := newAuthority(t)
	t.Run("accepted", func(t *testing.T) {
		info, p := trustP2P(t, trustPeer(t, authority, "alice", certTrusted, true), trustPeer(t, authority, "bob", certTrusted, true))
		if info.State != StateConnected || info.Flags&ConnInfoUnauthenticated != 0 || info.RemoteIdentity.String() != "str:alice" {
			t.Fatalf("state %v (end %d %q), flags %b, peer %v", info.State, info.EndReason, info.EndDebug, info.Flags, info.RemoteIdentity)
		}
		p.waitConnected(t)
	})
	for _, tc := range p2pTrustCases {
		t.Run("connector refuses "+tc.name, func(t *testing.T) {
			info, _ := trustP2P(t, trustPeer(t, authority, "alice", tc.kind, false), trustPeer(t, authority, "bob", certTrusted, true))
			if info.State != StateProblemDetectedLocally || info.EndReason != tc.reason || !strings.Contains(info.EndDebug, tc.debug) {
				t.Fatalf("connector: state %v, end %d %q; want ProblemDetectedLocally, %d, %q", info.State, info.EndReason, info.EndDebug, tc.reason, tc.debug)
			}
			t.Logf("connector's end: %d %q", info.EndReason, info.EndDebug)
		})
		t.Run("listener refuses "+tc.name, func(t *testing.T) {
			info, p := trustP2P(t, trustPeer(t, authority, "alice", certTrusted, true), trustPeer(t, authority, "bob", tc.kind, false))
			if info.State == StateConnected || info.EndReason != tc.reason || !strings.Contains(info.EndDebug, tc.debug) {
				t.Fatalf("connector: state %v, end %d %q; want a refusal with %d, %q", info.State, info.EndReason, info.EndDebug, tc.reason, tc.debug)
			}
			t.Logf("connector told: %v %d %q", info.State, info.EndReason, info.EndDebug)
			p.eventsLock.Lock()
			defer p.eventsLock.Unlock()
			if len(p.lisEvents) != 0 {
				t.Errorf("listener saw %d events for a refused connector", len(p.lisEvents))
			}
		})
	}
}
