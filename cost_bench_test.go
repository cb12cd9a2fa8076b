package mist

import (
	"context"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// What a connection costs: the handshake rate of many clients against one
// listen socket over loopback UDP, and the heap and CPU an idle connection
// holds. Both ends run in this process, so per-connection figures divide by
// every connection, client and server side alike.

const (
	costClientsPerInstance = 1000 // client connections per Sockets
	costDialWindow         = 256  // handshakes in flight at once
)

// costServer accepts every connection request on a loopback listen socket.
type costServer struct {
	sockets *Sockets
	addr    netip.AddrPort
	cancel  context.CancelFunc
}

func newCostServer(b *testing.B) *costServer {
	b.Helper()
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := s.Events(ctx)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), freeUDPPort(b))
	if s.CreateListenSocketIP(addr) == InvalidListenSocket {
		cancel()
		s.Close()
		b.Fatalf("cannot listen on %v", addr)
	}
	go func() {
		for ev := range events {
			if ch, ok := ev.(*ConnStatusChanged); ok && ch.Info.State == StateConnecting && ch.Info.ListenSocket != 0 {
				s.AcceptConnection(ch.Conn)
			}
		}
	}()
	return &costServer{sockets: s, addr: addr, cancel: cancel}
}

func (c *costServer) close() {
	c.cancel()
	c.sockets.Close()
}

type costClient struct {
	sockets *Sockets
	conn    Conn
}

// dialMany connects n clients to addr, at most costDialWindow at a time,
// and fails the benchmark if any connection ends instead.
func dialMany(b *testing.B, addr netip.AddrPort, n int) ([]*Sockets, []costClient) {
	b.Helper()
	var instances []*Sockets
	clients := make([]costClient, 0, n)
	var pending []costClient
	deadline := time.Now().Add(time.Duration(n)*10*time.Millisecond + 30*time.Second)
	for up := 0; up < n; {
		for len(pending) < costDialWindow && len(clients) < n {
			if len(clients)%costClientsPerInstance == 0 {
				s, err := New(Config{})
				if err != nil {
					b.Fatal(err)
				}
				instances = append(instances, s)
			}
			s := instances[len(instances)-1]
			h := s.ConnectByIPAddress(addr)
			if h == InvalidConn {
				b.Fatalf("connection %d failed to start", len(clients))
			}
			clients = append(clients, costClient{s, h})
			pending = append(pending, costClient{s, h})
		}
		still := pending[:0]
		for _, c := range pending {
			info, ok := c.sockets.ConnectionInfo(c.conn)
			switch {
			case ok && info.State == StateConnected:
				up++
			case !ok || info.State == StateClosedByPeer || info.State == StateProblemDetectedLocally:
				b.Fatalf("%d of %d connected; one ended: %s", up, n, info.EndDebug)
			default:
				still = append(still, c)
			}
		}
		pending = still
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d connected before the deadline", up, n)
		}
		if len(pending) > 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	return instances, clients
}

func closeAll(instances []*Sockets) {
	for _, s := range instances {
		s.Close()
	}
}

// BenchmarkHandshakes connects b.N clients to one server over loopback UDP
// and reports completed handshakes per second (each includes key
// generation, signing and verification on both ends).
func BenchmarkHandshakes(b *testing.B) {
	srv := newCostServer(b)
	defer srv.close()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	instances, _ := dialMany(b, srv.addr, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	closeAll(instances)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "handshakes/s")
}

// idleConnections is how many client connections the idle benchmarks hold
// (as many again on the server side).
const idleConnections = 2000

// BenchmarkIdleConnection holds idleConnections connected clients against
// one server and reports the heap each connection keeps after GC
// (heap-B/conn, client and server side each count as one connection) and
// the process CPU the idle connections use, as a percentage of one core,
// scaled to 10,000 connections (cpu-%/10k-conns). Each iteration measures
// one idle second.
func BenchmarkIdleConnection(b *testing.B) {
	runtime.GC()
	before := heapInUse()
	srv := newCostServer(b)
	defer srv.close()
	instances, _ := dialMany(b, srv.addr, idleConnections)
	defer closeAll(instances)
	conns := 2 * idleConnections
	// Let the handshake's leftovers (queued acks, first keepalives) settle.
	time.Sleep(time.Second)
	heap := heapInUse() - before
	b.ResetTimer()
	cpuStart := processCPU()
	wallStart := time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	cpu := processCPU() - cpuStart
	wall := time.Since(wallStart)
	b.StopTimer()
	b.ReportMetric(float64(heap)/float64(conns), "heap-B/conn")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()*10000/float64(conns), "cpu-%/10k-conns")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
