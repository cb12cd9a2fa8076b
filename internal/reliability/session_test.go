package reliability

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/snp"
)

var t0 = time.Unix(1_000_000, 0)

// pair is two sessions wired back to back with no loss, driven by hand.
type pair struct {
	t       testing.TB
	s       [2]*Session
	next    [2]int64
	got     [2][]Message
	refuse  [2]bool                        // deliver returns false while set
	drop    func(from int, pkt int64) bool // drop a packet in flight
	packets [2]int
}

func newPair(t testing.TB, cfgA, cfgB Config) *pair {
	return &pair{t: t, s: [2]*Session{New(cfgA), New(cfgB)}, next: [2]int64{2, 2}}
}

func (p *pair) deliver(i int) func(Message) bool {
	return func(m Message) bool {
		if p.refuse[i] {
			return false
		}
		p.got[i] = append(p.got[i], m)
		return true
	}
}

// flow moves every packet that is due from side i to the other side.
func (p *pair) flow(now time.Time, i int) error {
	for range 1000 {
		buf, ok := p.s[i].AppendPacket(nil, now, p.next[i], 1232, true)
		if !ok {
			return nil
		}
		num := p.next[i]
		p.next[i]++
		p.packets[i]++
		if p.drop != nil && p.drop(i, num) {
			continue
		}
		if err := p.s[1-i].Receive(now, num, buf, p.deliver(1-i)); err != nil {
			return err
		}
	}
	p.t.Fatal("side keeps sending")
	return nil
}

// run advances time in steps, exchanging packets, until d has passed.
func (p *pair) run(now time.Time, d, step time.Duration) time.Time {
	for end := now.Add(d); !now.After(end); now = now.Add(step) {
		for i := range 2 {
			if err := p.flow(now, i); err != nil {
				p.t.Fatalf("side %d: %v", 1-i, err)
			}
		}
	}
	return now
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestFirstPacketGolden: example A, built by a Session, with Nagle.
func TestFirstPacketGolden(t *testing.T) {
	s := New(Config{})
	num, err := s.Send(t0, 0, []byte("hello"), SendReliable)
	if err != nil || num != 1 {
		t.Fatalf("Send = %d, %v", num, err)
	}
	if _, ok := s.AppendPacket(nil, t0, 2, 1232, true); ok {
		t.Fatal("packet sent before the Nagle time")
	}
	if d := s.NextDeadline(); !d.Equal(t0.Add(5 * time.Millisecond)) {
		t.Fatalf("NextDeadline = %v after send, want +5ms", d.Sub(t0))
	}
	if got := s.PendingReliable(); got != 6 {
		t.Errorf("PendingReliable = %d, want 6 (header + 5)", got)
	}
	pkt, ok := s.AppendPacket(nil, t0.Add(5*time.Millisecond), 2, 1232, true)
	want := mustHex("8001" + "980100ffff" + "57010000000000" + "0568656c6c6f")
	if !ok || !bytes.Equal(pkt, want) {
		t.Fatalf("packet %x, want %x", pkt, want)
	}
	if s.PendingReliable() != 0 || s.SentUnacked() != 6 {
		t.Errorf("after send: pending %d, unacked %d", s.PendingReliable(), s.SentUnacked())
	}
}

// TestSplitMessage: example D. A 2000-byte message after a reliable and an
// unreliable one goes out as a 1137-byte capped segment ending its packet,
// then the remaining 866 bytes.
func TestSplitMessage(t *testing.T) {
	p := newPair(t, Config{}, Config{})
	a := p.s[0]
	a.Send(t0, 0, []byte("hello"), SendReliable|SendNoNagle)
	a.Send(t0, 0, []byte("ping"), SendUnreliable|SendNoNagle)
	now := p.run(t0, 0, time.Millisecond)
	body := make([]byte, 2000)
	for i := range body {
		body[i] = byte(i)
	}
	if n, _ := a.Send(now, 0, body, SendReliable); n != 3 {
		t.Fatalf("message number %d, want 3", n)
	}
	pkt, ok := a.AppendPacket(nil, now, p.next[0], 1232, true)
	if !ok {
		t.Fatal("a full packet's worth is pending: it should go at once")
	}
	// stop-waiting (2) + ack (5) + reliable header 57 + 48-bit position 7.
	seg := pkt[2+5:]
	if len(pkt) != 1151 || !bytes.Equal(seg[:7], mustHex("57070000000000")) || !bytes.Equal(seg[7:10], mustHex("70023e")) {
		t.Fatalf("first packet: %d bytes, segment starts %x", len(pkt), seg[:10])
	}
	p.next[0]++
	pkt2, ok := a.AppendPacket(nil, now.Add(5*time.Millisecond), p.next[0], 1232, true)
	if !ok {
		t.Fatal("rest not sent at the Nagle time")
	}
	seg = pkt2[len(pkt2)-866-7:]
	if len(pkt2) != 880 || !bytes.Equal(seg[:7], mustHex("57780400000000")) || !bytes.Equal(seg[7:], body[1134:]) {
		t.Fatalf("second packet: %d bytes, segment %x...", len(pkt2), seg[:7])
	}
	// Delivered whole, second packet first.
	b := p.s[1]
	if err := b.Receive(now, p.next[0], pkt2, p.deliver(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Receive(now, p.next[0]-1, pkt, p.deliver(1)); err != nil {
		t.Fatal(err)
	}
	got := p.got[1]
	if len(got) != 3 || got[2].Num != 3 || !bytes.Equal(got[2].Data, body) || got[1].Reliable || got[1].Num != 2 {
		t.Fatalf("delivered %d messages: %+v", len(got), got)
	}
}

// TestMessageNumberJump: more than a million unreliable messages between
// two reliable ones (all of them lost here) do not end the connection.
func TestMessageNumberJump(t *testing.T) {
	p := newPair(t, Config{NagleTime: -1}, Config{NagleTime: -1})
	a := p.s[0]
	a.Send(t0, 0, []byte("first"), SendReliable)
	now := p.run(t0, 0, time.Millisecond)
	const jump = 1_200_000
	lost := true
	p.drop = func(int, int64) bool { return lost }
	for sent := 0; sent < jump; {
		for range 2000 {
			if _, err := a.Send(now, 0, []byte{1}, SendUnreliable); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		if err := p.flow(now, 0); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Millisecond)
	}
	lost = false
	a.Send(now, 0, []byte("second"), SendReliable)
	a.Send(now, 0, []byte("third"), SendUnreliable)
	p.run(now, 100*time.Millisecond, time.Millisecond)
	got := p.got[1]
	if len(got) != 3 {
		t.Fatalf("delivered %d messages, want 3", len(got))
	}
	if got[1].Num != jump+2 || string(got[1].Data) != "second" || got[2].Num != jump+3 {
		t.Fatalf("after the jump: #%d %q, #%d", got[1].Num, got[1].Data, got[2].Num)
	}
}

func endReason(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.EndReason
	}
	return 0
}

// TestReceiveLimits: a peer exceeding a limit either ends the connection
// with GNS's end reason or has its packet left unacknowledged, as GNS does.
func TestReceiveLimits(t *testing.T) {
	t.Run("RecvMaxMessageSize reliable", func(t *testing.T) {
		p := newPair(t, Config{NagleTime: -1}, Config{RecvMaxMessageSize: 1000})
		p.s[0].Send(t0, 0, make([]byte, 1001), SendReliable)
		if err := p.flow(t0, 0); endReason(err) != EndMiscInternalError {
			t.Fatalf("got %v, want end reason 5002", err)
		}
	})
	t.Run("RecvMaxMessageSize unreliable", func(t *testing.T) {
		p := newPair(t, Config{NagleTime: -1}, Config{RecvMaxMessageSize: 1000})
		p.s[0].Send(t0, 0, make([]byte, 1000), SendUnreliable)
		if err := p.flow(t0, 0); err != nil {
			t.Fatalf("at the limit: %v", err)
		}
		p.s[0].Send(t0, 0, make([]byte, 1100), SendUnreliable)
		if err := p.flow(t0, 0); endReason(err) != EndMiscInternalError {
			t.Fatalf("got %v, want end reason 5002", err)
		}
	})
	t.Run("RecvBufferSize message", func(t *testing.T) {
		p := newPair(t, Config{NagleTime: -1}, Config{RecvBufferSize: 4096})
		p.s[0].Send(t0, 0, make([]byte, 5000), SendReliable)
		if err := p.flow(t0, 0); endReason(err) != EndMiscInternalError {
			t.Fatalf("got %v, want end reason 5002", err)
		}
	})
	t.Run("RecvBufferSize stream", func(t *testing.T) {
		// A segment far beyond the buffer is refused: not acked, no error.
		b := New(Config{RecvBufferSize: 4096})
		var w snp.Writer
		pkt := snp.AppendStopWaiting(nil, 2, 0)
		pkt = w.AppendReliable(pkt, 5000, []byte{1, 2, 3}, true)
		if err := b.Receive(t0, 2, pkt, func(Message) bool { return true }); err != nil {
			t.Fatal(err)
		}
		if b.alreadyReceived(2) || b.nextRecv != 2 {
			t.Fatal("refused packet recorded as received")
		}
		if b.ackDue.IsZero() {
			t.Fatal("no ack flush scheduled after a refusal")
		}
	})
	t.Run("RecvMaxSegmentsPerPacket", func(t *testing.T) {
		b := New(Config{RecvMaxSegmentsPerPacket: 2})
		var w snp.Writer
		pkt := snp.AppendStopWaiting(nil, 2, 0)
		for i, m := range []string{"a", "b", "c"} {
			hdr := snp.AppendMessageHeader(nil, snp.MessageHeader{NumGap: 1, Size: 1})
			pkt = w.AppendReliable(pkt, int64(1+2*i), append(hdr, m...), i == 2)
		}
		var got []string
		if err := b.Receive(t0, 2, pkt, func(m Message) bool { got = append(got, string(m.Data)); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || b.alreadyReceived(2) {
			t.Fatalf("delivered %q, recorded %v; want the first two and the packet not acked", got, b.alreadyReceived(2))
		}
	})
	t.Run("RecvBufferMessages", func(t *testing.T) {
		// The application queue is full: the packet is not acked, the
		// sender retransmits, and the message arrives once when there is room.
		p := newPair(t, Config{NagleTime: -1}, Config{})
		p.refuse[1] = true
		p.s[0].Send(t0, 0, []byte("queued"), SendReliable)
		now := p.run(t0, 300*time.Millisecond, time.Millisecond)
		if len(p.got[1]) != 0 || p.s[0].SentUnacked() == 0 {
			t.Fatalf("refused message was acked or delivered")
		}
		p.refuse[1] = false
		p.run(now, 2*time.Second, time.Millisecond)
		if len(p.got[1]) != 1 || string(p.got[1][0].Data) != "queued" || p.s[0].SentUnacked() != 0 {
			t.Fatalf("after room: %d delivered, %d unacked", len(p.got[1]), p.s[0].SentUnacked())
		}
	})
	t.Run("stop-waiting lowered", func(t *testing.T) {
		b := New(Config{})
		if err := b.Receive(t0, 10, snp.AppendStopWaiting(nil, 10, 0), nil); err != nil {
			t.Fatal(err)
		}
		b.Receive(t0, 11, snp.AppendStopWaiting(nil, 11, 9), nil)
		if err := b.Receive(t0, 12, snp.AppendStopWaiting(nil, 12, 5), nil); endReason(err) != EndMiscInternalError {
			t.Fatalf("got %v, want 5002", err)
		}
	})
	t.Run("bad frame", func(t *testing.T) {
		b := New(Config{})
		if err := b.Receive(t0, 2, []byte{0x80, 0x00, 0x60}, nil); endReason(err) != EndMiscInternalError {
			t.Fatalf("got %v, want 5002", err)
		}
	})
}

func TestSendErrors(t *testing.T) {
	s := New(Config{SendBufferSize: 10000})
	if _, err := s.Send(t0, 1, []byte("x"), SendReliable); err != ErrInvalidParam {
		t.Errorf("unknown lane: %v", err)
	}
	if _, err := s.Send(t0, 0, make([]byte, MaxMessageSize+1), SendReliable); err != ErrInvalidParam {
		t.Errorf("too big: %v", err)
	}
	if _, err := s.Send(t0, 0, make([]byte, 9000), SendReliable); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(t0, 0, make([]byte, 1000), SendUnreliable); err != ErrLimitExceeded {
		t.Errorf("past SendBufferSize: %v", err)
	}
	if s.PendingUnreliable() != 0 || s.PendingReliable() != 9003 {
		t.Errorf("pending %d/%d", s.PendingReliable(), s.PendingUnreliable())
	}
	// The check counts payload bytes only, as GNS does: a message of the
	// maximum size fits an empty buffer of the default size (512 KiB), and
	// then nothing more does.
	d := New(Config{})
	if _, err := d.Send(t0, 0, make([]byte, MaxMessageSize), SendReliable); err != nil {
		t.Fatalf("512 KiB message with the default send buffer: %v", err)
	}
	if _, err := d.Send(t0, 0, []byte("x"), SendReliable); err != ErrLimitExceeded {
		t.Errorf("one byte past a full default buffer: %v", err)
	}
	// Unreliable messages over 16500 bytes go reliable.
	p := newPair(t, Config{NagleTime: -1}, Config{})
	p.s[0].Send(t0, 0, make([]byte, MaxUnreliableSize+1), SendUnreliable)
	p.run(t0, 100*time.Millisecond, time.Millisecond)
	if len(p.got[1]) != 1 || !p.got[1][0].Reliable {
		t.Fatalf("large unreliable message: %+v", p.got[1])
	}
}

func TestNagleAndFlush(t *testing.T) {
	s := New(Config{})
	s.Send(t0, 0, []byte("a"), SendReliable)
	s.Send(t0.Add(2*time.Millisecond), 0, []byte("b"), SendReliable)
	if d := s.NextDeadline(); !d.Equal(t0.Add(5 * time.Millisecond)) {
		t.Errorf("deadline %v: the first message's Nagle time rules", d.Sub(t0))
	}
	now := t0.Add(3 * time.Millisecond)
	s.Flush(now)
	if _, ok := s.AppendPacket(nil, now, 2, 1232, true); !ok {
		t.Error("nothing sent after Flush")
	}
	s.Send(now, 0, []byte("c"), SendReliable)
	s.Send(now, 0, []byte("d"), SendReliable|SendNoNagle)
	pkt, ok := s.AppendPacket(nil, now, 3, 1232, true)
	if !ok || !bytes.Contains(pkt, []byte("c")) || !bytes.Contains(pkt, []byte("d")) {
		t.Errorf("NoNagle did not flush the queue: %x", pkt)
	}
	// Without data allowed, only a due ack makes a packet.
	s.Send(now, 0, []byte("e"), SendReliable|SendNoNagle)
	if _, ok := s.AppendPacket(nil, now, 4, 1232, false); ok {
		t.Error("packet built with data disallowed and no ack due")
	}
}

func TestLanes(t *testing.T) {
	p := newPair(t, Config{NagleTime: -1}, Config{})
	a := p.s[0]
	if err := a.ConfigureLanes([]int{0, 0, 1}, []int{1, 3, 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.ConfigureLanes([]int{0}, nil); err != ErrInvalidParam {
		t.Errorf("shrinking lanes: %v", err)
	}
	for lane := range 3 {
		for i := range 3 {
			a.Send(t0, lane, []byte{byte(lane), byte(i)}, SendReliable)
		}
		a.Send(t0, lane, []byte{byte(lane), 9}, SendUnreliable)
	}
	pkt, ok := a.AppendPacket(nil, t0, 2, 1232, true)
	if !ok || !bytes.Contains(pkt, []byte{0x88}) || !bytes.Contains(pkt, []byte{0x89}) {
		t.Fatalf("packet lacks select-lane frames: %x", pkt)
	}
	if err := p.s[1].Receive(t0, 2, pkt, p.deliver(1)); err != nil {
		t.Fatal(err)
	}
	perLane := map[int][]int64{}
	for _, m := range p.got[1] {
		if int(m.Data[0]) != m.Lane {
			t.Errorf("message %x delivered on lane %d", m.Data, m.Lane)
		}
		perLane[m.Lane] = append(perLane[m.Lane], m.Num)
	}
	for lane := range 3 {
		if got := perLane[lane]; len(got) != 4 || got[0] != 1 || got[3] != 4 {
			t.Errorf("lane %d numbers %v, want 1..4", lane, got)
		}
	}
}

// TestLanePriority: a lower priority value is served first.
func TestLanePriority(t *testing.T) {
	s := New(Config{NagleTime: -1})
	s.ConfigureLanes([]int{5, 1}, nil)
	big := make([]byte, 3000)
	s.Send(t0, 0, big, SendReliable)
	s.Send(t0, 1, big, SendReliable)
	pkt, _ := s.AppendPacket(nil, t0, 2, 1232, true)
	var r snp.Reader
	r.Reset(pkt, 2, 0, New(Config{}))
	for {
		f, err := r.Next()
		if err != nil {
			t.Fatal("no segment")
		}
		if f.Type == snp.FrameReliable {
			if f.Lane != 1 {
				t.Fatalf("first data from lane %d, want the priority-1 lane", f.Lane)
			}
			return
		}
	}
}

// TestUnreliableReassembly feeds fragments out of order, duplicated, and
// past the 20-fragment cap.
func TestUnreliableReassembly(t *testing.T) {
	b := New(Config{})
	var got []Message
	deliver := func(m Message) bool { got = append(got, m); return true }
	pktNum := int64(2)
	frag := func(num int64, off int, end bool, data []byte) {
		var w snp.Writer
		pkt := snp.AppendStopWaiting(nil, pktNum, 0)
		pkt = w.AppendUnreliable(pkt, num, off, end, data, true)
		if err := b.Receive(t0, pktNum, pkt, deliver); err != nil {
			t.Fatal(err)
		}
		pktNum++
	}
	msg := make([]byte, 3000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	frag(5, 2000, true, msg[2000:])
	frag(5, 0, false, msg[:1000])
	frag(5, 0, false, msg[:1000]) // duplicate fragment
	if len(got) != 0 {
		t.Fatal("delivered before complete")
	}
	frag(5, 1000, false, msg[1000:2000])
	if len(got) != 1 || !bytes.Equal(got[0].Data, msg) || got[0].Num != 5 || got[0].Reliable {
		t.Fatalf("reassembled %+v", got)
	}
	// Past the cap, every fragment of the lowest-numbered message goes.
	for i := range 21 {
		frag(int64(10+i), 100, true, []byte{1})
	}
	frag(40, 0, false, make([]byte, 100))
	for _, f := range b.recvLanes[0].frags {
		if f.num == 10 {
			t.Fatal("message 10 kept its fragment past the cap")
		}
	}
	if n := len(b.recvLanes[0].frags); n != 21 {
		t.Fatalf("%d fragments held", n)
	}
	// Message 30 kept its fragment and completes with 101 bytes.
	frag(30, 0, false, make([]byte, 100))
	if len(got) != 2 || got[1].Num != 30 || len(got[1].Data) != 101 {
		t.Fatalf("message 30: %d delivered", len(got))
	}
}

// TestAcksAndPing: acks retire sent data and yield a round-trip time.
func TestAcksAndPing(t *testing.T) {
	p := newPair(t, Config{NagleTime: -1}, Config{})
	p.s[0].Send(t0, 0, make([]byte, 5000), SendReliable)
	if err := p.flow(t0, 0); err != nil {
		t.Fatal(err)
	}
	if p.s[0].SentUnacked() == 0 {
		t.Fatal("nothing in flight")
	}
	now := t0.Add(50 * time.Millisecond) // the receiver's ack deadline
	if err := p.flow(now, 1); err != nil {
		t.Fatal(err)
	}
	// The packets took no time on the wire: the 50 ms the receiver held
	// its ack is reported as the ack delay and taken off the sample.
	ping, ok := p.s[0].Ping()
	if !ok || ping > time.Millisecond {
		t.Errorf("ping %v, %v; want about 0", ping, ok)
	}
	if p.s[0].SentUnacked() != 0 {
		t.Errorf("%d bytes unacked after the ack", p.s[0].SentUnacked())
	}
}

// TestRetransmitOnLoss: a lost packet's data is resent after the RTO.
func TestRetransmitOnLoss(t *testing.T) {
	p := newPair(t, Config{NagleTime: -1}, Config{})
	first := true
	p.drop = func(from int, _ int64) bool {
		if from == 0 && first {
			first = false
			return true
		}
		return false
	}
	p.s[0].Send(t0, 0, []byte("lost once"), SendReliable)
	p.run(t0, 1500*time.Millisecond, time.Millisecond)
	if len(p.got[1]) != 1 || string(p.got[1][0].Data) != "lost once" {
		t.Fatalf("got %+v", p.got[1])
	}
}

// BenchmarkRoundTrip: one message through two sessions, and the ack back.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(map[int]string{100: "100B", 1000: "1000B"}[size], func(b *testing.B) {
			x, y := New(Config{NagleTime: -1}), New(Config{})
			data := make([]byte, size)
			buf := make([]byte, 0, 1500)
			deliver := func(m Message) bool { bufpool.Put(m.Data); return true }
			now := t0
			nx, ny := int64(2), int64(2)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				now = now.Add(100 * time.Microsecond)
				x.Send(now, 0, data, SendReliable)
				pkt, _ := x.AppendPacket(buf[:0], now, nx, 1232, true)
				nx++
				if err := y.Receive(now, nx-1, pkt, deliver); err != nil {
					b.Fatal(err)
				}
				y.RequestAck(now, true)
				ack, _ := y.AppendPacket(buf[:0], now, ny, 1232, true)
				ny++
				if err := x.Receive(now, ny-1, ack, deliver); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A sender asks for an immediate ack once per ackRequestEvery bytes of data,
// so a peer that delays its acks keeps the send window moving.
func TestAckRequestDueEveryWindowShare(t *testing.T) {
	s := New(Config{NagleTime: -1, SendBufferSize: 4 << 20})
	if s.AckRequestDue() {
		t.Fatal("ack request due before anything was sent")
	}
	for range 4 {
		if _, err := s.Send(t0, 0, make([]byte, 100_000), SendReliable); err != nil {
			t.Fatal(err)
		}
	}
	requests, sent := 0, 0
	buf := make([]byte, 0, 1300)
	for pkt := int64(2); sent < 2*ackRequestEvery; pkt++ {
		out, ok := s.AppendPacket(buf[:0], t0, pkt, 1232, true)
		if !ok {
			t.Fatalf("no packet after %d bytes", sent)
		}
		sent += len(out)
		if s.AckRequestDue() {
			if !s.AckRequestDue() {
				t.Fatal("asking whether a request is due consumed it")
			}
			requests++
			s.AckRequestSent()
		}
	}
	if requests != 1 && requests != 2 {
		t.Fatalf("%d ack requests over %d bytes, want one per %d", requests, sent, ackRequestEvery)
	}
	if s.AckRequestDue() {
		t.Fatal("a second request right after the first")
	}
}

// With LendUnreliable a whole unreliable message is lent straight from the
// packet; fragments and reliable messages are still given.
func TestLendUnreliable(t *testing.T) {
	a := New(Config{NagleTime: -1})
	b := New(Config{LendUnreliable: true})
	small := []byte("lent, not copied")
	big := bytes.Repeat([]byte{7}, 3000) // two fragments
	for _, m := range []struct {
		data  []byte
		flags int
	}{{small, SendUnreliable}, {big, SendUnreliable}, {small, SendReliable}} {
		if _, err := a.Send(t0, 0, m.data, m.flags); err != nil {
			t.Fatal(err)
		}
	}
	type got struct {
		data     string
		lent     bool
		reliable bool
	}
	var seen []got
	for pkt := int64(2); ; pkt++ {
		buf, ok := a.AppendPacket(nil, t0, pkt, 1232, true)
		if !ok {
			break
		}
		err := b.Receive(t0, pkt, buf, func(m Message) bool {
			seen = append(seen, got{string(m.Data), m.Lent, m.Reliable})
			if !m.Lent {
				bufpool.Put(m.Data)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		clear(buf) // a lent message must not be read after deliver returns
	}
	want := []got{{string(small), true, false}, {string(big), false, false}, {string(small), false, true}}
	if !slices.Equal(seen, want) {
		t.Fatalf("delivered %v, want %v", seen, want)
	}

	// A refused lent message refuses its packet, as a given one does.
	if _, err := a.Send(t0, 0, small, SendUnreliable); err != nil {
		t.Fatal(err)
	}
	buf, _ := a.AppendPacket(nil, t0, 10, 1232, true)
	if err := b.Receive(t0, 10, buf, func(Message) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if b.alreadyReceived(10) {
		t.Fatal("a packet whose lent message was refused was recorded as received")
	}
}
