package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoadAcrossNodes measures signals between peers on two nodes linked
// by an embedded NATS server, all in this process. It runs only when
// asked:
//
//	MIST_CLUSTER_LOAD=1 go test ./service/cluster -run TestLoadAcrossNodes -v
func TestLoadAcrossNodes(t *testing.T) {
	if os.Getenv("MIST_CLUSTER_LOAD") != "1" {
		t.Skip("set MIST_CLUSTER_LOAD=1 to run the cross-node load test")
	}
	const perNode, rate, seconds = 2000, 5000, 5
	ns := startNATS(t)
	a, addrA := startNode(t, ns.ClientURL(), "a")
	b, addrB := startNode(t, ns.ClientURL(), "b")
	var mu sync.Mutex
	var latencies []time.Duration
	dialAll := func(addr, prefix string) []net.Conn {
		conns := make([]net.Conn, perNode)
		for i := range conns {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			fmt.Fprintf(nc, "str:%s%05d\n", prefix, i)
			conns[i] = nc
			go func() {
				r := bufio.NewReader(nc)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					_, payload, _ := strings.Cut(strings.TrimSpace(line), " ")
					if sent, err := strconv.ParseInt(payload, 16, 64); err == nil {
						mu.Lock()
						latencies = append(latencies, time.Duration(time.Now().UnixNano()-sent))
						mu.Unlock()
					}
				}
			}()
		}
		return conns
	}
	onA := dialAll(addrA, "a")
	dialAll(addrB, "b")
	waitPeers(t, a, perNode)
	waitPeers(t, b, perNode)
	time.Sleep(200 * time.Millisecond) // subscriptions reach NATS

	total := rate * seconds
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var line []byte
	for sent := 0; sent < total; {
		<-tick.C
		due := int(time.Since(start).Seconds()*rate) + 1
		for ; sent < min(due, total); sent++ {
			line = fmt.Appendf(line[:0], "str:b%05d %x\n", sent*7919%perNode, time.Now().UnixNano())
			onA[sent%perNode].Write(line)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	got := slices.Clone(latencies)
	mu.Unlock()
	slices.Sort(got)
	if len(got) == 0 {
		t.Fatal("nothing arrived")
	}
	q := func(p float64) time.Duration { return got[min(len(got)-1, int(p*float64(len(got))))] }
	t.Logf("%d peers per node; %d signals node A → node B in %v (%.0f/s), %d delivered; latency p50 %v p99 %v max %v",
		perNode, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), len(got), q(0.5), q(0.99), got[len(got)-1])
	if len(got) < total*99/100 {
		t.Errorf("only %d of %d delivered", len(got), total)
	}
}
