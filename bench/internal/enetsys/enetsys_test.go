package enetsys

import (
	"context"
	"errors"
	"testing"

	"github.com/mistnet/mist/bench/internal/system"
	"github.com/mistnet/mist/bench/internal/systest"
)

func requireENet(t *testing.T) {
	t.Helper()
	if !Available() {
		t.Skip("SKIPPED: libenet not available (install libenet-dev); ENet is left out of the benchmark")
	}
}

func TestDriver(t *testing.T) {
	requireENet(t)
	systest.Exercise(t, System{}, systest.Expect{Reliable: true, Swarm: 20})
}

func TestDialManyBeyondPeerLimit(t *testing.T) {
	requireENet(t)
	_, err := (System{}).DialMany(context.Background(), "127.0.0.1:1", MaxPeers+1, nil)
	if !errors.Is(err, system.ErrNotSupported) {
		t.Fatalf("DialMany(%d) error = %v, want ErrNotSupported", MaxPeers+1, err)
	}
}
