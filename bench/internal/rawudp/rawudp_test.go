package rawudp

import (
	"context"
	"errors"
	"testing"

	"github.com/mistnet/mist/bench/internal/system"
	"github.com/mistnet/mist/bench/internal/systest"
)

func TestDriver(t *testing.T) {
	systest.Exercise(t, System{}, systest.Expect{})
}

func TestDialManyUnsupported(t *testing.T) {
	if _, err := (System{}).DialMany(context.Background(), "127.0.0.1:1", 1, nil); !errors.Is(err, system.ErrNotSupported) {
		t.Fatalf("DialMany error = %v, want ErrNotSupported", err)
	}
}
