package rendezvous

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// LocalCrypto is one connection's handshake material: a certificate made
// for this connection (GNS makes a fresh unsigned one per P2P connection
// when it has no CA-issued certificate), the ephemeral X25519 key pair and
// the signed crypt info that carry in the connect request or connect OK.
type LocalCrypto struct {
	Cert   *cert.Local
	Key    *crypto.KeyPair
	Info   *pb.CryptInfo
	Signed *pb.CryptInfoSigned
}

// NewLocalCrypto makes the handshake material for id with a self-signed
// certificate for appID. An initiator passes its cipher preference list
// (cert.CipherList); an acceptor passes exactly the chosen cipher. rand
// supplies every key and the nonce.
func NewLocalCrypto(id identity.Identity, appID uint32, ciphers []pb.Cipher, rand io.Reader) (*LocalCrypto, error) {
	_, signKey, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	c, err := cert.NewSelfSigned(signKey, id, appID)
	if err != nil {
		return nil, err
	}
	return newLocalCrypto(c, ciphers, rand)
}

// NewLocalCryptoWithCert is NewLocalCrypto with an existing certificate,
// such as one a CA issued.
func NewLocalCryptoWithCert(c *cert.Local, ciphers []pb.Cipher, rand io.Reader) (*LocalCrypto, error) {
	return newLocalCrypto(c, ciphers, rand)
}

func newLocalCrypto(c *cert.Local, ciphers []pb.Cipher, rand io.Reader) (*LocalCrypto, error) {
	kp, err := crypto.GenerateKeyPair(rand)
	if err != nil {
		return nil, err
	}
	var nonce [8]byte
	if _, err := io.ReadFull(rand, nonce[:]); err != nil {
		return nil, err
	}
	info := cert.NewCryptInfo(kp.Public(), binary.LittleEndian.Uint64(nonce[:]), ciphers)
	signed, err := cert.SignCryptInfo(c.Key, info)
	if err != nil {
		return nil, err
	}
	return &LocalCrypto{Cert: c, Key: kp, Info: info, Signed: signed}, nil
}

// AcceptCipher is the acceptor's choice among the initiator's ciphers;
// ok is false when they share none (end reason 4002).
func AcceptCipher(own []pb.Cipher, peer *cert.Peer) (pb.Cipher, bool) {
	return cert.SelectCipher(own, peer.Crypt)
}

// CheckAcceptorCipher is the initiator's check of the connect OK: the
// acceptor must name exactly one cipher, one the initiator offered.
func CheckAcceptorCipher(own []pb.Cipher, peer *cert.Peer) (pb.Cipher, error) {
	if len(peer.Crypt.Ciphers) != 1 || !slices.Contains(own, peer.Crypt.Ciphers[0]) {
		return pb.Cipher_CIPHER_INVALID, &cert.Error{Reason: cert.ReasonBadCrypt,
			Msg: fmt.Sprintf("acceptor chose ciphers %v from %v", peer.Crypt.Ciphers, own)}
	}
	return peer.Crypt.Ciphers[0], nil
}

// DeriveKeys runs the key derivation once both connection ids are known
// (the initiator learns the acceptor's id from the connect OK signal).
// The derivation is the direct-UDP one: P2P only carries the same
// messages in signals instead of handshake packets.
func DeriveKeys(role Role, local *LocalCrypto, peer *cert.Peer, localConnID, remoteConnID uint32) (crypto.SessionKeys, error) {
	h := &crypto.Handshake{
		IsServer:   role == Acceptor,
		Local:      local.Key,
		PeerPublic: peer.Crypt.KeyData,
	}
	own := local.Cert.Signed.Cert
	if role == Acceptor {
		h.ServerNonce, h.ClientNonce = local.Info.GetNonce(), peer.Crypt.GetNonce()
		h.ServerConnID, h.ClientConnID = localConnID, remoteConnID
		h.ServerCert, h.ClientCert = own, peer.Cert.Raw
		h.ServerInfo, h.ClientInfo = local.Signed.Info, peer.CryptRaw
	} else {
		h.ClientNonce, h.ServerNonce = local.Info.GetNonce(), peer.Crypt.GetNonce()
		h.ClientConnID, h.ServerConnID = localConnID, remoteConnID
		h.ClientCert, h.ServerCert = own, peer.Cert.Raw
		h.ClientInfo, h.ServerInfo = local.Signed.Info, peer.CryptRaw
	}
	return crypto.DeriveKeys(h)
}

// Established is a finished crypto handshake: what the data path needs.
type Established struct {
	Keys   crypto.SessionKeys
	Cipher pb.Cipher
	Peer   *cert.Peer
	// PeerProtocolVersion sets up the receive window (crypto.NewRecvWindow).
	PeerProtocolVersion uint32
}

// peerError turns a validation failure into a *cert.Error (with its end
// reason) for Session.Close.
func peerError(err error) error {
	var ce *cert.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &cert.Error{Reason: cert.ReasonBadCrypt, Msg: err.Error()}
}

// ValidateRequest checks a connect request's certificate and crypt info
// against policy (policy.PeerIdentity is set to the requester). A failure
// is a *cert.Error whose Reason belongs in a Refusal.
func ValidateRequest(req *Request, policy cert.Policy) (*cert.Peer, error) {
	policy.PeerIdentity = req.Identity
	peer, err := cert.ValidatePeer(req.Cert, req.Crypt, &policy)
	if err != nil {
		return nil, peerError(err)
	}
	return peer, nil
}

// AcceptSession is the application's accept of an inbound session whose
// request passed ValidateRequest: it picks the cipher from own, makes this
// side's certificate and single-cipher crypt info for localID/appID,
// accepts (queueing the connect OK) and derives the keys. A failure is a
// *cert.Error; close the session with its Reason.
func AcceptSession(now time.Time, s *Session, peer *cert.Peer, appID uint32, own []pb.Cipher, rand io.Reader) (*LocalCrypto, *Established, error) {
	chosen, ok := AcceptCipher(own, peer)
	if !ok {
		return nil, nil, &cert.Error{Reason: cert.ReasonBadCrypt,
			Msg: fmt.Sprintf("no common cipher: ours %v, theirs %v", own, cert.Ciphers(peer.Crypt))}
	}
	var lc *LocalCrypto
	var err error
	if s.cfg.LocalCert != nil {
		lc, err = NewLocalCryptoWithCert(s.cfg.LocalCert, []pb.Cipher{chosen}, rand)
	} else {
		lc, err = NewLocalCrypto(s.cfg.LocalIdentity, appID, []pb.Cipher{chosen}, rand)
	}
	if err != nil {
		return nil, nil, err
	}
	keys, err := DeriveKeys(Acceptor, lc, peer, s.LocalConnID(), s.RemoteConnID())
	if err != nil {
		return nil, nil, peerError(err)
	}
	if err := s.Accept(now, lc.Cert.Signed, lc.Signed); err != nil {
		return nil, nil, err
	}
	return lc, &Established{Keys: keys, Cipher: chosen, Peer: peer, PeerProtocolVersion: peer.Crypt.GetProtocolVersion()}, nil
}

// FinishInitiator completes the initiator's handshake once Receive
// reported the connect OK: it validates the acceptor's certificate and
// crypt info against policy, checks the chosen cipher against own and
// derives the keys. A failure is a *cert.Error; close the session with
// its Reason.
func FinishInitiator(s *Session, local *LocalCrypto, own []pb.Cipher, policy cert.Policy) (*Established, error) {
	c, cr := s.PeerCrypto()
	policy.PeerIdentity = s.RemoteIdentity()
	peer, err := cert.ValidatePeer(c, cr, &policy)
	if err != nil {
		return nil, peerError(err)
	}
	chosen, err := CheckAcceptorCipher(own, peer)
	if err != nil {
		return nil, err
	}
	keys, err := DeriveKeys(Initiator, local, peer, s.LocalConnID(), s.RemoteConnID())
	if err != nil {
		return nil, peerError(err)
	}
	return &Established{Keys: keys, Cipher: chosen, Peer: peer, PeerProtocolVersion: peer.Crypt.GetProtocolVersion()}, nil
}
