//go:build unix

package endpoint

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestSmallBufferWarningOnce(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	prev := bufferWarned.Swap(false)
	t.Cleanup(func() { bufferWarned.Store(prev) })
	// No kernel grants a gigabyte without raising its limits.
	opts := &Options{SocketBuffer: 1 << 30, Logger: logger}
	for range 3 {
		c, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), opts)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := strings.Count(logs.String(), "smaller UDP buffers"); n != 1 {
		t.Fatalf("%d warnings, want exactly 1:\n%s", n, logs.String())
	}
}
