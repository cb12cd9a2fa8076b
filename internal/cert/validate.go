package cert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mistnet/mist/internal/identity"
	"github.com/mistnet/mist/internal/pb"
)

// End reasons (ESteamNetConnectionEnd) that peer validation produces.
const (
	ReasonBadCrypt           = 4002
	ReasonBadCert            = 4003
	ReasonBadProtocolVersion = 4006
)

// Error is a rejected peer: the GNS end reason and why.
type Error struct {
	Reason int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("cert: peer rejected (%d): %s", e.Reason, e.Msg) }

func reject(reason int, format string, args ...any) error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Policy is what the receiver brings to peer validation.
type Policy struct {
	// AllowWithoutAuth is the effective IP_AllowWithoutAuth: 0 requires a
	// valid CA signature, 1 and 2 accept unsigned certificates.
	AllowWithoutAuth int
	// AppID is the receiver's own AppID (0 for standalone GNS).
	AppID uint32
	// Trusted holds the CA keys; nil trusts none.
	Trusted *TrustStore
	// Now is checked against CA-issued certificates' expiry.
	Now time.Time
	// PeerIdentity, if valid, is the identity already established for the
	// peer; a non-localhost certificate identity must equal it.
	PeerIdentity identity.Identity
	// PeerVersion, if non-zero, is the protocol version learned earlier
	// (ChallengeReply); the crypt info must repeat it.
	PeerVersion uint32
}

// Peer is a peer that passed validation.
type Peer struct {
	Cert *Cert
	// CASigned: the CA signature was present and valid.
	CASigned bool
	// Crypt is the decoded crypt info and CryptRaw its signed bytes.
	Crypt    *pb.CryptInfo
	CryptRaw []byte
}

// ValidatePeer applies GNS's acceptance rules to a peer's certificate and
// crypt info, in GNS's order, returning an *Error with the end reason on
// failure.
func ValidatePeer(signedCert *pb.CertificateSigned, signedCrypt *pb.CryptInfoSigned, p *Policy) (*Peer, error) {
	if signedCert == nil || signedCert.Cert == nil || signedCrypt == nil || signedCrypt.Info == nil {
		return nil, reject(ReasonBadCrypt, "certificate or crypt info missing")
	}
	c, err := Parse(signedCert)
	if err != nil {
		// A malformed identity is a certificate failure; undecodable bytes
		// a crypt failure.
		if errors.Is(err, identity.ErrInvalid) {
			return nil, reject(ReasonBadCert, "%v", err)
		}
		return nil, reject(ReasonBadCrypt, "%v", err)
	}
	caSigned := false
	if c.HasCASignature() {
		if err := c.VerifyCA(p.Trusted, p.Now); err == nil {
			caSigned = true
		} else if p.AllowWithoutAuth < 1 {
			return nil, reject(ReasonBadCert, "Bad cert: %s", strings.TrimPrefix(err.Error(), "cert: "))
		}
	}
	if c.Identity.IsValid() && !c.Identity.IsLocalHost() {
		if p.PeerIdentity.IsValid() && p.PeerIdentity != c.Identity {
			return nil, reject(ReasonBadCert, "Cert was issued to %v, not %v", c.Identity, p.PeerIdentity)
		}
		if len(c.Msg.AppIds) == 0 {
			return nil, reject(ReasonBadCert, "certificate for %v lists no AppIDs", c.Identity)
		}
	}
	if !c.Identity.IsValid() && caSigned {
		steamID, ok := p.PeerIdentity.SteamID()
		if !ok || uint8(steamID>>52)&0xF != 4 || len(c.Msg.GameserverDatacenterIds) == 0 {
			return nil, reject(ReasonBadCert, "CA certificate without identity must be for an anonymous game server with data centers")
		}
	}
	if len(c.Msg.AppIds) > 0 && !slices.Contains(c.Msg.AppIds, p.AppID) {
		return nil, reject(ReasonBadCert, "certificate AppIDs %v do not include %d", c.Msg.AppIds, p.AppID)
	}
	if !caSigned && p.AllowWithoutAuth < 1 {
		return nil, reject(ReasonBadCert, "Unsigned certs are not allowed (IP_AllowWithoutAuth 0 requires a certificate signed by a trusted CA)")
	}
	if c.Msg.GetKeyType() != pb.Certificate_ED25519 || c.PublicKey == nil {
		return nil, reject(ReasonBadCrypt, "certificate key is not a 32-byte Ed25519 key")
	}
	info, err := VerifyCryptInfo(c, signedCrypt)
	if err != nil {
		return nil, reject(ReasonBadCrypt, "%v", err)
	}
	v := info.GetProtocolVersion()
	if v < MinProtocolVersion {
		return nil, reject(ReasonBadProtocolVersion, "peer protocol version %d is below %d", v, MinProtocolVersion)
	}
	if p.PeerVersion != 0 && v != p.PeerVersion {
		return nil, reject(ReasonBadProtocolVersion, "crypt info says protocol version %d, handshake said %d", v, p.PeerVersion)
	}
	return &Peer{Cert: c, CASigned: caSigned, Crypt: info, CryptRaw: signedCrypt.Info}, nil
}
