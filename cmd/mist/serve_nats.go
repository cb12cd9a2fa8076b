package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/mistnet/mist/service"
	"github.com/mistnet/mist/service/cluster"
	"github.com/mistnet/mist/service/signaling"
)

// natsCluster checks --nats and --node and returns how a node joins the
// other nodes.
func natsCluster(url, node string) (func(*signaling.Server, *slog.Logger) (service.Cluster, error), error) {
	for _, u := range strings.Split(url, ",") {
		if !strings.Contains(u, "://") && strings.ContainsAny(u, " /") {
			return nil, fmt.Errorf("--nats %q: give a NATS URL such as nats://127.0.0.1:4222", url)
		}
	}
	if len(node) > 64 {
		return nil, fmt.Errorf("--node %q: use at most 64 bytes", node)
	}
	return func(srv *signaling.Server, log *slog.Logger) (service.Cluster, error) {
		return cluster.Join(cluster.Config{URL: url, Node: node, Logger: log}, srv)
	}, nil
}
