package conn

import (
	"bytes"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/reliability"
)

// sinkSession is a reliability session whose messages are dropped back
// into the pool at once, for measuring the receive path.
type sinkSession struct{ replaySession }

func newSinkSession() *sinkSession {
	s := &sinkSession{}
	s.s = reliability.New(reliability.Config{NagleTime: -1})
	return s
}

func (s *sinkSession) Receive(now time.Time, pkt int64, p []byte) error {
	return s.s.Receive(now, pkt, p, func(m reliability.Message) bool {
		bufpool.Put(m.Data)
		return true
	})
}

// BenchmarkReceiveDataPacket feeds encrypted data packets, each carrying one
// 100-byte reliable message, into an established server connection: header
// parse, packet-number expansion, AES-GCM open, SNP decode and delivery.
func BenchmarkReceiveDataPacket(b *testing.B) {
	h := &pairHarness{t: b, now: t0}
	h.l, _ = NewListener(nil)
	var client, server *sinkSession
	ccfg := testConfig(0x11112222, serverAddr, new(*fakeSession))
	ccfg.NewSession = func(uint32, int) Session { client = newSinkSession(); return client }
	h.serverCfg = testConfig(0x33334444, clientAddr, new(*fakeSession))
	h.serverCfg.NewSession = func(uint32, int) Session { server = newSinkSession(); return server }
	h.client, _ = NewClient(h.now, &ccfg)
	h.connect()

	const n = 20000
	pkts := make([][]byte, 0, n)
	payload := make([]byte, 100)
	for len(pkts) < n {
		h.now = h.now.Add(time.Millisecond)
		h.client.Send(h.now, 0, payload, true, true)
		h.client.Service(h.now)
		h.client.Drain(func(p []byte) { pkts = append(pkts, bytes.Clone(p)) })
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(pkts) {
			b.StopTimer()
			break
		}
		h.server.Receive(h.now, pkts[i])
		i++
	}
	if h.server.Stats.Dropped != 0 {
		b.Fatalf("%d packets dropped", h.server.Stats.Dropped)
	}
}
