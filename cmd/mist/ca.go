package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mistnet/mist/ca"
)

func init() {
	register("ca", command{
		summary: "certificate authority: make a CA key, issue peer certificates",
		run:     runCA,
	})
}

const caUsage = `Usage:
  mist ca init --out DIR
  mist ca issue --ca DIR --identity ID [--valid 720h] [--app 0] --out FILE

A certificate authority for peers that run without Steam. 'init' writes
DIR/ca.key (the CA's private key, mode 0600) and DIR/ca.pub (its public key,
the file peers and 'mist serve --trust' take). 'issue' writes FILE (mode
0600): a certificate for ID in GNS's signed-certificate format followed by
the peer's new private key. ID is an identity in GNS's text form, such as
str:alice or steamid:76561197960287930.
`

func runCA(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, caUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, caUsage)
		return 0
	case "init":
		return runCAInit(args[1:], stdout, stderr)
	case "issue":
		return runCAIssue(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "mist ca: unknown action %q: use 'init' or 'issue'\n\n", args[0])
	fmt.Fprint(stderr, caUsage)
	return 2
}

// parseFlags parses a subcommand's flags: 0 to go on, or the exit code.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q (only flags are taken)\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}

func runCAInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mist ca init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write ca.key and ca.pub into (created if missing)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mist ca init --out DIR")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "mist ca init: --out DIR is required: name the directory for ca.key and ca.pub")
		return 2
	}
	a, err := ca.Init(*out)
	if err != nil {
		fmt.Fprintf(stderr, "mist ca init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "CA key id %d: wrote %s/%s (keep private) and %s/%s (give to peers and servers)\n",
		a.KeyID(), *out, ca.KeyFile, *out, ca.PublicFile)
	return 0
}

func runCAIssue(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mist ca issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("ca", "", "CA directory (from 'mist ca init')")
	id := fs.String("identity", "", "identity to certify, e.g. str:alice")
	valid := fs.Duration("valid", 720*time.Hour, "how long the certificate is valid")
	app := fs.Uint("app", 0, "AppID the certificate is valid for (0: standalone, as GNS's default)")
	out := fs.String("out", "", "credential file to write (certificate and private key)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mist ca issue --ca DIR --identity ID [--valid 720h] [--app 0] --out FILE")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	switch {
	case *dir == "":
		fmt.Fprintln(stderr, "mist ca issue: --ca DIR is required: the directory 'mist ca init' wrote")
		return 2
	case *id == "":
		fmt.Fprintln(stderr, "mist ca issue: --identity ID is required, e.g. --identity str:alice")
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "mist ca issue: --out FILE is required: where to write the credential")
		return 2
	case *valid <= 0:
		fmt.Fprintf(stderr, "mist ca issue: --valid %v: give a positive duration such as 720h\n", *valid)
		return 2
	case *app > 1<<32-1:
		fmt.Fprintf(stderr, "mist ca issue: --app %d: an AppID is a 32-bit number\n", *app)
		return 2
	}
	authority, err := ca.Load(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "mist ca issue: %v\n", err)
		return 1
	}
	authority.AppIDs = []uint32{uint32(*app)}
	cred, err := authority.Issue(*id, time.Now(), *valid)
	if errors.Is(err, ca.ErrBadIdentity) {
		fmt.Fprintf(stderr, "mist ca issue: --identity: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "mist ca issue: %v\n", err)
		return 1
	}
	text, err := cred.MarshalPEM()
	if err != nil {
		fmt.Fprintf(stderr, "mist ca issue: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, text, 0o600); err != nil {
		fmt.Fprintf(stderr, "mist ca issue: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: certificate for %s, valid until %s\n", *out, cred.Identity, cred.Expires.UTC().Format(time.RFC3339))
	return 0
}
