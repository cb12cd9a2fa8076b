package signaling

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mistnet/mist/ca"
)

// Authenticator requires every registration to prove its identity with a
// certificate signed by a trusted CA.
//
// The proof is a mist extension of the protocol. Extension lines start
// with '!', which no rendered GNS identity does:
//
//	client: !mist-auth1 IDENTITY
//	server: !mist-challenge NONCE                (32 random bytes, base64)
//	client: !mist-proof CERTIFICATE SIGNATURE    (both base64)
//	server: !mist-ok IDENTITY [TURN_USER TURN_PASS]
//	    or: !mist-refused REASON                 (then the server closes)
//
// CERTIFICATE is a serialized CMsgSteamDatagramCertificateSigned for
// IDENTITY, and SIGNATURE the Ed25519 signature, by the certificate's key,
// of ProofMessage(IDENTITY, NONCE). After "!mist-ok" the connection speaks
// the plain protocol. A refused registration changes nothing: the
// identity's current holder stays registered. Between proven holders the
// last login wins, as in the plain protocol.
//
// A server without an Authenticator answers "!mist-auth1 IDENTITY" at once
// with "!mist-ok IDENTITY", so the same client works with both.
type Authenticator struct {
	// Trust holds the CA keys certificates must be signed by.
	Trust *ca.Trust
	// TURNCredentials, if set, hands each proven peer credentials for the
	// relay in its "!mist-ok" line.
	TURNCredentials func(identity string, now time.Time) (user, pass string)
}

// Extension line keywords.
const (
	extAuth      = "!mist-auth1"
	extChallenge = "!mist-challenge"
	extProof     = "!mist-proof"
	extOK        = "!mist-ok"
	extRefused   = "!mist-refused"
)

// refusedUnauthenticated is written to a client that registers the plain
// way on a server that requires proof. It holds no space, so GNS's trivial
// client ignores it rather than mistaking it for a signal. The connection
// then stays open, unregistered, its lines dropped.
const refusedUnauthenticated = "!mist-refused:this-server-accepts-only-identities-proven-with-a-certificate-from-its-CA(mist-extension-!mist-auth1)\n"

const nonceSize = 32

var b64 = base64.RawStdEncoding

func isExtension(line []byte) bool { return len(line) > 0 && line[0] == '!' }

// ProofMessage is what a client signs to prove it holds the certificate
// key for identity, given the server's nonce.
func ProofMessage(identity string, nonce []byte) []byte {
	m := make([]byte, 0, 40+len(identity)+len(nonce))
	m = append(m, "mist signaling registration v1\x00"...)
	m = append(m, identity...)
	m = append(m, 0)
	return append(m, nonce...)
}

// authenticate runs the server side of the extension after its first
// line, returning the identity to register or "" and why not.
func (c *conn) authenticate(r *lineReader, first []byte, deadline time.Time) (identity, reason string) {
	s := c.s
	fields := strings.Fields(string(first))
	if len(fields) != 2 || fields[0] != extAuth {
		return c.refuse("unknown extension greeting; expected '" + extAuth + " IDENTITY'")
	}
	claimed := fields[1]
	auth := s.cfg.Authenticator
	if auth == nil {
		c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if _, err := c.nc.Write([]byte(extOK + " " + claimed + "\n")); err != nil {
			return "", "write failed: " + err.Error()
		}
		return claimed, ""
	}
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := c.nc.Write([]byte(extChallenge + " " + b64.EncodeToString(nonce) + "\n")); err != nil {
		return "", "write failed: " + err.Error()
	}
	line, err := r.next(deadline, s.cfg.GreetingTimeout, time.Now)
	if err != nil {
		return "", c.readError(err)
	}
	proven, err := VerifyProof(auth.Trust, claimed, nonce, line, time.Now())
	if err != nil {
		return c.refuse(err.Error())
	}
	ok := extOK + " " + proven
	if auth.TURNCredentials != nil {
		user, pass := auth.TURNCredentials(proven, time.Now())
		ok += " " + user + " " + pass
	}
	c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := c.nc.Write([]byte(ok + "\n")); err != nil {
		return "", "write failed: " + err.Error()
	}
	s.log.Info("identity proven", "identity", proven, "remote", c.remote)
	return proven, ""
}

func (c *conn) refuse(why string) (string, string) {
	c.s.count.authRefused.Add(1)
	c.s.log.Warn("registration refused", "remote", c.remote, "reason", why)
	c.closeAfterWrite([]byte(extRefused + " " + strings.ReplaceAll(why, "\n", " ") + "\n"))
	return "", "refused: " + why
}

// VerifyProof checks a "!mist-proof" line answering nonce for the claimed
// identity and returns the identity in canonical form. now is compared
// with the certificate's expiry.
func VerifyProof(trust *ca.Trust, claimed string, nonce, line []byte, now time.Time) (string, error) {
	fields := strings.Fields(string(line))
	if len(fields) != 3 || fields[0] != extProof {
		return "", errors.New("expected '" + extProof + " CERTIFICATE SIGNATURE'")
	}
	certBlob, err := b64.DecodeString(fields[1])
	if err != nil {
		return "", errors.New("certificate is not base64")
	}
	sig, err := b64.DecodeString(fields[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", errors.New("signature is not a base64 Ed25519 signature")
	}
	c, err := trust.Verify(certBlob, claimed, now)
	if err != nil {
		return "", err
	}
	if !ed25519.Verify(c.PublicKey, ProofMessage(claimed, nonce), sig) {
		return "", errors.New("proof signature does not verify with the certificate's key")
	}
	return c.Identity, nil
}

// Registration is what a server said when a client registered with the
// extension.
type Registration struct {
	Identity string
	// TURNUser and TURNPass are relay credentials, if the server handed out any.
	TURNUser, TURNPass string
}

// RefusedError is a registration the server refused, with its reason.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "signaling: registration refused: " + e.Reason }

// Register is the client side of the extension: it registers identity on
// a fresh connection, proving it with cred when the server asks (cred may
// be nil for an open server). r must read from the same connection as w;
// it may hold lines that follow the server's answer.
func Register(w io.Writer, r *bufio.Reader, identity string, cred *ca.Credential) (*Registration, error) {
	if identity == "" || strings.ContainsAny(identity, " \t\r\n") {
		return nil, fmt.Errorf("signaling: identity %q is empty or holds whitespace", identity)
	}
	if _, err := io.WriteString(w, extAuth+" "+identity+"\n"); err != nil {
		return nil, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("signaling: registering: %w", err)
		}
		keyword, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch keyword {
		case extChallenge:
			nonce, err := b64.DecodeString(rest)
			if err != nil || len(nonce) != nonceSize {
				return nil, errors.New("signaling: malformed challenge from the server")
			}
			if cred == nil {
				return nil, errors.New("signaling: the server requires a certificate and none was given")
			}
			sig := ed25519.Sign(cred.PrivateKey, ProofMessage(identity, nonce))
			proof := extProof + " " + b64.EncodeToString(cred.Certificate) + " " + b64.EncodeToString(sig) + "\n"
			if _, err := io.WriteString(w, proof); err != nil {
				return nil, err
			}
		case extOK:
			f := strings.Fields(rest)
			if len(f) != 1 && len(f) != 3 {
				return nil, errors.New("signaling: malformed registration answer from the server")
			}
			reg := &Registration{Identity: f[0]}
			if len(f) == 3 {
				reg.TURNUser, reg.TURNPass = f[1], f[2]
			}
			return reg, nil
		case extRefused:
			return nil, &RefusedError{Reason: rest}
		default:
			if bytes.HasPrefix([]byte(keyword), []byte(extRefused)) {
				return nil, &RefusedError{Reason: strings.TrimPrefix(keyword, extRefused)}
			}
			return nil, fmt.Errorf("signaling: unexpected line while registering: %.80q", line)
		}
	}
}
