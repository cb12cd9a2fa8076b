package main

import (
	"strings"
	"testing"
)

func TestParseServerAddr(t *testing.T) {
	good := map[string]string{
		"127.0.0.1":         "127.0.0.1:27020",
		"127.0.0.1:0":       "127.0.0.1:27020",
		"127.0.0.1:5000":    "127.0.0.1:5000",
		"::1":               "[::1]:27020",
		"[::1]":             "[::1]:27020",
		"[::1]:5000":        "[::1]:5000",
		"::ffff:10.0.0.1":   "10.0.0.1:27020",
		"localhost:5000":    "127.0.0.1:5000",
		"[2001:db8::1]:443": "[2001:db8::1]:443",
	}
	for in, want := range good {
		got, err := parseServerAddr(in, defaultChatPort)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if s := formatAddr(got); s != want {
			t.Errorf("%q: got %s, want %s", in, s, want)
		}
	}

	bad := map[string]string{
		"":                "empty",
		"127.0.0.1:99999": "port",
		"127.0.0.1:x":     "port",
		"[::1":            "]",
		"[::1]x":          "':port'",
		":5000":           "missing host",
		"0.0.0.0:5000":    "unspecified",
		"no such host!/":  "neither",
		"300.1.1.1":       "could not be resolved",
	}
	for in, want := range bad {
		_, err := parseServerAddr(in, defaultChatPort)
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %q does not mention %q", in, err, want)
		}
	}
}
