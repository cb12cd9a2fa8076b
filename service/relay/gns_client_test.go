package relay

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TURN attribute types GNS's client uses (RFC 5766).
const (
	attrLifetime           stun.AttrType = 0x000D
	attrXORPeerAddress     stun.AttrType = 0x0012
	attrData               stun.AttrType = 0x0013
	attrXORRelayedAddress  stun.AttrType = 0x0016
	attrRequestedTransport stun.AttrType = 0x0019
)

var (
	methodAllocate         = stun.Method(0x003)
	methodRefresh          = stun.Method(0x004)
	methodSend             = stun.Method(0x006)
	methodData             = stun.Method(0x007)
	methodCreatePermission = stun.Method(0x008)
)

// gnsClient speaks TURN the way GNS's native ICE client does: Allocate
// without LIFETIME, one retry after the 401 with an MD5 long-term key,
// CreatePermission listing several peers with port 0, Send indications with
// an all-zero transaction ID and no integrity, Refresh without LIFETIME.
type gnsClient struct {
	t      *testing.T
	conn   net.PacketConn
	server net.Addr
	user   string
	pass   string
	realm  string
	nonce  string
}

func (c *gnsClient) roundTrip(setters ...stun.Setter) *stun.Message {
	c.t.Helper()
	req, err := stun.Build(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.conn.WriteTo(req.Raw, c.server)
	buf := make([]byte, 1500)
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			c.t.Fatalf("no answer: %v", err)
		}
		res := new(stun.Message)
		res.Raw = append([]byte(nil), buf[:n]...)
		if res.Decode() == nil && res.TransactionID == req.TransactionID {
			return res
		}
	}
}

func (c *gnsClient) auth() []stun.Setter {
	return []stun.Setter{stun.NewUsername(c.user), stun.NewRealm(c.realm), stun.NewNonce(c.nonce),
		stun.NewLongTermIntegrity(c.user, c.realm, c.pass), stun.Fingerprint}
}

func errorCode(m *stun.Message) int {
	var ec stun.ErrorCodeAttribute
	if ec.GetFrom(m) != nil {
		return 0
	}
	return int(ec.Code)
}

// gnsAllocate makes an allocation the way GNS does and returns the client
// and its relayed address.
func gnsAllocate(t *testing.T, s *Server, user, pass string) (*gnsClient, stun.XORMappedAddress) {
	t.Helper()
	conn, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	t.Cleanup(func() { conn.Close() })
	c := &gnsClient{t: t, conn: conn, server: s.Addr(), user: user, pass: pass}
	transport := stun.RawAttribute{Type: attrRequestedTransport, Value: []byte{17, 0, 0, 0}}

	res := c.roundTrip(stun.NewType(methodAllocate, stun.ClassRequest), transport, stun.Fingerprint)
	if res.Type.Class != stun.ClassErrorResponse || errorCode(res) != 401 {
		t.Fatalf("unauthenticated Allocate: %v (code %d), want a 401", res.Type, errorCode(res))
	}
	var realm stun.Realm
	var nonce stun.Nonce
	if realm.GetFrom(res) != nil || nonce.GetFrom(res) != nil {
		t.Fatal("401 without REALM and NONCE")
	}
	c.realm, c.nonce = realm.String(), nonce.String()

	res = c.roundTrip(append([]stun.Setter{stun.NewType(methodAllocate, stun.ClassRequest), transport}, c.auth()...)...)
	if res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("authenticated Allocate: %v (code %d)", res.Type, errorCode(res))
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(res, attrXORRelayedAddress); err != nil {
		t.Fatalf("no XOR-RELAYED-ADDRESS: %v", err)
	}
	if lt, err := res.Get(attrLifetime); err != nil || len(lt) != 4 {
		t.Fatal("no LIFETIME in the Allocate answer")
	}
	return c, relayed
}

// sendIndication is a Send indication as GNS writes it: zero transaction
// ID, XOR-PEER-ADDRESS and DATA, nothing else.
func sendIndication(to *net.UDPAddr, payload []byte) []byte {
	ind := new(stun.Message)
	ind.Type = stun.NewType(methodSend, stun.ClassIndication)
	ind.WriteHeader()
	xorPeer(stun.XORMappedAddress{IP: to.IP, Port: to.Port}).AddTo(ind)
	ind.Add(attrData, payload)
	ind.WriteHeader()
	return ind.Raw
}

func TestGNSStyleTURNClient(t *testing.T) {
	s := startRelay(t, Config{Users: map[string]string{"gns": "secret"}})
	c, relayed := gnsAllocate(t, s, "gns", "secret")
	conn := c.conn
	peer, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr)
	other := stun.XORMappedAddress{IP: net.IPv4(127, 0, 0, 2)}
	self := stun.XORMappedAddress{IP: peerAddr.IP}
	res := c.roundTrip(append([]stun.Setter{stun.NewType(methodCreatePermission, stun.ClassRequest),
		xorPeer(other), xorPeer(self)}, c.auth()...)...)
	if res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("CreatePermission with two peers: %v (code %d)", res.Type, errorCode(res))
	}

	// Send indication, zero transaction ID, no integrity.
	payload := []byte("snp packet via relay")
	ind := sendIndication(peerAddr, payload)
	if !bytes.Equal(ind[8:20], make([]byte, 12)) {
		t.Fatal("test bug: transaction ID not zero")
	}
	conn.WriteTo(ind, s.Addr())
	buf := make([]byte, 1500)
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], payload) {
		t.Fatalf("peer got %q (%v)", buf[:n], err)
	}
	if from.(*net.UDPAddr).Port != relayed.Port {
		t.Fatalf("relayed from %v, allocation is %v", from, relayed)
	}

	// The peer answers; the client gets a Data indication.
	peer.WriteTo([]byte("answer"), from)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err = conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	data := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
	if err := data.Decode(); err != nil || data.Type != stun.NewType(methodData, stun.ClassIndication) {
		t.Fatalf("not a Data indication: %v %v", data.Type, err)
	}
	var fromPeer stun.XORMappedAddress
	got, _ := data.Get(attrData)
	if fromPeer.GetFromAs(data, attrXORPeerAddress) != nil || fromPeer.Port != peerAddr.Port || string(got) != "answer" {
		t.Fatalf("Data indication from %v with %q", fromPeer, got)
	}

	res = c.roundTrip(append([]stun.Setter{stun.NewType(methodRefresh, stun.ClassRequest)}, c.auth()...)...)
	if res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("Refresh: %v (code %d)", res.Type, errorCode(res))
	}
	if lt, err := res.Get(attrLifetime); err != nil || len(lt) != 4 {
		t.Fatal("no LIFETIME in the Refresh answer")
	}
}

func xorPeer(a stun.XORMappedAddress) stun.Setter {
	return setterFunc(func(m *stun.Message) error { return a.AddToAs(m, attrXORPeerAddress) })
}

type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }
