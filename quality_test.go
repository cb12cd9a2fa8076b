package mist

import (
	"math"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mistnet/mist/internal/endpoint"
	"github.com/mistnet/mist/internal/netsim"
)

// TestRealTimeStatusQuality sends a steady stream of unreliable messages
// over the in-memory network and checks the quality figures: the share of
// the client's packets that reach the server, seen locally by the server
// and reported back to the client, and the traffic rates.
func TestRealTimeStatusQuality(t *testing.T) {
	for _, tc := range []struct {
		name string
		loss float64
		want float64
	}{{"clean", 0, 1}, {"loss20", 20, 0.8}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				network := netsim.NewNetwork(netsim.WithSeed(5))
				client := netip.MustParseAddrPort("10.0.0.2:4000")
				server := netip.MustParseAddrPort("10.0.0.1:27015")
				network.SetLink(client, server, netsim.Faults{LossPct: tc.loss})
				listen := func(a netip.AddrPort) (endpoint.PacketConn, error) { return network.Listen(a) }
				dial := func(netip.AddrPort) (endpoint.PacketConn, error) { return network.Listen(client) }
				p := newUDPPairWith(t, fastOpts, fastOpts, netSeams{listen: listen, dial: dial}, server.Addr())
				p.client.ConnectionRealTimeStatus(p.cconn, nil) // rates count from here
				before, _ := p.server.ConnectionRealTimeStatus(p.sconn, nil)
				if before.QualityLocal != -1 || before.QualityRemote != -1 {
					t.Errorf("quality %v/%v before any interval, want -1", before.QualityLocal, before.QualityRemote)
				}
				// 31 s: past the first quality report (25 s).
				buf := make([]*Message, 64)
				for range 31 * 50 {
					p.client.SendMessageToConnection(p.cconn, make([]byte, 100), SendUnreliableNoDelay)
					time.Sleep(20 * time.Millisecond)
					for n := p.server.ReceiveMessagesOnConnection(p.sconn, buf); n > 0; n = p.server.ReceiveMessagesOnConnection(p.sconn, buf) {
						for _, m := range buf[:n] {
							m.Release()
						}
					}
				}
				sst, _ := p.server.ConnectionRealTimeStatus(p.sconn, nil)
				cst, _ := p.client.ConnectionRealTimeStatus(p.cconn, nil)
				t.Logf("server local %.3f, client remote %.3f, client out %.1f pkt/s", sst.QualityLocal, cst.QualityRemote, cst.OutPacketsPerSec)
				if math.Abs(float64(sst.QualityLocal)-tc.want) > 0.08 {
					t.Errorf("server's local quality %v, want %v", sst.QualityLocal, tc.want)
				}
				if math.Abs(float64(cst.QualityRemote)-tc.want) > 0.08 {
					t.Errorf("client's remote quality %v, want %v", cst.QualityRemote, tc.want)
				}
				// 50 messages a second, one packet each.
				if cst.OutPacketsPerSec < 45 || cst.OutPacketsPerSec > 60 || cst.OutBytesPerSec < 45*100 {
					t.Errorf("client sent %v packets/s, %v bytes/s, want about 50 packets of 100+ bytes", cst.OutPacketsPerSec, cst.OutBytesPerSec)
				}
				if sst.InPacketsPerSec < 50*(1-float32(tc.loss)/100)-8 {
					t.Errorf("server received %v packets/s", sst.InPacketsPerSec)
				}
				if cst.QualityLocal < 0.95 {
					t.Errorf("client's local quality %v on a clean path", cst.QualityLocal)
				}
				// Rates are measured since the previous status call.
				time.Sleep(time.Second)
				cst, _ = p.client.ConnectionRealTimeStatus(p.cconn, nil)
				if cst.OutPacketsPerSec > 5 {
					t.Errorf("%v packets/s out while idle", cst.OutPacketsPerSec)
				}
				p.client.Close()
				p.server.Close()
			})
		})
	}
}

// TestRealTimeStatusJitter checks MaxJitter: unknown unless the peer sends
// its packet spacing, then the largest deviation, which a jittery link
// makes large.
func TestRealTimeStatusJitter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		send      bool
		jitterMax time.Duration
	}{{"not sent", false, 0}, {"smooth", true, 0}, {"jittery", true, 30 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				network := netsim.NewNetwork(netsim.WithSeed(9))
				client := netip.MustParseAddrPort("10.0.0.2:4000")
				server := netip.MustParseAddrPort("10.0.0.1:27015")
				if tc.jitterMax > 0 {
					network.SetLink(client, server, netsim.Faults{JitterAvg: 10 * time.Millisecond, JitterMax: tc.jitterMax, JitterPct: 50})
				}
				listen := func(a netip.AddrPort) (endpoint.PacketConn, error) { return network.Listen(a) }
				dial := func(netip.AddrPort) (endpoint.PacketConn, error) { return network.Listen(client) }
				clientOpts := fastOpts
				if tc.send {
					clientOpts = append([]ConfigValue{Int32Value(OptSendTimeSincePreviousPacket, 1)}, fastOpts...)
				}
				p := newUDPPairWith(t, fastOpts, clientOpts, netSeams{listen: listen, dial: dial}, server.Addr())
				p.server.ConnectionRealTimeStatus(p.sconn, nil) // jitter counts from here
				for range 100 {
					p.client.SendMessageToConnection(p.cconn, []byte("x"), SendUnreliableNoDelay)
					time.Sleep(20 * time.Millisecond)
				}
				st, _ := p.server.ConnectionRealTimeStatus(p.sconn, nil)
				t.Logf("max jitter %v", st.MaxJitter)
				switch {
				case !tc.send && st.MaxJitter >= 0:
					t.Errorf("max jitter %v without the sender's spacing, want unknown", st.MaxJitter)
				case tc.send && tc.jitterMax == 0 && (st.MaxJitter < 0 || st.MaxJitter > time.Millisecond):
					t.Errorf("max jitter %v on a smooth link", st.MaxJitter)
				case tc.jitterMax > 0 && st.MaxJitter < 5*time.Millisecond:
					t.Errorf("max jitter %v on a link adding up to %v", st.MaxJitter, tc.jitterMax)
				}
				// Read and reset: nothing arrived since.
				if st, _ = p.server.ConnectionRealTimeStatus(p.sconn, nil); st.MaxJitter >= 0 {
					t.Errorf("max jitter %v right after a read, want unknown", st.MaxJitter)
				}
				p.client.Close()
				p.server.Close()
			})
		})
	}
}
