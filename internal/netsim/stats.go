package netsim

import "sync/atomic"

// Stats counts what netsim did to one direction of traffic.
type Stats struct {
	Packets       uint64 // datagrams offered
	Lost          uint64 // dropped by LossPct
	RateLimited   uint64 // dropped by the rate limit
	Delayed       uint64 // held for any time (lag, jitter, reorder)
	Jittered      uint64 // given extra jitter delay
	Reordered     uint64 // given the reorder delay
	Duplicated    uint64 // copies added
	QueueFull     uint64 // dropped because a bounded queue was full
	Truncated     uint64 // dropped because the reader's buffer was too small
	Undeliverable uint64 // in-memory network: nobody listens at the destination
}

type counter struct{ atomic.Uint64 }

func (c *counter) add(n uint64) { c.Add(n) }

type counters struct {
	packets, lost, rateLimited, delayed, jittered, reordered,
	duplicated, queueFull, truncated, undeliverable counter
}

func (c *counters) snapshot() Stats {
	return Stats{
		Packets: c.packets.Load(), Lost: c.lost.Load(), RateLimited: c.rateLimited.Load(),
		Delayed: c.delayed.Load(), Jittered: c.jittered.Load(), Reordered: c.reordered.Load(),
		Duplicated: c.duplicated.Load(), QueueFull: c.queueFull.Load(),
		Truncated: c.truncated.Load(), Undeliverable: c.undeliverable.Load(),
	}
}

// count records a fate; it reports whether the datagram survives.
func (c *counters) count(ft *fate) bool {
	c.packets.add(1)
	switch ft.drop {
	case dropLoss:
		c.lost.add(1)
		return false
	case dropRate:
		c.rateLimited.add(1)
		return false
	}
	if ft.delayed {
		c.delayed.add(1)
	}
	if ft.jittered {
		c.jittered.add(1)
	}
	if ft.reordered {
		c.reordered.add(1)
	}
	if ft.dup {
		c.duplicated.add(1)
	}
	return true
}
