package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist"
)

// pairTraffic sets up n client/server pairs of in-process connections with
// the demo's traffic on them and runs the send schedule for the given
// simulated time. Pairs deliver at once and never lose anything, which
// makes exact expectations possible.
func pairTraffic(t *testing.T, n int, run time.Duration) (*mist.Sockets, *demoTraffic) {
	t.Helper()
	s, err := mist.New(mist.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := newDemoTraffic(50, 30)
	for i := 1; i <= n; i++ {
		c1, c2, ok := s.CreateSocketPair(false, nil, nil)
		if !ok {
			t.Fatal("CreateSocketPair failed")
		}
		d.add(&demoEnd{s: s, conn: c1, label: "client", stream: uint16(i), connected: true})
		d.add(&demoEnd{s: s, conn: c2, label: "server", stream: uint16(100 + i), connected: true, labelPending: true})
	}
	start := time.Unix(1000, 0)
	d.startSending(start)
	for now := start; !now.After(start.Add(run)); now = now.Add(pollInterval) {
		d.step(now)
	}
	d.stopSending()
	d.step(start.Add(run))
	return s, d
}

func TestDemoTrafficOverSocketPairs(t *testing.T) {
	_, d := pairTraffic(t, 2, 2*time.Second)
	up := d.totals(func(e *demoEnd) bool { return e.stream < 100 })
	down := d.totals(func(e *demoEnd) bool { return e.stream >= 100 })
	for name, tot := range map[string]demoTotals{"up": up, "down": down} {
		// 2 s at 50/s and 30/s on each of 2 connections.
		if tot.relSent != 200 || tot.unrelSent != 120 {
			t.Errorf("%s: sent %d reliable, %d unreliable; want 200, 120", name, tot.relSent, tot.unrelSent)
		}
		if !tot.reliableOK() || tot.relReceived != 200 {
			t.Errorf("%s: reliable not ok: %+v", name, tot)
		}
		if tot.unrelReceived != tot.unrelSent || tot.unrelDuplicates != 0 {
			t.Errorf("%s: unreliable %d of %d, %d duplicates", name, tot.unrelReceived, tot.unrelSent, tot.unrelDuplicates)
		}
	}
	if d.ends[1].label != "server->client1" || d.ends[3].label != "server->client2" {
		t.Errorf("server ends not named after their clients: %q, %q", d.ends[1].label, d.ends[3].label)
	}
	var out bytes.Buffer
	if code := printDemoSummary(&out, demoOptions{}, d, 2*time.Second, false); code != 0 {
		t.Fatalf("summary exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "reliable delivery: OK, all 400 reliable messages") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

// The check must be able to fail: replay, skip or damage a reliable message
// and the summary has to say so.
func TestDemoSummaryCatchesBadDelivery(t *testing.T) {
	for name, inject := range map[string]func(d *demoTraffic, e *demoEnd) []byte{
		"duplicate": func(d *demoTraffic, e *demoEnd) []byte {
			return appendPayload(nil, payloadReliable, e.stream, e.relSent-1)
		},
		"gap": func(d *demoTraffic, e *demoEnd) []byte {
			e.relSent += 2 // claim two more were sent, deliver only the second
			return appendPayload(nil, payloadReliable, e.stream, e.relSent-1)
		},
		"corrupt": func(d *demoTraffic, e *demoEnd) []byte {
			b := appendPayload(nil, payloadReliable, e.stream, e.relSent)
			e.relSent++
			b[len(b)-1] ^= 1
			return b
		},
		"lost": func(d *demoTraffic, e *demoEnd) []byte {
			e.relSent++ // "sent", never delivered
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, d := pairTraffic(t, 1, 500*time.Millisecond)
			client := d.ends[0]
			if b := inject(d, client); b != nil {
				if _, r := s.SendMessageToConnection(client.conn, b, mist.SendReliable); r != mist.ResultOK {
					t.Fatal(r)
				}
			}
			d.step(time.Unix(2000, 0))
			var out bytes.Buffer
			if code := printDemoSummary(&out, demoOptions{}, d, time.Second, false); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out.String())
			}
			if !strings.Contains(out.String(), "reliable delivery: FAILED") {
				t.Fatalf("summary:\n%s", out.String())
			}
		})
	}
}

func TestParseRetransmits(t *testing.T) {
	for text, want := range map[string]int64{
		"Sent: 10 packets\nRetransmitted: 42 segments\n": 42,
		"retransmits=7":                         7,
		"Reliable retransmissions: 0 (0 bytes)": 0,
	} {
		if got, ok := parseRetransmits(text); !ok || got != want {
			t.Errorf("%q: got %d, %v; want %d", text, got, ok, want)
		}
	}
	if _, ok := parseRetransmits("Sent: 3 messages, 120 bytes\n"); ok {
		t.Error("found a retransmit count where there is none")
	}
}

func TestDemoSummaryNothingSent(t *testing.T) {
	d := newDemoTraffic(50, 30)
	d.add(&demoEnd{label: "client1->server", stream: 1, failed: "ProblemDetectedLocally (5003): Timed out attempting to connect"})
	var out bytes.Buffer
	if code := printDemoSummary(&out, demoOptions{}, d, time.Second, false); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out.String())
	}
	for _, want := range []string{"connections: FAILED", "client1->server: ProblemDetectedLocally (5003)", "reliable delivery: NOT CHECKED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// Messages a working sender still holds when the wait ends are reported as
// in flight, not as lost; the run still fails.
func TestDemoSummaryInFlight(t *testing.T) {
	_, d := pairTraffic(t, 1, 500*time.Millisecond)
	client := d.ends[0]
	client.relSent += 3 // "sent", not delivered yet
	client.haveStatus = true
	client.lastStatus.PendingReliable = 2000
	var out bytes.Buffer
	if code := printDemoSummary(&out, demoOptions{}, d, time.Second, false); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out.String())
	}
	for _, want := range []string{"reliable delivery: INCOMPLETE, 3 messages still in flight", "the sender still had 2000 bytes queued"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	// Without data left at the sender, the same shortfall is a loss.
	client.lastStatus.PendingReliable = 0
	out.Reset()
	printDemoSummary(&out, demoOptions{}, d, time.Second, false)
	if !strings.Contains(out.String(), "reliable delivery: FAILED, 3 missing") {
		t.Errorf("shortfall without data in flight not reported as missing:\n%s", out.String())
	}
}
