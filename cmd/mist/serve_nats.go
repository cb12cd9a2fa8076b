package main

import (
	"fmt"
	"log/slog"

	"github.com/mistnet/mist/service"
	"github.com/mistnet/mist/service/signaling"
)

// natsCluster checks --nats and returns how a node joins it.
func natsCluster(url, node string) (func(*signaling.Server, *slog.Logger) (service.Cluster, error), error) {
	return nil, fmt.Errorf("--nats %q: joining nodes over NATS is not built yet", url)
}
