package conn

import (
	"time"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// GNS attaches connection quality reports to data packets: instantaneous
// rates every 20-30 s and lifetime totals every 120-140 s. A report
// implies an ack request.
const (
	instantStatsInterval  = 25 * time.Second
	lifetimeStatsInterval = 130 * time.Second
)

// statsState tracks when reports are due and the counters at the last one.
type statsState struct {
	nextInstant, nextLifetime time.Time
	connectedAt               time.Time
	lastAt                    time.Time
	last                      Stats
	pending                   []byte // encoded UDPStats for the next packet
}

func (s *statsState) start(now time.Time) {
	s.connectedAt, s.lastAt = now, now
	s.nextInstant = now.Add(instantStatsInterval)
	s.nextLifetime = now.Add(lifetimeStatsInterval)
}

// statsDue builds the report when one is due at now.
func (c *Conn) statsDue(now time.Time) {
	s := &c.stats
	if s.pending != nil || (now.Before(s.nextInstant) && now.Before(s.nextLifetime)) {
		return
	}
	q := &pb.ConnectionQuality{}
	if d := now.Sub(s.lastAt).Seconds(); d > 0 {
		cur := c.Stats
		q.Instantaneous = &pb.InstantaneousStats{
			OutPacketsPerSecX10: proto.Uint32(uint32(float64(cur.PacketsSent-s.last.PacketsSent) * 10 / d)),
			OutBytesPerSec:      proto.Uint32(uint32(float64(cur.BytesSent-s.last.BytesSent) / d)),
			InPacketsPerSecX10:  proto.Uint32(uint32(float64(cur.PacketsRecv-s.last.PacketsRecv) * 10 / d)),
			InBytesPerSec:       proto.Uint32(uint32(float64(cur.BytesRecv-s.last.BytesRecv) / d)),
		}
		if c.havePing {
			q.Instantaneous.PingMs = proto.Uint32(uint32(c.ping.Milliseconds()))
		}
		c.quality.roll(now)
		if c.quality.droppedPct >= 0 {
			q.Instantaneous.PacketsDroppedPct = proto.Uint32(uint32(c.quality.droppedPct))
			q.Instantaneous.PacketsWeirdSequencePct = proto.Uint32(uint32(c.quality.weirdPct))
		}
		if j := c.quality.reportJitter; j >= 0 {
			q.Instantaneous.PeakJitterUsec = proto.Uint32(uint32(min(j.Microseconds(), 1<<31)))
			c.quality.reportJitter = -1
		}
		s.last, s.lastAt = cur, now
	}
	if !now.Before(s.nextLifetime) {
		q.Lifetime = &pb.LifetimeStats{
			ConnectedSeconds:     proto.Uint32(uint32(now.Sub(s.connectedAt).Seconds())),
			PacketsSent:          proto.Uint64(c.Stats.PacketsSent),
			KbSent:               proto.Uint64(c.Stats.BytesSent / 1024),
			PacketsRecv:          proto.Uint64(c.Stats.PacketsRecv),
			KbRecv:               proto.Uint64(c.Stats.BytesRecv / 1024),
			PacketsRecvDuplicate: proto.Uint64(c.Stats.Duplicates),
		}
		s.nextLifetime = now.Add(lifetimeStatsInterval)
	}
	s.nextInstant = now.Add(instantStatsInterval)
	blob, err := wire.AppendStats(nil, &pb.UDPStats{Stats: q})
	if err == nil {
		s.pending = blob
	}
}

// statsBlob returns the stats blob for a packet carrying ack-request flags:
// the pending report if any (with the flags written out when more than the
// implied one is needed), or a flags-only blob in scratch.
func (c *Conn) statsBlob(flags uint32, scratch *[2]byte) []byte {
	if p := c.stats.pending; p != nil {
		if flags&^wire.StatsAckRequestE2E == 0 {
			return p
		}
		// Rare (a report and an urgent ping at once): re-encode with flags.
		var m pb.UDPStats
		if proto.Unmarshal(p, &m) == nil {
			m.Flags = proto.Uint32(flags | wire.StatsAckRequestE2E)
			if b, err := wire.AppendStats(nil, &m); err == nil {
				return b
			}
		}
		return p
	}
	if flags == 0 {
		return nil
	}
	// UDPStats{flags}: field 3, varint.
	*scratch = [2]byte{0x18, byte(flags)}
	return scratch[:]
}
