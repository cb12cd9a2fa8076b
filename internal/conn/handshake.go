package conn

import (
	"errors"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

func micros(t time.Time) uint64 { return uint64(t.UnixMicro()) }

func sinceMicros(now time.Time, ts uint64) time.Duration {
	return time.Duration(int64(micros(now))-int64(ts)) * time.Microsecond
}

// NewClient starts an outbound connection to cfg.Remote: it makes the
// certificate and crypt info used for the whole attempt and queues the
// first ChallengeRequest.
func NewClient(now time.Time, cfg *Config) (*Conn, error) {
	c, err := newConn(now, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.makeCrypt(cert.CipherList(cfg.Unencrypted)); err != nil {
		return nil, err
	}
	c.state, c.wireState = StateConnecting, StateConnecting
	c.sendChallengeRequest(now)
	return c, nil
}

func (c *Conn) sendChallengeRequest(now time.Time) {
	b, err := wire.AppendChallengeRequest(newBuf(), &pb.ChallengeRequest{
		ConnectionId:    proto.Uint32(c.localID),
		MyTimestamp:     proto.Uint64(micros(now)),
		ProtocolVersion: proto.Uint32(cert.ProtocolVersion),
	})
	if err == nil {
		c.queue(b)
	}
	c.retryAt = now.Add(ConnectRetryInterval)
}

// legacySteamID is the SteamID field sent next to the certificate: with a
// certificate that carries the identity (always, when self-signed) it is
// the only identity field that goes along.
func (c *Conn) legacySteamID() *uint64 {
	if id, ok := c.cfg.Identity.SteamID(); ok {
		return proto.Uint64(id)
	}
	return nil
}

func (c *Conn) certHasIdentity() bool { return c.local.Cert != nil && c.local.Cert.Identity.IsValid() }

func (c *Conn) onChallengeReply(now time.Time, m *pb.ChallengeReply) {
	if c.isServer || c.state != StateConnecting || m.GetConnectionId() != c.localID {
		c.Stats.Dropped++
		return
	}
	if m.GetProtocolVersion() < cert.MinProtocolVersion {
		// GNS's text, spelling included.
		c.problem(now, ReasonMiscGeneric, "Peer is running old software and needs to be udpated")
		return
	}
	if m.YourTimestamp != nil {
		c.pingSample(sinceMicros(now, m.GetYourTimestamp()))
	}
	c.challengeVer = m.GetProtocolVersion()
	req := &pb.ConnectRequest{
		ClientConnectionId:  proto.Uint32(c.localID),
		Challenge:           m.Challenge,
		MyTimestamp:         proto.Uint64(micros(now)),
		Cert:                c.local.Signed,
		Crypt:               c.cryptSigned,
		LegacyClientSteamId: c.legacySteamID(),
	}
	if c.havePing {
		req.PingEstMs = proto.Uint32(uint32(c.ping.Milliseconds()))
	}
	if !c.certHasIdentity() {
		s, legacy, _, err := c.cfg.Identity.Fields()
		if err == nil {
			req.IdentityString, req.LegacyIdentityBinary = proto.String(s), legacy
		}
	}
	b, err := wire.AppendConnectRequest(newBuf(), req)
	if err == nil {
		c.queue(b)
	}
	c.retryAt = now.Add(ConnectRetryInterval)
}

// peerIdentity applies the identity rules of the handshake to a peer's
// certificate and message fields. A localhost identity becomes the peer's
// address (refused when authentication is required); any other IP identity
// must come from the certificate.
func peerIdentity(signed *pb.CertificateSigned, str *string, legacy *pb.IdentityLegacyBinary, steamID *uint64, from netip.AddrPort, allowWithoutAuth int) (identity.Identity, error) {
	if signed == nil {
		return identity.Identity{}, errors.New("no certificate")
	}
	pc, err := cert.Parse(signed)
	if err != nil {
		return identity.Identity{}, err
	}
	id, fromCert := pc.Identity, true
	if !id.IsValid() {
		fromCert = false
		if id, err = identity.FromFields(str, legacy, steamID); err != nil {
			return identity.Identity{}, err
		}
		if !id.IsValid() {
			id = identity.LocalHost()
		}
	}
	if id.IsLocalHost() {
		if allowWithoutAuth == 0 {
			return identity.Identity{}, errors.New("anonymous peer while authentication is required")
		}
		return identity.FromIPAddr(identity.IPAddrFrom(from)), nil
	}
	if id.Type() == identity.TypeIPAddress && !fromCert {
		return identity.Identity{}, errors.New("IP identity outside the certificate")
	}
	return id, nil
}

// RequestIdentity is the identity a ConnectRequest from addr stands for,
// under the listen side's effective IP_AllowWithoutAuth. An error means the
// request must be dropped silently.
func RequestIdentity(req *pb.ConnectRequest, from netip.AddrPort, allowWithoutAuth int) (identity.Identity, error) {
	return peerIdentity(req.Cert, req.IdentityString, req.LegacyIdentityBinary, req.LegacyClientSteamId, from, allowWithoutAuth)
}

// NewServer makes the listen side of a connection from a ConnectRequest
// that passed the Listener and the caller's identity and duplicate checks.
// It validates the client's certificate and crypt info; an error means the
// request is dropped silently. The connection starts in Connecting, waiting
// for Accept.
func NewServer(now time.Time, cfg *Config, req *pb.ConnectRequest, remoteIdentity identity.Identity) (*Conn, error) {
	c, err := newConn(now, cfg)
	if err != nil {
		return nil, err
	}
	c.isServer = true
	c.remoteID = req.GetClientConnectionId()
	c.remoteIdentity = remoteIdentity
	peer, err := cert.ValidatePeer(req.Cert, req.Crypt, &cert.Policy{
		AllowWithoutAuth: cfg.AllowWithoutAuth,
		AppID:            cfg.AppID,
		Trusted:          cfg.Trusted,
		Now:              now,
		PeerIdentity:     peerIdentityForPolicy(remoteIdentity),
	})
	if err != nil {
		return nil, err
	}
	c.peer = peer
	c.authenticated = peer.CASigned
	c.peerVersion = peer.Crypt.GetProtocolVersion()
	if ms := req.GetPingEstMs(); req.PingEstMs != nil && ms <= 1500 {
		c.pingSample(time.Duration(ms) * time.Millisecond)
	}
	c.request = req
	c.requestTime = now
	c.state, c.wireState = StateConnecting, StateConnecting
	c.lastRecv = now
	return c, nil
}

// peerIdentityForPolicy: an identity replaced by the peer's address came
// from a localhost certificate, whose identity is not compared.
func peerIdentityForPolicy(id identity.Identity) identity.Identity {
	if id.Type() == identity.TypeIPAddress {
		return identity.Identity{}
	}
	return id
}

// ErrHandshakeFailed is returned by Accept when no cipher is acceptable to
// both sides or the keys cannot be derived; the connection has ended.
var ErrHandshakeFailed = errors.New("conn: crypto handshake failed")

// ErrNotPending is returned by Accept on a connection that is not an
// inbound one waiting for the application.
var ErrNotPending = errors.New("conn: not an inbound connection awaiting acceptance")

// Accept completes an inbound connection: choose the cipher, make the crypt
// info, derive the keys, send ConnectOK and become Connected.
func (c *Conn) Accept(now time.Time) error {
	if !c.isServer || c.state != StateConnecting {
		return ErrNotPending
	}
	suite, ok := cert.SelectCipher(cert.CipherList(c.cfg.Unencrypted), c.peer.Crypt)
	if !ok {
		c.problem(now, ReasonRemoteBadCrypt, "No common cipher")
		return ErrHandshakeFailed
	}
	if err := c.makeCrypt([]pb.Cipher{suite}); err != nil {
		c.problem(now, ReasonMiscInternalError, "Cannot make crypt info")
		return ErrHandshakeFailed
	}
	return c.finishAccept(now, suite)
}

// finishAccept derives the keys from the crypt info made for suite and
// sends ConnectOK. (Split from Accept so that tests can replay a captured
// server's key material.)
func (c *Conn) finishAccept(now time.Time, suite pb.Cipher) error {
	if err := c.deriveKeys(suite); err != nil {
		c.problem(now, ReasonRemoteBadCrypt, "Key exchange failed")
		return ErrHandshakeFailed
	}
	ok2 := &pb.ConnectOK{
		ClientConnectionId:  proto.Uint32(c.remoteID),
		ServerConnectionId:  proto.Uint32(c.localID),
		Cert:                c.local.Signed,
		Crypt:               c.cryptSigned,
		LegacyServerSteamId: c.legacySteamID(),
	}
	if c.request.MyTimestamp != nil {
		if delay := now.Sub(c.requestTime); delay < maxEchoDelay {
			ok2.YourTimestamp = c.request.MyTimestamp
			ok2.DelayTimeUsec = proto.Uint32(uint32(delay.Microseconds()))
		}
	}
	if !c.certHasIdentity() {
		s, legacy, _, err := c.cfg.Identity.Fields()
		if err == nil {
			ok2.IdentityString, ok2.LegacyIdentityBinary = proto.String(s), legacy
		}
	}
	b, err := wire.AppendConnectOK(newBuf(), ok2)
	if err != nil {
		c.problem(now, ReasonMiscInternalError, "Cannot encode ConnectOK")
		return ErrHandshakeFailed
	}
	// Kept for resending when the client retries: its copy may be lost.
	c.connectOK = append([]byte(nil), b...)
	c.queue(b)
	c.request = nil
	c.established(now)
	return nil
}

// deriveKeys runs the key derivation and makes the two ciphers.
func (c *Conn) deriveKeys(suite pb.Cipher) error {
	var myCert, peerCert []byte = c.local.Signed.GetCert(), c.peer.Cert.Raw
	myInfo, peerInfo := c.cryptSigned.GetInfo(), c.peer.CryptRaw
	h := &crypto.Handshake{IsServer: c.isServer, Local: c.keys, PeerPublic: c.peer.Crypt.GetKeyData()}
	if c.isServer {
		h.ClientNonce, h.ServerNonce = c.peer.Crypt.GetNonce(), c.nonce
		h.ClientConnID, h.ServerConnID = c.remoteID, c.localID
		h.ClientCert, h.ServerCert = peerCert, myCert
		h.ClientInfo, h.ServerInfo = peerInfo, myInfo
	} else {
		h.ClientNonce, h.ServerNonce = c.nonce, c.peer.Crypt.GetNonce()
		h.ClientConnID, h.ServerConnID = c.localID, c.remoteID
		h.ClientCert, h.ServerCert = myCert, peerCert
		h.ClientInfo, h.ServerInfo = myInfo, peerInfo
	}
	keys, err := crypto.DeriveKeys(h)
	if err != nil {
		return err
	}
	if c.sendCipher, err = crypto.NewCipher(suite, keys.SendKey, keys.SendIV); err != nil {
		return err
	}
	if c.recvCipher, err = crypto.NewCipher(suite, keys.RecvKey, keys.RecvIV); err != nil {
		return err
	}
	return nil
}

// established switches to Connected: packet numbers, receive window and the
// reliability session.
func (c *Conn) established(now time.Time) {
	c.window = crypto.NewRecvWindow(c.peerVersion)
	c.nextPktNum = 1
	if c.peerVersion >= 10 {
		c.nextPktNum = 2
	}
	c.session = c.cfg.NewSession(c.peerVersion, c.maxPlaintext(0))
	c.lastRecv = now
	c.lastAckRequest = now
	c.stats.start(now)
	c.quality.init(now)
	c.setState(now, StateConnected)
}

// maxPlaintext is the room for SNP payload in a packet whose header and
// stats take hdr bytes.
func (c *Conn) maxPlaintext(hdr int) int {
	overhead := crypto.TagSize
	if c.sendCipher != nil {
		overhead = c.sendCipher.Overhead()
	}
	n := min(c.cfg.MTU-wire.DataHeaderLen-hdr, maxEncryptedPayload) - overhead
	return max(n, 0)
}

func (c *Conn) onConnectOK(now time.Time, m *pb.ConnectOK) {
	if c.isServer || m.GetClientConnectionId() != c.localID {
		c.Stats.Dropped++
		return
	}
	switch c.state {
	case StateConnected, StateLinger:
		return
	case StateClosedByPeer, StateFinWait, StateProblemDetectedLocally:
		c.replyClosed()
		return
	case StateConnecting:
	default:
		return
	}
	id, err := peerIdentity(m.Cert, m.IdentityString, m.LegacyIdentityBinary, m.LegacyServerSteamId, c.cfg.Remote, c.cfg.AllowWithoutAuth)
	if err != nil {
		c.Stats.Dropped++
		return
	}
	if c.remoteIdentity.IsValid() && c.remoteIdentity != id {
		c.Stats.Dropped++
		return
	}
	if m.YourTimestamp != nil {
		c.pingSample(sinceMicros(now, m.GetYourTimestamp()) - time.Duration(m.GetDelayTimeUsec())*time.Microsecond)
	}
	c.remoteID = m.GetServerConnectionId()
	if c.remoteID&0xffff == 0 {
		c.problem(now, ReasonRemoteBadCrypt, "Server connection ID is invalid")
		return
	}
	peer, err := cert.ValidatePeer(m.Cert, m.Crypt, &cert.Policy{
		AllowWithoutAuth: c.cfg.AllowWithoutAuth,
		AppID:            c.cfg.AppID,
		Trusted:          c.cfg.Trusted,
		Now:              now,
		PeerIdentity:     peerIdentityForPolicy(id),
		PeerVersion:      c.challengeVer,
	})
	if err != nil {
		reason, debug := ReasonRemoteBadCrypt, err.Error()
		var ce *cert.Error
		if errors.As(err, &ce) {
			reason, debug = ce.Reason, ce.Msg
		}
		c.problem(now, reason, debug)
		return
	}
	ciphers := cert.Ciphers(peer.Crypt)
	if len(m.Crypt.GetInfo()) == 0 || len(ciphers) != 1 || !containsCipher(cert.CipherList(c.cfg.Unencrypted), ciphers[0]) {
		c.problem(now, ReasonRemoteBadCrypt, "Server chose an unacceptable cipher")
		return
	}
	c.peer = peer
	c.authenticated = peer.CASigned
	c.peerVersion = peer.Crypt.GetProtocolVersion()
	c.remoteIdentity = id
	if err := c.deriveKeys(ciphers[0]); err != nil {
		c.problem(now, ReasonRemoteBadCrypt, "Key exchange failed")
		return
	}
	c.established(now)
}

func containsCipher(list []pb.Cipher, x pb.Cipher) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// onHandshakeRetry handles a ChallengeRequest or ConnectRequest from the
// client of an existing server connection.
func (c *Conn) onHandshakeRetry(clientID uint32) {
	if !c.isServer || clientID != c.remoteID {
		c.Stats.Dropped++
		return
	}
	switch c.state {
	case StateConnecting:
		// The application is still deciding.
	case StateConnected, StateLinger:
		if c.connectOK != nil {
			c.reply(append(newBuf(), c.connectOK...))
		}
	case StateClosedByPeer, StateFinWait, StateProblemDetectedLocally:
		c.replyClosed()
	}
}
