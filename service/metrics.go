package service

import "github.com/prometheus/client_golang/prometheus"

// Collector exports a node's counters in Prometheus's data model. It reads
// them when scraped, so a node without a scraper pays nothing.
type Collector struct {
	node *Node

	connections, registered, signalsPerSec         *prometheus.Desc
	forwarded, dropped, refused, limited, replaced *prometheus.Desc
	allocations, allocationsTotal, authFailures    *prometheus.Desc
	relayedBytes, relayedPackets                   *prometheus.Desc
	clusterConnected                               *prometheus.Desc
}

// NewCollector makes the node's collector; register it with a
// prometheus.Registerer.
func NewCollector(n *Node) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mist_service_"+name, help, labels, nil)
	}
	return &Collector{
		node:             n,
		connections:      d("signaling_connections", "Open signaling TCP connections, registered or not."),
		registered:       d("registered_peers", "Identities registered on this node."),
		signalsPerSec:    d("signals_per_second", "Signals forwarded per second over the last measuring interval."),
		forwarded:        d("signals_forwarded_total", "Signals forwarded toward a destination, local or on another node."),
		dropped:          d("signals_dropped_total", "Signals dropped, by reason.", "reason"),
		refused:          d("signaling_refused_total", "Signaling connections closed or refused, by reason.", "reason"),
		limited:          d("signals_rate_limited_total", "Lines that waited for their connection's rate limit."),
		replaced:         d("registrations_replaced_total", "Registrations that replaced an earlier connection of the same identity."),
		allocations:      d("relay_allocations", "Open TURN allocations."),
		allocationsTotal: d("relay_allocations_total", "TURN allocations ever made."),
		authFailures:     d("relay_auth_failures_total", "TURN requests refused for bad or missing credentials."),
		relayedBytes:     d("relayed_bytes_total", "Payload bytes through relay sockets, both directions."),
		relayedPackets:   d("relayed_packets_total", "Datagrams through relay sockets, both directions."),
		clusterConnected: d("cluster_connected", "1 while a clustered node reaches NATS, 0 while it does not; absent on a standalone node."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.registered, c.signalsPerSec, c.forwarded, c.dropped,
		c.refused, c.limited, c.replaced, c.allocations, c.allocationsTotal, c.authFailures, c.relayedBytes, c.relayedPackets, c.clusterConnected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.node.Stats()
	s, r := st.Signaling, st.Relay
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.connections, float64(s.Connections))
	gauge(c.registered, float64(s.RegisteredPeers))
	gauge(c.signalsPerSec, s.SignalsPerSecond)
	counter(c.forwarded, s.SignalsForwarded)
	counter(c.dropped, s.DroppedUnknownDest, "unknown_destination")
	counter(c.dropped, s.DroppedQueueFull, "queue_full")
	counter(c.dropped, s.IgnoredLines, "malformed")
	counter(c.refused, s.LinesTooLong, "line_too_long")
	counter(c.refused, s.Timeouts, "timeout")
	counter(c.refused, s.RefusedConns, "connection_cap")
	counter(c.refused, s.AuthRefused, "not_proven")
	counter(c.limited, s.RateLimited)
	counter(c.replaced, s.Replaced)
	gauge(c.allocations, float64(r.Allocations))
	counter(c.allocationsTotal, r.AllocationsTotal)
	counter(c.authFailures, r.AuthFailures)
	counter(c.relayedBytes, r.RelayedBytes)
	counter(c.relayedPackets, r.RelayedPackets)
	if st.Clustered {
		v := 0.0
		if st.ClusterConnected {
			v = 1
		}
		gauge(c.clusterConnected, v)
	}
}
