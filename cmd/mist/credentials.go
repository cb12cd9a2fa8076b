package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/ca"
)

// credentialFlags are the --cert and --trust flags of the commands that
// make peers, and what they load.
type credentialFlags struct {
	certFile, trustFile string
	cred                *ca.Credential
	trust               *ca.Trust
}

func (c *credentialFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.certFile, "cert", "",
		"present the certificate and key in `FILE` (written by 'mist ca issue'); the identity becomes the certificate's")
	fs.StringVar(&c.trustFile, "trust", "",
		"accept only peers whose certificate the CA in `FILE` (a ca.pub from 'mist ca init') signed, including on loopback")
}

// load reads the files the flags name, returning what is wrong or "".
func (c *credentialFlags) load() string {
	if c.certFile != "" {
		cred, err := ca.ReadCredential(c.certFile)
		if err != nil {
			return fmt.Sprintf("--cert %s: %s (make one with 'mist ca issue')", c.certFile, fileError(c.certFile, err))
		}
		c.cred = cred
	}
	if c.trustFile != "" {
		trust, err := ca.LoadTrust(c.trustFile)
		if err != nil {
			return fmt.Sprintf("--trust %s: %s (give the ca.pub that 'mist ca init' wrote)", c.trustFile, fileError(c.trustFile, err))
		}
		c.trust = trust
	}
	return ""
}

// fileError is what is wrong with the file name, without repeating its
// name or the package's prefix.
func fileError(name string, err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "ca: "), name+": ")
	return strings.TrimPrefix(msg, "ca: ")
}

// config is the interface configuration the flags ask for.
func (c *credentialFlags) config() mist.Config {
	var cfg mist.Config
	if c.cred != nil {
		cfg.Certificate, cfg.CertificateKey = c.cred.Certificate, c.cred.PrivateKey
	}
	if c.trust != nil {
		cfg.TrustedCAs = c.trust.Keys()
		cfg.RequireAuthentication = true
	}
	return cfg
}

// describe logs what the instance presents and whom it accepts, and warns
// on stderr, after prefix (such as "mist chat client"), about a
// certificate peers will refuse.
func (c *credentialFlags) describe(log *chatLog, stderr io.Writer, prefix string, now time.Time) {
	if c.cred != nil {
		log.printf("Presenting the certificate of %s from %s", c.cred.Identity, c.certFile)
		if !c.cred.Expires.IsZero() && now.After(c.cred.Expires) {
			fmt.Fprintf(stderr, "%s: warning: the certificate in %s expired at %s; peers that require one will refuse it\n",
				prefix, c.certFile, c.cred.Expires.UTC().Format(time.RFC3339))
		}
	}
	if c.trust != nil {
		log.printf("Accepting only peers with a certificate from the CA in %s", c.trustFile)
		if c.cred == nil {
			fmt.Fprintf(stderr, "%s: warning: --trust without --cert: peers that also use --trust will refuse this one\n", prefix)
		}
	}
}

// connectHint says what to check after a connection attempt failed with
// reason.
func (c *credentialFlags) connectHint(reason mist.EndReason) string {
	switch {
	case reason == mist.EndRemoteBadCert || reason == mist.EndRemoteBadCrypt:
		return "  The server's certificate was refused: --trust must name the CA that issued the server's --cert."
	case reason == mist.EndMiscTimeout && c.cred == nil:
		return "  Is a chat server running there? Check the address, the port and any firewall.\n" +
			"  A server started with --trust ignores clients without a certificate from its CA: give one with --cert."
	case reason == mist.EndMiscTimeout:
		return "  Is a chat server running there? Check the address, the port and any firewall.\n" +
			"  A server started with --trust also ignores a --cert that another CA issued or that has expired."
	}
	return "  Is a chat server running there? Check the address, the port and any firewall."
}
