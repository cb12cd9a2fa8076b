package conn

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// State is a connection state, with GNS's numbers.
type State int32

// Connection states. FinWait, Linger and Dead are internal.
const (
	StateNone                   State = 0
	StateConnecting             State = 1
	StateConnected              State = 3
	StateClosedByPeer           State = 4
	StateProblemDetectedLocally State = 5
	StateFinWait                State = -1
	StateLinger                 State = -2
	StateDead                   State = -3
)

// End reasons this package produces (ESteamNetConnectionEnd).
const (
	ReasonAppGeneric               = 1000
	ReasonRemoteBadCrypt           = 4002
	ReasonRemoteBadCert            = 4003
	ReasonRemoteBadProtocolVersion = 4006
	ReasonMiscGeneric              = 5001
	ReasonMiscInternalError        = 5002
	ReasonMiscTimeout              = 5003
	ReasonMiscPeerSentNoConnection = 5010
)

// Protocol timing, from GNS.
const (
	ConnectRetryInterval = 500 * time.Millisecond
	FinWaitTime          = 5 * time.Second
	KeepAliveInterval    = 10 * time.Second
	UrgentPingInterval   = 200 * time.Millisecond
	tracerPingInterval   = 7 * time.Second
	maxReplyWait         = 1250 * time.Millisecond
	delayedReplySlack    = 200 * time.Millisecond
	minTimeoutsToDrop    = 4
	maxPingSample        = 2 * time.Second
	maxEchoDelay         = 4 * time.Second
)

// Sizes of the UDP path.
const (
	MaxUDPPayload       = 1300
	maxEncryptedPayload = 1248
)

// Config is what a connection needs from its owner.
type Config struct {
	// LocalID is this side's connection id: both 16-bit halves non-zero.
	LocalID uint32
	// Identity is the local identity written into the certificate.
	Identity identity.Identity
	// Cert is the local certificate; nil makes a self-signed one.
	Cert *cert.Local
	// AppID is the local AppID (0 for standalone).
	AppID uint32
	// Trusted holds CA keys for peer certificates; nil trusts none.
	Trusted *cert.TrustStore
	// AllowWithoutAuth is the effective IP_AllowWithoutAuth for this peer
	// (already raised by IPLocalHost_AllowWithoutAuth for loopback peers).
	AllowWithoutAuth int
	// Unencrypted is the Unencrypted setting, 0..3.
	Unencrypted int
	// TimeoutInitial and TimeoutConnected are the two timeouts.
	TimeoutInitial, TimeoutConnected time.Duration
	// MTU is MTU_PacketSize (at most 1300).
	MTU int
	// Remote is the peer's address.
	Remote netip.AddrPort
	// Rand is the randomness source; nil is crypto/rand.
	Rand io.Reader
	// NewSession makes the reliability layer when the connection is
	// established; maxPlaintext is the largest payload per packet.
	NewSession func(peerVersion uint32, maxPlaintext int) Session
	// AllowSpamReply is the process-wide limiter for replies to datagrams
	// that may be spoofed; nil never allows them.
	AllowSpamReply func(now time.Time) bool
	// SendTimeSincePrevious writes the time since the previous data packet
	// into each one (SendTimeSincePreviousPacket > 0), which lets the peer
	// measure jitter. Peers older than protocol 12 never get it.
	SendTimeSincePrevious bool
}

// Stats counts what a connection did with datagrams.
type Stats struct {
	PacketsSent, BytesSent uint64
	PacketsRecv, BytesRecv uint64
	// Dropped counts datagrams that were malformed, forged, replayed or
	// not acceptable in the current state.
	Dropped     uint64
	Duplicates  uint64
	DecryptFail uint64
	// RepliesSuppressed counts replies not sent because they would have
	// been larger than the unauthenticated datagram that caused them.
	RepliesSuppressed uint64
}

// Conn is one connection's protocol state.
type Conn struct {
	cfg      Config
	isServer bool

	state     State
	wireState State // the state the peer should assume
	entered   time.Time
	endReason int
	endDebug  string

	localID, remoteID uint32
	remoteIdentity    identity.Identity
	authenticated     bool

	local       *cert.Local
	keys        *crypto.KeyPair
	nonce       uint64
	cryptSigned *pb.CryptInfoSigned
	peer        *cert.Peer
	peerVersion uint32

	// Client handshake.
	created      time.Time
	retryAt      time.Time
	challengeVer uint32

	// Server handshake.
	request     *pb.ConnectRequest
	requestTime time.Time
	connectOK   []byte

	// Data path.
	sendCipher, recvCipher *crypto.Cipher
	window                 *crypto.RecvWindow
	nextPktNum             uint64
	session                Session

	// Liveness.
	lastRecv       time.Time
	replyTimeoutAt time.Time
	timeoutCount   int
	timeoutStart   time.Time
	lastUrgentPing time.Time
	keepaliveDue   uint32 // stats flags the next packet must carry
	lastAckRequest time.Time
	stats          statsState
	quality        quality
	lastDataSent   time.Time
	ping           time.Duration
	havePing       bool
	// dataRecv counts accepted data packets.
	dataRecv uint64

	finWaitUntil time.Time

	out         [][]byte
	replyBudget int // > 0: replies must not be larger (unauthenticated trigger)
	Stats       Stats
}

var errNoSession = errors.New("conn: no session factory")

func (c *Conn) rand() io.Reader {
	if c.cfg.Rand != nil {
		return c.cfg.Rand
	}
	return rand.Reader
}

// newConn is what clients and servers share: settings and the certificate.
func newConn(now time.Time, cfg *Config) (*Conn, error) {
	c := &Conn{cfg: *cfg, localID: cfg.LocalID, entered: now, created: now}
	if c.cfg.MTU <= 0 || c.cfg.MTU > MaxUDPPayload {
		c.cfg.MTU = MaxUDPPayload
	}
	if c.cfg.NewSession == nil {
		return nil, errNoSession
	}
	c.local = cfg.Cert
	if c.local == nil {
		var err error
		if c.local, err = cert.NewSelfSigned(nil, cfg.Identity, cfg.AppID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// makeCrypt builds and signs this side's crypt info with the given ciphers.
func (c *Conn) makeCrypt(ciphers []pb.Cipher) error {
	kp, err := crypto.GenerateKeyPair(c.rand())
	if err != nil {
		return err
	}
	var b [8]byte
	if _, err := io.ReadFull(c.rand(), b[:]); err != nil {
		return err
	}
	c.keys = kp
	c.nonce = binary.LittleEndian.Uint64(b[:])
	c.cryptSigned, err = cert.SignCryptInfo(c.local.Key, cert.NewCryptInfo(kp.Public(), c.nonce, ciphers))
	return err
}

// State returns the current state.
func (c *Conn) State() State { return c.state }

// EndReason is why the connection ended (an ESteamNetConnectionEnd).
func (c *Conn) EndReason() int { return c.endReason }

// EndDebug is the end explanation, in English.
func (c *Conn) EndDebug() string { return c.endDebug }

// LocalID returns this side's connection id.
func (c *Conn) LocalID() uint32 { return c.localID }

// RemoteID returns the peer's connection id (0 while unknown).
func (c *Conn) RemoteID() uint32 { return c.remoteID }

// RemoteIdentity returns the peer's identity (invalid while unknown).
func (c *Conn) RemoteIdentity() identity.Identity { return c.remoteIdentity }

// Authenticated reports whether the peer's certificate was CA-signed.
func (c *Conn) Authenticated() bool { return c.authenticated }

// Encrypted reports whether data is encrypted (AES-GCM was negotiated).
func (c *Conn) Encrypted() bool {
	return c.sendCipher != nil && c.sendCipher.Suite() == pb.Cipher_CIPHER_AES_256_GCM
}

// Ping returns the smoothed round-trip estimate.
func (c *Conn) Ping() (time.Duration, bool) { return c.ping, c.havePing }

// PeerVersion is the peer's protocol version (0 while unknown).
func (c *Conn) PeerVersion() uint32 { return c.peerVersion }

// Fail ends the connection locally with reason, telling the peer.
func (c *Conn) Fail(now time.Time, reason int, debug string) { c.problem(now, reason, debug) }

// Session returns the reliability layer, nil before the connection is
// established.
func (c *Conn) Session() Session { return c.session }

// IsServer reports whether the connection was accepted on a listen socket.
func (c *Conn) IsServer() bool { return c.isServer }

func (c *Conn) pingSample(rtt time.Duration) {
	if rtt < 0 || rtt > maxPingSample {
		return
	}
	if !c.havePing {
		c.ping, c.havePing = rtt, true
		return
	}
	c.ping += (rtt - c.ping) / 4
}

// setState moves to st; wireState follows GNS's rules.
func (c *Conn) setState(now time.Time, st State) {
	if c.state == st {
		return
	}
	prev := c.state
	c.state = st
	c.entered = now
	switch st {
	case StateLinger:
		c.wireState = StateConnected
	case StateFinWait:
		if prev != StateClosedByPeer && prev != StateProblemDetectedLocally {
			c.wireState = StateFinWait
		}
		c.finWaitUntil = now.Add(FinWaitTime)
	default:
		c.wireState = st
	}
}

// problem ends the connection locally and tells the peer.
func (c *Conn) problem(now time.Time, reason int, debug string) {
	if c.state != StateConnecting && c.state != StateConnected && c.state != StateLinger {
		return
	}
	linger := c.state == StateLinger
	c.endReason, c.endDebug = reason, debug
	if linger {
		// The application already closed: go straight to FinWait.
		c.setState(now, StateFinWait)
	} else {
		c.setState(now, StateProblemDetectedLocally)
	}
	c.sendConnectionClosed()
}

// closedByPeer records the peer's close.
func (c *Conn) closedByPeer(now time.Time, reason int, debug string) {
	switch c.state {
	case StateConnecting, StateConnected:
		if debug == "" {
			debug = "The remote host closed the connection."
		}
		c.endReason, c.endDebug = reason, debug
		c.setState(now, StateClosedByPeer)
	case StateLinger:
		c.setState(now, StateFinWait)
		c.wireState = StateClosedByPeer
	}
}

// Close is the application's close. reason and debug are already
// normalised by the caller. With linger, a Connected connection keeps
// delivering queued reliable data before closing.
func (c *Conn) Close(now time.Time, reason int, debug string, linger bool) {
	switch c.state {
	case StateConnecting, StateConnected:
		c.endReason, c.endDebug = reason, debug
		if linger && c.state == StateConnected && c.session != nil && !c.session.ReliableDone() {
			c.setState(now, StateLinger)
			return
		}
		c.setState(now, StateFinWait)
		c.sendConnectionClosed()
	case StateClosedByPeer:
		c.setState(now, StateFinWait)
		c.sendNoConnection(c.localID, c.remoteID)
	case StateProblemDetectedLocally:
		c.setState(now, StateFinWait)
		c.sendConnectionClosed()
	case StateLinger:
		// Closing again while lingering: stop lingering.
		c.setState(now, StateFinWait)
		c.sendConnectionClosed()
	}
}

// Destroy drops the connection at once without telling the peer.
func (c *Conn) Destroy() {
	c.state, c.wireState = StateDead, StateDead
	c.Discard()
}

// Dead reports that the connection can be forgotten (FinWait is over).
func (c *Conn) Dead() bool { return c.state == StateDead }

// queue takes ownership of a datagram to send.
func (c *Conn) queue(b []byte) {
	if len(b) == 0 {
		return
	}
	c.out = append(c.out, b)
}

// Drain hands every queued datagram to send, then recycles it: send must
// not keep the slice.
func (c *Conn) Drain(send func([]byte)) {
	for i, b := range c.out {
		c.Stats.PacketsSent++
		c.Stats.BytesSent += uint64(len(b))
		send(b)
		bufpool.Put(b)
		c.out[i] = nil
	}
	c.out = c.out[:0]
}

// Discard drops queued datagrams without sending them.
func (c *Conn) Discard() {
	for i, b := range c.out {
		bufpool.Put(b)
		c.out[i] = nil
	}
	c.out = c.out[:0]
}

// Pending reports whether datagrams wait in the queue.
func (c *Conn) Pending() bool { return len(c.out) > 0 }

func newBuf() []byte { return bufpool.Get(MaxUDPPayload + 64)[:0] }
