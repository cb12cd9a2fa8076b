package main

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/mistnet/mist"
)

// demoEnd is one end of one demo connection: it sends its own streams (one
// reliable, one unreliable, both numbered by stream) and checks what
// arrives.
type demoEnd struct {
	s      *mist.Sockets
	conn   mist.Conn
	label  string
	stream uint16 // stream id of everything this end sends

	connected bool
	failed    string // why the connection ended early, if it did
	closed    bool   // we closed it
	// labelPending: the server side learns which client it talks to from
	// the first message's stream.
	labelPending bool
	peer         int // the client number a server end talks to, once known

	relSent, unrelSent   uint64
	relBytes, unrelBytes uint64
	sendLimitHits        uint64 // sends refused for a full send buffer
	retransmits          int64  // from the detailed status, -1 unknown
	lastStatus           mist.RealTimeStatus
	haveStatus           bool
}

// Client i sends stream i, the server's end of client i's connection
// stream serverStreamBase+k (k in accept order).
const serverStreamBase = 100

// demoTraffic generates traffic on a set of connection ends at fixed rates
// and checks every received message.
type demoTraffic struct {
	ends []*demoEnd

	reliableRate   float64 // messages per second per end
	unreliableRate float64

	reliable   map[uint16]*reliableTracker
	unreliable map[uint16]*unreliableTracker
	arrivedAt  map[uint16]*demoEnd // where each stream is being received
	misrouted  uint64              // messages arriving at a second end
	corrupt    uint64
	firstBad   string // first corrupt or misrouted message, for the summary

	sendStart time.Time
	sending   bool
	buf       []byte
	batch     [64]*mist.Message
}

func newDemoTraffic(reliableRate, unreliableRate float64) *demoTraffic {
	return &demoTraffic{
		reliableRate:   reliableRate,
		unreliableRate: unreliableRate,
		reliable:       map[uint16]*reliableTracker{},
		unreliable:     map[uint16]*unreliableTracker{},
		arrivedAt:      map[uint16]*demoEnd{},
	}
}

func (d *demoTraffic) add(e *demoEnd) {
	e.retransmits = -1
	d.ends = append(d.ends, e)
}

// startSending begins the send schedule: message counts grow linearly from
// now.
func (d *demoTraffic) startSending(now time.Time) {
	d.sendStart = now
	d.sending = true
}

func (d *demoTraffic) stopSending() { d.sending = false }

// maxBurst bounds how many messages of a kind one end sends per step, so a
// stall (a slow machine, a full buffer) is not followed by a flood.
const maxBurst = 20

// step sends what the schedule asks for and receives everything queued.
func (d *demoTraffic) step(now time.Time) {
	for _, e := range d.ends {
		if d.sending && e.connected && !e.closed {
			d.send(e, now)
		}
		d.receive(e)
	}
}

func (d *demoTraffic) send(e *demoEnd, now time.Time) {
	elapsed := now.Sub(d.sendStart).Seconds()
	for n := 0; n < maxBurst && float64(e.relSent) < elapsed*d.reliableRate; n++ {
		d.buf = appendPayload(d.buf[:0], payloadReliable, e.stream, e.relSent)
		_, r := e.s.SendMessageToConnection(e.conn, d.buf, mist.SendReliable)
		if r == mist.ResultLimitExceeded {
			// The send buffer is full: the schedule waits, nothing is lost.
			e.sendLimitHits++
			break
		}
		if r != mist.ResultOK {
			e.note(fmt.Sprintf("reliable send refused: %v", r))
			break
		}
		e.relSent++
		e.relBytes += uint64(len(d.buf))
	}
	for n := 0; n < maxBurst && float64(e.unrelSent) < elapsed*d.unreliableRate; n++ {
		d.buf = appendPayload(d.buf[:0], payloadUnreliable, e.stream, e.unrelSent)
		_, r := e.s.SendMessageToConnection(e.conn, d.buf, mist.SendUnreliable)
		// Unreliable messages may be dropped locally too (a full queue);
		// they count as sent and, if they never arrive, as lost.
		if r != mist.ResultOK && r != mist.ResultLimitExceeded {
			e.note(fmt.Sprintf("unreliable send refused: %v", r))
			break
		}
		e.unrelSent++
		e.unrelBytes += uint64(len(d.buf))
	}
}

func (e *demoEnd) note(s string) {
	if e.failed == "" {
		e.failed = s
	}
}

func (d *demoTraffic) receive(e *demoEnd) {
	if e.closed {
		return
	}
	for {
		n := e.s.ReceiveMessagesOnConnection(e.conn, d.batch[:])
		for _, m := range d.batch[:max(n, 0)] {
			d.check(e, m.Data)
			m.Release()
		}
		if n < len(d.batch) {
			return
		}
	}
}

// check verifies one received message and files it under its stream.
func (d *demoTraffic) check(at *demoEnd, msg []byte) {
	kind, stream, seq, err := parsePayload(msg)
	if err != nil {
		d.corrupt++
		d.bad(fmt.Sprintf("at %s: %v", at.label, err))
		return
	}
	if at.labelPending && kind == payloadReliable && stream < serverStreamBase {
		at.label = fmt.Sprintf("server->client%d", stream)
		at.peer = int(stream)
		at.labelPending = false
	}
	if first, ok := d.arrivedAt[stream]; !ok {
		d.arrivedAt[stream] = at
	} else if first != at {
		d.misrouted++
		d.bad(fmt.Sprintf("stream %d arrived at both %s and %s", stream, first.label, at.label))
		return
	}
	if kind == payloadReliable {
		t := d.reliable[stream]
		if t == nil {
			t = &reliableTracker{}
			d.reliable[stream] = t
		}
		t.observe(seq)
		return
	}
	t := d.unreliable[stream]
	if t == nil {
		t = &unreliableTracker{}
		d.unreliable[stream] = t
	}
	t.observe(seq)
}

func (d *demoTraffic) bad(s string) {
	if d.firstBad == "" {
		d.firstBad = s
	}
}

// reliableComplete reports whether every reliable message sent so far on a
// working connection has arrived.
func (d *demoTraffic) reliableComplete() bool {
	for _, e := range d.ends {
		if e.relSent == 0 || e.failed != "" {
			continue
		}
		t := d.reliable[e.stream]
		if t == nil || t.next < e.relSent {
			return false
		}
	}
	return true
}

// retransmitPattern finds a retransmission count in a detailed status text,
// whose format is for people, not a contract: absent means unknown.
var retransmitPattern = regexp.MustCompile(`(?i)retransmi\w*\D{0,20}?(\d+)`)

func parseRetransmits(detail string) (int64, bool) {
	m := retransmitPattern.FindStringSubmatch(detail)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// refreshStatus samples every open end's status (and retransmit count).
func (d *demoTraffic) refreshStatus() {
	for _, e := range d.ends {
		if e.closed {
			continue
		}
		if st, r := e.s.ConnectionRealTimeStatus(e.conn, nil); r == mist.ResultOK {
			e.lastStatus, e.haveStatus = st, true
		}
		if text, ok := e.s.DetailedConnectionStatus(e.conn); ok {
			if n, ok := parseRetransmits(text); ok {
				e.retransmits = n
			}
		}
	}
}

// rows lists the ends as client1->server, client2->server, ... then
// server->client1, ... (ends not yet named last).
func (d *demoTraffic) rows() []connRow {
	ends := slices.Clone(d.ends)
	sortKey := func(e *demoEnd) int {
		switch {
		case e.stream < serverStreamBase:
			return int(e.stream)
		case e.labelPending:
			return 2 * serverStreamBase
		}
		return serverStreamBase + e.peer
	}
	slices.SortStableFunc(ends, func(a, b *demoEnd) int { return sortKey(a) - sortKey(b) })
	rows := make([]connRow, 0, len(ends))
	for _, e := range ends {
		r := connRow{name: e.label, state: "closed", qualityLocal: -1, qualityRemote: -1}
		if e.haveStatus {
			st := e.lastStatus
			r = connRow{
				name: e.label, state: st.State.String(), pingMs: st.Ping,
				qualityLocal: st.QualityLocal, qualityRemote: st.QualityRemote,
				outBytes: st.OutBytesPerSec, inBytes: st.InBytesPerSec,
				outPackets: st.OutPacketsPerSec, inPackets: st.InPacketsPerSec,
				sendRate: st.SendRate, pendingRel: st.PendingReliable,
				pendingUnrel: st.PendingUnreliable, unackedRel: st.SentUnackedReliable,
			}
		}
		if e.failed != "" {
			r.state = "failed"
		}
		rows = append(rows, r)
	}
	return rows
}

// demoTotals sums one direction of traffic for the summary.
type demoTotals struct {
	relSent, relReceived, relMissing, relSkipped, relBackwards uint64
	relBytes                                                   uint64
	relInFlight                                                uint64 // of relMissing, still held by a working sender
	unrelSent, unrelReceived, unrelDuplicates, unrelReordered  uint64
	unrelBytes                                                 uint64
	retransmits                                                int64 // -1 unknown
	limitHits                                                  uint64
	problems                                                   []string
}

// totals adds up the ends selected by include.
func (d *demoTraffic) totals(include func(*demoEnd) bool) demoTotals {
	t := demoTotals{}
	known := true
	for _, e := range d.ends {
		if !include(e) {
			continue
		}
		t.relSent += e.relSent
		t.relBytes += e.relBytes
		t.unrelSent += e.unrelSent
		t.unrelBytes += e.unrelBytes
		t.limitHits += e.sendLimitHits
		if e.retransmits < 0 {
			known = false
		} else {
			t.retransmits += e.retransmits
		}
		if rt := d.reliable[e.stream]; rt != nil {
			t.relReceived += rt.received
			t.relSkipped += rt.skipped
			t.relBackwards += rt.backwards
			if rt.firstError != "" {
				t.problems = append(t.problems, fmt.Sprintf("%s: %s", e.label, rt.firstError))
			}
			if rt.next < e.relSent {
				t.relMissing += e.relSent - rt.next
				if e.stillSending() {
					t.relInFlight += e.relSent - rt.next
				}
			}
			if !rt.ok(e.relSent) && rt.firstError == "" {
				t.problems = append(t.problems, fmt.Sprintf("%s: %d of %d reliable messages arrived%s", e.label, rt.received, e.relSent, e.inFlightNote()))
			}
		} else if e.relSent > 0 {
			t.relMissing += e.relSent
			if e.stillSending() {
				t.relInFlight += e.relSent
			}
			t.problems = append(t.problems, fmt.Sprintf("%s: none of %d reliable messages arrived%s", e.label, e.relSent, e.inFlightNote()))
		}
		if ut := d.unreliable[e.stream]; ut != nil {
			t.unrelReceived += ut.received
			t.unrelDuplicates += ut.duplicates
			t.unrelReordered += ut.reordered
		}
	}
	if !known {
		t.retransmits = -1
	}
	sort.Strings(t.problems)
	return t
}

// stillSending reports whether the end's connection works and, at the last
// status, still held reliable data: messages it sent that have not arrived
// may be late rather than lost.
func (e *demoEnd) stillSending() bool {
	return e.failed == "" && e.haveStatus && e.lastStatus.PendingReliable+e.lastStatus.SentUnackedReliable > 0
}

func (e *demoEnd) inFlightNote() string {
	if !e.stillSending() {
		return ""
	}
	return fmt.Sprintf(" (the sender still had %d bytes queued and %d unacknowledged)",
		e.lastStatus.PendingReliable, e.lastStatus.SentUnackedReliable)
}

// reliableOK reports whether every reliable message of these totals arrived
// exactly once, in order and intact.
func (t demoTotals) reliableOK() bool {
	return t.relMissing == 0 && t.relSkipped == 0 && t.relBackwards == 0 && t.relReceived == t.relSent
}
