// Package reliability is the per-connection SNP session: everything carried
// inside a connection's decrypted data packets. It queues outgoing messages
// per lane, numbers them, applies Nagle, cuts them into segments, tracks
// which packets carried which reliable bytes, retransmits what the peer
// reports missing or does not acknowledge in time, and on the receive side
// tracks which packets arrived, writes ack frames, and reassembles reliable
// streams and fragmented unreliable messages.
//
// A Session is sans I/O: it never reads the clock or touches a socket. The
// connection passes the current time into every call, asks NextDeadline when
// to call again, and moves the payloads AppendPacket writes and Receive
// reads. It is not safe for concurrent use; the connection's lock guards it.
//
// # Where mist differs from GNS 1.6
//
// All of these are local policy; the bytes on the wire stay within what a
// GNS peer expects.
//
//   - A reliable message whose number jumps more than 1,000,000 past the
//     previous one is accepted. GNS closes the connection ("reliable
//     message number lurch"), although a peer that sends that many
//     unreliable messages between two reliable ones is behaving correctly.
//   - New reliable data runs at most 512 KiB ahead of what the peer has
//     acknowledged (see maxReliableAhead), so that a sender faster than
//     the path or the receiving application cannot overflow the peer's
//     reassembly buffer; under loss, less (see window), so that the holes
//     loss leaves in the peer's stream stay under its limits.
//   - RecvBufferSize bounds the receive side of all lanes together:
//     reassembly buffers, buffered unreliable fragments and (with
//     Config.UnreadBytes) the messages the application has not read. GNS
//     applies it to each lane's reassembly buffer alone, so a peer using
//     many lanes could make it hold many times the limit.
//   - The retransmission timeout also follows the round-trip variation
//     and backs off after repeated timeouts; once it has fired with no ack
//     since, only the oldest packet is resent until an ack arrives (see
//     rto).
//   - With reliable data in flight, nothing to resend and no ack for
//     about two round trips, the sender resends its oldest packet in
//     flight (a probe; see probe), so that losses at the tail of a full
//     window are found without waiting for the retransmission timeout.
//     Packets carrying resends ask for an immediate ack.
//   - Besides GNS's 50 ms deadline, the receiver acks after every eight
//     packets carrying reliable data, so that at high rates losses are
//     reported before the 62-entry gap list has to merge gaps, and at
//     once after a resent segment.
//   - An ack's latest never trails the newest packet received by more
//     than 2^14, so that its 16 bits expand correctly after a jump in the
//     peer's packet numbers.
//   - A new gap in the received packet numbers is held back from the ack
//     for 3 ms as in GNS, stretched up to 40 ms when packets have been
//     seen arriving that late, so that reordering is not mistaken for
//     loss. GNS reports a held gap early when asked for an immediate ack
//     or once its 50 ms ack deadline has passed; mist does not.
package reliability

import (
	"errors"
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/snp"
)

// GNS end-reason codes a Session reports.
const (
	// EndMiscInternalError (5002) is what GNS closes a connection with after
	// an undecodable frame or a receive limit a peer must not exceed.
	EndMiscInternalError = 5002
)

// Error is a protocol violation by the peer. The connection must close with
// EndReason.
type Error struct {
	EndReason int
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("reliability: %v (end reason %d)", e.Err, e.EndReason)
}

func (e *Error) Unwrap() error { return e.Err }

func fatal(format string, args ...any) error {
	return &Error{EndReason: EndMiscInternalError, Err: fmt.Errorf(format, args...)}
}

// Send errors, matching GNS result codes.
var (
	// ErrInvalidParam (k_EResultInvalidParam): message too large, or no
	// such lane.
	ErrInvalidParam = errors.New("reliability: invalid parameter")
	// ErrLimitExceeded (k_EResultLimitExceeded): the send buffer is full.
	ErrLimitExceeded = errors.New("reliability: send buffer full")
)

// Send flags, as in GNS's k_nSteamNetworkingSend_*.
const (
	SendUnreliable = 0
	SendNoNagle    = 1
	SendNoDelay    = 4
	SendReliable   = 8
)

// Size limits from GNS.
const (
	// MaxMessageSize is the largest message the API accepts (512 KiB).
	MaxMessageSize = 512 * 1024
	// MaxUnreliableSize is the largest message sent unreliably; larger
	// unreliable messages silently go reliable.
	MaxUnreliableSize = 16500
	// maxUnreliableRecvSize bounds offset+length of a received unreliable
	// segment (20 fragments of 1300 bytes).
	maxUnreliableRecvSize = 26000
	// maxUnreliableSegmentRecv is the longest unreliable segment accepted.
	maxUnreliableSegmentRecv = 1300
	// maxBufferedFragments is how many unreliable fragments a lane holds
	// before it discards the oldest message's.
	maxBufferedFragments = 20
	// Hole limits of a reliable receive buffer: new holes at the end, and
	// holes split by a segment landing inside one.
	maxHolesExtend   = 30
	maxHolesFragment = 20
	// maxAckBlocks caps the blocks in one ack frame, maxPacketGaps the
	// receiver's gap list (sentinel included), as GNS does.
	maxAckBlocks  = 64
	maxPacketGaps = 62
	// maxAckLag is how far an ack's latest may trail the newest packet
	// received: the 16-bit field is expanded near the peer's next packet
	// number, which may run up to as far again ahead.
	maxAckLag = 1 << 14
)

// Protocol timers from GNS.
const (
	maxDataAckDelay = 50 * time.Millisecond // ack reliable data within this
	ackEveryPackets = 8                     // mist: also ack after this many data packets
	nackFlush       = 3 * time.Millisecond  // hold a new gap this long before reporting it
	maxNackHold     = 40 * time.Millisecond // mist: longest hold on a reordering path
	rtoSlack        = 60 * time.Millisecond // RTO = 3 × ping + this
	rtoNoPing       = time.Second           // RTO before any ping sample
	maxRTOBackoff   = 5                     // mist: RTO doublings after repeated timeouts
	maxBackedOffRTO = 3 * time.Second       // mist: longest backed-off RTO
	probeMargin     = 5 * time.Millisecond  // mist: probe timeout = 2 × ping + this
)

// Config holds a session's settings. Zero fields take GNS's defaults;
// NagleTime < 0 disables Nagle.
type Config struct {
	NagleTime                time.Duration // default 5 ms
	SendBufferSize           int           // default 512 KiB
	RecvBufferSize           int           // default 1 MiB; bounds the receive side of all lanes together
	RecvMaxMessageSize       int           // default 512 KiB
	RecvMaxSegmentsPerPacket int           // default 1300
	// MaxReliableSegment caps the data of one reliable segment: 1137 with
	// AES-GCM at MTU 1300, 1153 with the NULL cipher.
	MaxReliableSegment int
	// PacketOverhead is added to the SNP payload size when reporting sent
	// packets to Rate: the UDP data header and the cipher tag (default 23).
	PacketOverhead int
	// Rate, if set, is told about sent packets, acks and losses.
	Rate RateObserver
	// UnreadBytes, if set, reports the bytes of delivered messages the
	// application has not read yet. They count against RecvBufferSize
	// together with the reassembly buffers of every lane.
	UnreadBytes func() int
	// LendUnreliable lets Receive hand deliver an unreliable message that
	// arrived whole in one segment without copying it: its Data then
	// belongs to the packet (Message.Lent) and deliver must copy what it
	// keeps. Small messages are then copied once, where they are stored.
	LendUnreliable bool
}

// RateObserver is the part of congestion.Controller a Session drives.
type RateObserver interface {
	OnPacketSent(now time.Time, bytes int)
	OnAck(now time.Time, ackedBytes int, rtt time.Duration)
	OnLoss(now time.Time, lostBytes int)
	Rate() int
}

func (c *Config) setDefaults() {
	if c.NagleTime == 0 {
		c.NagleTime = 5 * time.Millisecond
	}
	if c.NagleTime < 0 {
		c.NagleTime = 0
	}
	if c.SendBufferSize <= 0 {
		c.SendBufferSize = 512 * 1024
	}
	if c.RecvBufferSize <= 0 {
		c.RecvBufferSize = 1024 * 1024
	}
	if c.RecvMaxMessageSize <= 0 {
		c.RecvMaxMessageSize = 512 * 1024
	}
	if c.RecvMaxSegmentsPerPacket <= 0 {
		c.RecvMaxSegmentsPerPacket = 1300
	}
	if c.MaxReliableSegment <= 0 {
		c.MaxReliableSegment = 1137
	}
	c.MaxReliableSegment = min(c.MaxReliableSegment, snp.MaxSegmentLen)
	if c.PacketOverhead <= 0 {
		c.PacketOverhead = 7 + 16
	}
}

// Message is a message delivered to the application. Data comes from
// internal/bufpool and belongs to the callee.
type Message struct {
	Lane     int
	Num      int64
	Reliable bool
	Data     []byte
	// Lent: Data is only valid during the deliver call (see
	// Config.LendUnreliable); otherwise deliver owns it (from bufpool)
	// if it accepts the message.
	Lent bool
}

// Session is the SNP state of one connection. Create it with New.
type Session struct {
	cfg Config

	// Send side.
	sentSinceAckRequest int // data bytes sent since the last immediate ack request

	retransmittedSegments, retransmittedBytes int64
	sendLanes                                 []*sendLane
	laneOrder                                 []int // lanes sorted by priority, for choosing new data
	pendingRel                                int   // bytes queued and not yet on the wire (incl. retries)
	pendingUnrel                              int
	nextPkt                                   int64 // the packet number we expect to send next
	minWaiting                                int64 // our stop value: oldest packet we still want reported
	sent                                      sentRing
	ping                                      time.Duration // smoothed round trip, 0 until sampled
	havePing                                  bool
	pingVar                                   time.Duration // smoothed deviation of round-trip samples
	rtoBackoff                                uint          // timeouts since the last ack that acknowledged data
	freeMsgs                                  []*outMsg
	lastPacketReliable                        bool
	lastRelSent                               time.Time // when a packet with reliable data last went out
	probes                                    uint      // probes sent since the last ack that acknowledged data

	// Receive side.
	recvLanes []*recvLane
	// recvHeld is the memory the receive side holds: the capacity of every
	// lane's reassembly buffer plus that of every buffered unreliable
	// fragment. With the unread bytes it stays within RecvBufferSize.
	recvHeld int
	fragSeq  uint64 // arrival counter of unreliable fragments, to find the oldest
	// unreadBound bounds the application's unread bytes: the last answer
	// of Config.UnreadBytes plus what was delivered since.
	unreadBound int
	gaps        []recvGap // missing packets, oldest first
	nextRecv    int64     // one past the highest packet we are prepared to ack
	nextTime    time.Time // receive time of packet nextRecv-1 (zero: unknown)
	peerStop    int64
	peerStopPkt int64
	// Loss rate of our packets (EWMA over lossSample-packet samples), which
	// sizes the send window; see window.
	lossRate            float64
	lossAcked, lossLost int

	ackDue      time.Time // when everything received must have been reported
	unackedData int       // data packets received since the last ack frame
	nackHold    time.Duration
	lastNow     time.Time

	// Scratch, reused across packets.
	reader      snp.Reader
	blocks      []snp.AckBlock
	laneBufs    [][]byte
	laneWr      []snp.Writer
	laneLast    []int // per lane: offset of the last segment's lead byte in its buffer, -1 if none
	laneLastLen []int // per lane: data length of that segment
}

// New returns a session for a freshly connected connection: the first data
// packet in each direction is number 2, and packet 1 (the handshake) counts
// as received.
func New(cfg Config) *Session {
	cfg.setDefaults()
	s := &Session{
		cfg:      cfg,
		nextPkt:  2,
		nextRecv: 2,
	}
	s.ConfigureLanes([]int{0}, []int{1})
	s.recvLane(0)
	return s
}

// ConfigureLanes sets the number of send lanes with their priorities (lower
// is served first) and weights (share within one priority). The count may
// grow but never shrink, and at most 255 lanes exist.
func (s *Session) ConfigureLanes(priorities, weights []int) error {
	n := len(priorities)
	if n < len(s.sendLanes) || n < 1 || n > 255 || (weights != nil && len(weights) != n) {
		return ErrInvalidParam
	}
	for i := range n {
		if weights != nil && (weights[i] < 1 || weights[i] > 65535) {
			return ErrInvalidParam
		}
	}
	for len(s.sendLanes) < n {
		s.sendLanes = append(s.sendLanes, &sendLane{streamPos: 1, ackedBelow: 1})
	}
	s.laneOrder = s.laneOrder[:0]
	for i, l := range s.sendLanes {
		l.priority = priorities[i]
		l.weight = 1
		if weights != nil {
			l.weight = weights[i]
		}
		s.laneOrder = append(s.laneOrder, i)
	}
	// Insertion sort: stable, and lanes are few.
	for i := 1; i < len(s.laneOrder); i++ {
		for j := i; j > 0 && s.sendLanes[s.laneOrder[j]].priority < s.sendLanes[s.laneOrder[j-1]].priority; j-- {
			s.laneOrder[j], s.laneOrder[j-1] = s.laneOrder[j-1], s.laneOrder[j]
		}
	}
	for len(s.laneBufs) < n {
		s.laneBufs = append(s.laneBufs, nil)
		s.laneWr = append(s.laneWr, snp.Writer{})
		s.laneLast = append(s.laneLast, -1)
		s.laneLastLen = append(s.laneLastLen, 0)
	}
	return nil
}

// PendingReliable is the number of reliable bytes (headers included) queued
// and not yet on the wire, retransmissions included.
func (s *Session) PendingReliable() int { return s.pendingRel }

// PendingUnreliable is the number of unreliable bytes queued.
func (s *Session) PendingUnreliable() int { return s.pendingUnrel }

// SentUnacked is the number of reliable bytes sent and not yet acknowledged.
func (s *Session) SentUnacked() int {
	n := 0
	for _, l := range s.sendLanes {
		n += l.sentUnacked()
	}
	return n
}

// QueueTime estimates how long a message queued now would wait before it
// goes out: the pending bytes at the current send rate.
func (s *Session) QueueTime() time.Duration {
	pending := s.pendingRel + s.pendingUnrel
	if pending == 0 || s.cfg.Rate == nil || s.cfg.Rate.Rate() <= 0 {
		return 0
	}
	return time.Duration(int64(pending) * int64(time.Second) / int64(s.cfg.Rate.Rate()))
}

// Ping is the smoothed round-trip time measured from acks, and whether any
// sample exists yet.
func (s *Session) Ping() (time.Duration, bool) { return s.ping, s.havePing }

// rto is the retransmission timeout. GNS uses 3 × ping + 60 ms with no
// backoff. mist keeps that as the floor, raises it to ping + 4 × the
// round-trip variation + the peer's longest ack delay when round trips
// swing widely, and doubles it (up to maxRTOBackoff times, within
// maxBackedOffRTO) for each timeout that passes with no ack in between, so
// that a peer that is merely slow to answer is not sent the whole window
// again and again.
func (s *Session) rto() time.Duration {
	base := rtoNoPing
	if s.havePing {
		base = max(3*s.ping+rtoSlack, s.ping+4*s.pingVar+maxDataAckDelay)
	}
	if s.rtoBackoff == 0 {
		return base
	}
	return max(base, min(base<<s.rtoBackoff, maxBackedOffRTO))
}

// NextDeadline is when the session next needs AppendPacket to be called:
// an ack falling due, Nagle expiring, data or retransmissions waiting, or a
// retransmission timeout. The zero time means nothing is scheduled. Data
// deadlines assume the rate allows sending; the caller also consults its
// congestion controller.
func (s *Session) NextDeadline() time.Time {
	var d time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	earlier(s.ackDue)
	earlier(s.dataDeadline())
	if p := s.sent.oldestInFlight(); p != nil {
		earlier(p.at.Add(s.rto()))
	}
	earlier(s.probeDeadline())
	return d
}

// Release returns every buffer the session holds to the pool: queued and
// unacknowledged messages and buffered unreliable fragments. The session
// must not be used afterwards.
func (s *Session) Release() {
	for _, l := range s.sendLanes {
		for _, m := range l.queue[l.qhead:] {
			if !m.reliable {
				bufpool.Put(m.buf)
			}
		}
		for _, m := range l.unacked[l.uhead:] {
			bufpool.Put(m.buf)
		}
		l.queue, l.unacked, l.qhead, l.uhead = nil, nil, 0, 0
	}
	for _, l := range s.recvLanes {
		for _, f := range l.frags {
			bufpool.Put(f.data)
		}
		l.frags, l.buf = nil, nil
	}
	s.recvHeld = 0
	s.pendingRel, s.pendingUnrel = 0, 0
}
