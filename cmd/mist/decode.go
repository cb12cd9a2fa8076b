package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mistnet/mist/internal/decode"
)

func init() {
	register("decode", command{
		summary: "replay captured GNS traffic and print the messages it carried",
		run:     runDecode,
	})
}

// runDecode implements `mist decode [--frames] --keys keys.json packets.jsonl`.
func runDecode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keysPath := fs.String("keys", "", "the capture's keys.json (only each side's ephemeral_x25519_private is used)")
	frames := fs.Bool("frames", false, "also print every decoded SNP frame")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mist decode [--frames] --keys keys.json packets.jsonl")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Replays captured datagrams (dir and payload_hex of each line) through mist's")
		fmt.Fprintln(stderr, "parsing, key derivation, decryption and reassembly, and prints one JSON line")
		fmt.Fprintln(stderr, "per message delivered to either application, in delivery order.")
		fmt.Fprintln(stderr, "Undecodable datagrams are reported on stderr.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *keysPath == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	keys, err := os.Open(*keysPath)
	if err != nil {
		fmt.Fprintln(stderr, "mist decode:", err)
		return 1
	}
	defer keys.Close()
	packets, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "mist decode:", err)
		return 1
	}
	defer packets.Close()
	if _, err := decode.Run(keys, packets, stdout, stderr, *frames); err != nil {
		fmt.Fprintln(stderr, "mist decode:", err)
		return 1
	}
	return 0
}
