package dashboard

import (
	"sync"

	"github.com/mistnet/mist"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a Sockets' state to Prometheus. It reads the instance
// only when scraped. Counters are totals over the instance's life: the last
// figures seen of a connection or listen socket that has since gone are
// kept, so they never go down (traffic between a connection's last scrape
// and its close is not counted).
type Collector struct {
	s *mist.Sockets

	mu          sync.Mutex
	conns       map[mist.Conn]mist.ConnectionCounters
	retired     mist.ConnectionCounters
	listens     map[mist.ListenSocket]mist.ListenSocketCounters
	retiredList mist.ListenSocketCounters
	handleBuf   []mist.Conn
	listenBuf   []mist.ListenSocket

	connections, listenSockets                                    *prometheus.Desc
	sentBytes, recvBytes, sentPackets, recvPackets                *prometheus.Desc
	retransSegments, retransBytes, dropped, droppedMessages       *prometheus.Desc
	challenges, connectRequests                                   *prometheus.Desc
	pendingReliable, pendingUnreliable, unacked, queueTime        *prometheus.Desc
	recvQueueMessages, recvQueueBytes, pingMax, qualityLocalWorst *prometheus.Desc
}

// metricStates are the connection states exported, with their label values.
var metricStates = []struct {
	state mist.ConnState
	label string
}{
	{mist.StateConnecting, "connecting"},
	{mist.StateFindingRoute, "finding_route"},
	{mist.StateConnected, "connected"},
	{mist.StateClosedByPeer, "closed_by_peer"},
	{mist.StateProblemDetectedLocally, "problem_detected_locally"},
}

// NewCollector makes a collector for s. constLabels, which may be nil, are
// added to every metric; they tell several instances in one registry apart.
func NewCollector(s *mist.Sockets, constLabels prometheus.Labels) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mist_"+name, help, labels, constLabels)
	}
	return &Collector{
		s:       s,
		conns:   make(map[mist.Conn]mist.ConnectionCounters),
		listens: make(map[mist.ListenSocket]mist.ListenSocketCounters),

		connections:       d("connections", "Connections the application holds, by state.", "state"),
		listenSockets:     d("listen_sockets", "Open IP listen sockets."),
		sentBytes:         d("sent_bytes_total", "UDP payload bytes sent on connections."),
		recvBytes:         d("received_bytes_total", "UDP payload bytes received on connections."),
		sentPackets:       d("sent_packets_total", "Datagrams sent on connections."),
		recvPackets:       d("received_packets_total", "Datagrams received on connections."),
		retransSegments:   d("retransmitted_segments_total", "Reliable segments sent again."),
		retransBytes:      d("retransmitted_bytes_total", "Bytes of reliable segments sent again."),
		dropped:           d("dropped_packets_total", "Datagrams dropped, by reason.", "reason"),
		droppedMessages:   d("dropped_messages_total", "Received messages dropped, by reason (receive_queue_full: unreliable messages that found the application's receive queue full).", "reason"),
		challenges:        d("handshake_challenges_sent_total", "Challenges sent by listen sockets in answer to connection attempts."),
		connectRequests:   d("handshake_connect_requests_total", "Connection requests with a valid challenge received by listen sockets."),
		pendingReliable:   d("pending_reliable_bytes", "Reliable bytes queued and not yet sent, over all connections."),
		pendingUnreliable: d("pending_unreliable_bytes", "Unreliable bytes queued and not yet sent, over all connections."),
		unacked:           d("unacked_reliable_bytes", "Reliable bytes sent and not yet acknowledged, over all connections."),
		queueTime:         d("send_queue_time_max_seconds", "Longest estimated wait of a message queued now, over all connections."),
		recvQueueMessages: d("receive_queue_messages", "Received messages waiting for the application, over all connections."),
		recvQueueBytes:    d("receive_queue_bytes", "Bytes of received messages waiting for the application, over all connections."),
		pingMax:           d("ping_max_seconds", "Highest round-trip estimate of a connection."),
		qualityLocalWorst: d("quality_local_min_ratio", "Lowest fraction of a connected peer's packets that arrived in order (1 when unmeasured)."),
	}
}

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.listenSockets, c.sentBytes, c.recvBytes, c.sentPackets,
		c.recvPackets, c.retransSegments, c.retransBytes, c.dropped, c.droppedMessages, c.challenges, c.connectRequests,
		c.pendingReliable, c.pendingUnreliable, c.unacked, c.queueTime, c.recvQueueMessages, c.recvQueueBytes,
		c.pingMax, c.qualityLocalWorst} {
		ch <- d
	}
}

// Collect reads the instance and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()

	byState := make(map[mist.ConnState]int, len(metricStates))
	var total mist.ConnectionCounters
	var pendRel, pendUnrel, unacked, rqMsgs, rqBytes int
	var queueTime, pingMax float64
	qualityMin := 1.0
	seen := make(map[mist.Conn]mist.ConnectionCounters, len(c.conns))
	c.handleBuf = c.s.Connections(c.handleBuf[:0])
	for _, h := range c.handleBuf {
		o, ok := c.s.ObserveConnection(h, nil)
		if !ok {
			continue
		}
		byState[o.Info.State]++
		if prev, ok := c.conns[h]; ok && o.Counters.BytesSent < prev.BytesSent {
			// The handle was reused by a new connection.
			addCounters(&c.retired, prev)
		}
		seen[h] = o.Counters
		addCounters(&total, o.Counters)
		st := o.Status
		pendRel += st.PendingReliable
		pendUnrel += st.PendingUnreliable
		unacked += st.SentUnackedReliable
		rqMsgs += o.ReceiveQueueMessages
		rqBytes += o.ReceiveQueueBytes
		queueTime = max(queueTime, st.QueueTime.Seconds())
		if st.Ping >= 0 {
			pingMax = max(pingMax, float64(st.Ping)/1000)
		}
		if st.State == mist.StateConnected && st.QualityLocal >= 0 {
			qualityMin = min(qualityMin, float64(st.QualityLocal))
		}
	}
	for h, prev := range c.conns {
		if _, ok := seen[h]; !ok {
			addCounters(&c.retired, prev)
		}
	}
	c.conns = seen
	addCounters(&total, c.retired)

	var lt mist.ListenSocketCounters
	seenListen := make(map[mist.ListenSocket]mist.ListenSocketCounters, len(c.listens))
	c.listenBuf = c.s.ListenSockets(c.listenBuf[:0])
	for _, h := range c.listenBuf {
		n, ok := c.s.ListenSocketCounters(h)
		if !ok {
			continue
		}
		if prev, ok := c.listens[h]; ok && n.ChallengesSent < prev.ChallengesSent {
			addListenCounters(&c.retiredList, prev)
		}
		seenListen[h] = n
		addListenCounters(&lt, n)
	}
	for h, prev := range c.listens {
		if _, ok := seenListen[h]; !ok {
			addListenCounters(&c.retiredList, prev)
		}
	}
	c.listens = seenListen
	addListenCounters(&lt, c.retiredList)

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range metricStates {
		gauge(c.connections, float64(byState[s.state]), s.label)
	}
	gauge(c.listenSockets, float64(len(seenListen)))
	counter(c.sentBytes, total.BytesSent)
	counter(c.recvBytes, total.BytesRecv)
	counter(c.sentPackets, total.PacketsSent)
	counter(c.recvPackets, total.PacketsRecv)
	counter(c.retransSegments, total.RetransmittedSegments)
	counter(c.retransBytes, total.RetransmittedBytes)
	counter(c.dropped, total.DroppedInvalid, "invalid")
	counter(c.dropped, total.DroppedDuplicate, "duplicate")
	counter(c.dropped, total.DecryptFailed, "decrypt_failed")
	counter(c.dropped, lt.DroppedInvalid, "listener_invalid")
	counter(c.dropped, lt.BadChallenges, "bad_challenge")
	counter(c.droppedMessages, total.DroppedQueueFull, "receive_queue_full")
	counter(c.challenges, lt.ChallengesSent)
	counter(c.connectRequests, lt.ConnectRequests)
	gauge(c.pendingReliable, float64(pendRel))
	gauge(c.pendingUnreliable, float64(pendUnrel))
	gauge(c.unacked, float64(unacked))
	gauge(c.queueTime, queueTime)
	gauge(c.recvQueueMessages, float64(rqMsgs))
	gauge(c.recvQueueBytes, float64(rqBytes))
	gauge(c.pingMax, pingMax)
	gauge(c.qualityLocalWorst, qualityMin)
}

func addCounters(dst *mist.ConnectionCounters, n mist.ConnectionCounters) {
	dst.PacketsSent += n.PacketsSent
	dst.BytesSent += n.BytesSent
	dst.PacketsRecv += n.PacketsRecv
	dst.BytesRecv += n.BytesRecv
	dst.DroppedInvalid += n.DroppedInvalid
	dst.DroppedDuplicate += n.DroppedDuplicate
	dst.DecryptFailed += n.DecryptFailed
	dst.RetransmittedSegments += n.RetransmittedSegments
	dst.RetransmittedBytes += n.RetransmittedBytes
	dst.DroppedQueueFull += n.DroppedQueueFull
}

func addListenCounters(dst *mist.ListenSocketCounters, n mist.ListenSocketCounters) {
	dst.ChallengesSent += n.ChallengesSent
	dst.ConnectRequests += n.ConnectRequests
	dst.BadChallenges += n.BadChallenges
	dst.DroppedInvalid += n.DroppedInvalid
}
