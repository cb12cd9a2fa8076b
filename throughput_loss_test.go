package mist

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// lossRate is the fixed send rate of the throughput-under-loss runs.
const lossRate = 8_000_000

// countingConn counts the datagram bytes written through it.
type countingConn struct {
	endpoint.PacketConn
	bytes atomic.Int64
}

func (c *countingConn) WriteBatch(ms []endpoint.Packet) (int, error) {
	n, err := c.PacketConn.WriteBatch(ms)
	for _, m := range ms[:n] {
		c.bytes.Add(int64(len(m.Buf)))
	}
	return n, err
}

// lossResult is what one transfer measured after its warm-up.
type lossResult struct {
	delivered, wire int64 // reliable payload delivered; datagram bytes the sender wrote
	elapsed         time.Duration
}

func (r lossResult) goodput() float64 { return float64(r.delivered) / r.elapsed.Seconds() }
func (r lossResult) wirePerDelivered() float64 {
	return float64(r.wire) / max(float64(r.delivered), 1)
}

// runLossTransfer sends 64 KB reliable messages from client to server as
// fast as a fixed 8 MB/s allows, through the in-memory network with
// lossPct % loss and lag in both directions, and measures the data
// delivered in order and the bytes the client put on the wire over
// measure, after warmup. Inside a synctest bubble the time is simulated.
func runLossTransfer(t testing.TB, lossPct float64, lag, warmup, measure time.Duration) lossResult {
	t.Helper()
	net := netsim.NewNetwork(netsim.WithFaults(netsim.Faults{LossPct: lossPct, Lag: lag}), netsim.WithSeed(7),
		netsim.WithQueueLimits(1<<16, 1<<16))
	var client *countingConn
	listen := func(a netip.AddrPort) (endpoint.PacketConn, error) { return net.Listen(a) }
	dial := func(netip.AddrPort) (endpoint.PacketConn, error) {
		c, err := net.Listen(netip.MustParseAddrPort("10.0.0.2:0"))
		if err != nil {
			return nil, err
		}
		client = &countingConn{PacketConn: c}
		return client, nil
	}
	opts := []ConfigValue{
		Int32Value(OptSendRateMin, lossRate),
		Int32Value(OptSendRateMax, lossRate),
		Int32Value(OptSendBufferSize, 4<<20),
	}
	p := newUDPPairWith(t, opts, opts, netSeams{listen: listen, dial: dial}, netip.MustParseAddr("10.0.0.1"))
	defer func() { p.client.Close(); p.server.Close() }()
	msg := make([]byte, 64<<10)
	buf := make([]*Message, 64)
	var res lossResult
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+measure)
	measuring := false
	for now := start; now.Before(end); now = time.Now() {
		if !measuring && !now.Before(measureFrom) {
			measuring = true
			res.delivered, res.wire = 0, client.bytes.Load()
			measureFrom = now
		}
		for {
			if _, r := p.client.SendMessageToConnection(p.cconn, msg, SendReliable); r != ResultOK {
				break
			}
		}
		n := p.server.ReceiveMessagesOnConnection(p.sconn, buf)
		for _, m := range buf[:max(n, 0)] {
			if measuring {
				res.delivered += int64(len(m.Data))
			}
			m.Release()
		}
		if n <= 0 {
			time.Sleep(time.Millisecond)
		}
	}
	res.wire = client.bytes.Load() - res.wire
	res.elapsed = time.Since(measureFrom)
	if info, _ := p.client.ConnectionInfo(p.cconn); info.State != StateConnected {
		t.Fatalf("connection ended: %v %v %s", info.State, info.EndReason, info.EndDebug)
	}
	return res
}

// lossLevels are the loss rates (each way) of the throughput runs.
var lossLevels = []float64{0, 10, 20, 25, 30}

// TestThroughputUnderLoss: with loss in both directions up to 30 %, a
// fixed 8 MB/s still delivers at least (1 − loss) × 80 % of it, and the
// wire carries at most 1.5 bytes per byte delivered. The time is
// simulated, so the figures do not depend on the machine's load.
func TestThroughputUnderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 20 s of transfers")
	}
	for _, loss := range lossLevels {
		t.Run(fmt.Sprintf("loss=%v%%", loss), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := runLossTransfer(t, loss, time.Millisecond, time.Second, 3*time.Second)
				want := (1 - loss/100) * 0.8 * lossRate
				t.Logf("goodput %.2f MB/s (want ≥ %.2f), wire/delivered %.3f", r.goodput()/1e6, want/1e6, r.wirePerDelivered())
				if r.goodput() < want {
					t.Errorf("goodput %.2f MB/s, want at least %.2f MB/s", r.goodput()/1e6, want/1e6)
				}
				if r.wirePerDelivered() > 1.5 {
					t.Errorf("wire/delivered %.3f, want at most 1.5", r.wirePerDelivered())
				}
			})
		})
	}
}

// BenchmarkThroughputUnderLoss runs the same transfers in real time (a
// benchmark cannot run in a synctest bubble) and reports goodput and
// wire/delivered per loss level. Each iteration is one second of
// transfer after half a second of warm-up; run with -benchtime=3x or so.
func BenchmarkThroughputUnderLoss(b *testing.B) {
	for _, loss := range lossLevels {
		b.Run(fmt.Sprintf("loss=%v%%", loss), func(b *testing.B) {
			var total lossResult
			for range b.N {
				r := runLossTransfer(b, loss, time.Millisecond, 500*time.Millisecond, time.Second)
				total.delivered += r.delivered
				total.wire += r.wire
				total.elapsed += r.elapsed
			}
			b.ReportMetric(total.goodput()/1e6, "goodput-MB/s")
			b.ReportMetric(total.goodput()/((1-loss/100)*lossRate), "goodput/ideal")
			b.ReportMetric(total.wirePerDelivered(), "wire/delivered")
		})
	}
}
