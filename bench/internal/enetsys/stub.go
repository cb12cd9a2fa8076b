//go:build !cgo

// Package enetsys measures ENet; without cgo it is unavailable.
package enetsys

import (
	"context"
	"errors"

	"github.com/mistnet/mist/bench/internal/system"
)

// MaxPeers is ENet's protocol limit on peers per host.
const MaxPeers = 4095

// Available is false: ENet is reached through cgo.
func Available() bool { return false }

var errUnavailable = errors.New("enetsys: built without cgo")

// System is ENet, unavailable in this build.
type System struct{}

func (System) Name() string    { return "ENet" }
func (System) Encrypted() bool { return false }

func (System) Listen(string) (system.Server, error) { return nil, errUnavailable }

func (System) Dial(context.Context, string) (system.Conn, error) { return nil, errUnavailable }

func (System) DialMany(context.Context, string, int, func(int)) (system.Swarm, error) {
	return nil, errUnavailable
}
