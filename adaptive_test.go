package mist

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/netsim"
)

// With SendRateMin < SendRateMax the send rate adapts to the path. Over a
// 50 ms round trip GNS's connect-time estimate (4380 bytes per RTT) is below
// the 64 KiB/s minimum, so a fixed-rate sender would need 40 s for this
// transfer; the adaptive one climbs far above the minimum and takes a few.
func TestAdaptiveRateClimbs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	opts := []ConfigValue{
		Int32Value(OptSendRateMin, 64<<10),
		Int32Value(OptSendRateMax, 64<<20),
		Int32Value(OptSendBufferSize, 4<<20),
	}
	lag := withFaultyUDP(netsim.Faults{Lag: 25 * time.Millisecond}, 3)
	p := newUDPPairWith(t, opts, opts, lag, netip.MustParseAddr("127.0.0.1"))
	const count, size = 40, 64 << 10 // 2.5 MiB: 40 s at 64 KiB/s
	start := time.Now()
	sent, got, peak := 0, 0, 0
	buf := make([]*Message, 16)
	waitFor(t, "the transfer", func() bool {
		for sent < count {
			if _, r := p.client.SendMessageToConnection(p.cconn, lossyPayload(sent, size), SendReliable); r != ResultOK {
				break
			}
			sent++
		}
		if st, r := p.client.ConnectionRealTimeStatus(p.cconn, nil); r == ResultOK {
			peak = max(peak, st.SendRate)
		}
		n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
		for _, m := range buf[:max(n, 0)] {
			if !bytes.Equal(m.Data, lossyPayload(got, size)) {
				t.Fatalf("message %d damaged or out of order", got)
			}
			got++
			m.Release()
		}
		return got == count
	}, p.server, p.client)
	took := time.Since(start)
	t.Logf("%d KiB in %v, peak send rate %d B/s", count*size>>10, took, peak)
	if peak < 1<<20 {
		t.Errorf("send rate peaked at %d B/s: it never left the 64 KiB/s minimum's neighbourhood", peak)
	}
	if took > 20*time.Second {
		t.Errorf("transfer took %v: no faster than a fixed minimum rate", took)
	}
}

// A sender of unreliable messages alone hears acks only when it asks for
// them, so its rate can only climb if those requests actually go out.
func TestAdaptiveRateClimbsUnreliable(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	opts := []ConfigValue{
		Int32Value(OptSendRateMin, 64<<10),
		Int32Value(OptSendRateMax, 64<<20),
	}
	lag := withFaultyUDP(netsim.Faults{Lag: 5 * time.Millisecond}, 3)
	p := newUDPPairWith(t, opts, opts, lag, netip.MustParseAddr("127.0.0.1"))
	msg := make([]byte, 1000)
	buf := make([]*Message, 64)
	peak := 0
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && peak < 4<<20 {
		for {
			if _, r := p.client.SendMessageToConnection(p.cconn, msg, SendUnreliable); r != ResultOK {
				break
			}
		}
		for p.server.ReceiveMessagesOnConnection(p.sconn, buf) > 0 {
			for _, m := range buf {
				if m != nil {
					m.Release()
				}
			}
			clear(buf)
		}
		if st, r := p.client.ConnectionRealTimeStatus(p.cconn, nil); r == ResultOK {
			peak = max(peak, st.SendRate)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("peak send rate %d B/s", peak)
	if peak < 4<<20 {
		t.Errorf("send rate peaked at %d B/s within 3 s; want at least 4 MiB/s", peak)
	}
}
