package endpoint

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBulk streams 1,300-byte datagrams over loopback as fast as one
// sender goroutine can write batches of 64, and receives them in batches of
// 64 on the benchmark goroutine; an op is one datagram received. Besides
// MB/s it reports the CPU each side spends per datagram (each side runs
// locked to its own thread) and the share lost to a full receive buffer.
func BenchmarkBulk(b *testing.B) {
	const size, batch = 1300, 64
	cases := []struct {
		name       string
		send, recv *Options
	}{
		{"plain", &Options{DisableGSO: true}, nil},
		{"gso", nil, nil},
		{"gso+gro", nil, &Options{GRO: true}},
		{"plain+gro", &Options{DisableGSO: true}, &Options{GRO: true}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			server, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), tc.recv)
			if err != nil {
				b.Skip(err)
			}
			defer server.Close()
			client, err := Dial(server.LocalAddr(), tc.send)
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			if tc.send == nil && !client.GSO() || tc.recv != nil && !server.GRO() {
				b.Skip("offload not available")
			}

			out := make([]Packet, batch)
			for i := range out {
				out[i] = Packet{Buf: make([]byte, size), Addr: server.LocalAddr()}
			}
			var (
				stop    atomic.Bool
				sent    int64
				sendCPU time.Duration
				wg      sync.WaitGroup
			)
			start := make(chan struct{})
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				<-start
				cpu := threadCPU()
				for !stop.Load() {
					n, err := client.WriteBatch(out)
					sent += int64(n)
					if err != nil {
						break
					}
				}
				sendCPU = threadCPU() - cpu
			})

			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			in := newPackets(batch, 2048)
			b.SetBytes(size)
			b.ResetTimer()
			close(start)
			cpu, total := threadCPU(), processCPU()
			received := 0
			for received < b.N {
				n, err := server.ReadBatch(in)
				if err != nil {
					b.Fatal(err)
				}
				for i := range in[:n] {
					if in[i].N != size {
						b.Fatalf("received %d bytes, want %d", in[i].N, size)
					}
					in[i].Buf = in[i].Buf[:cap(in[i].Buf)]
				}
				received += n
			}
			recvCPU := threadCPU() - cpu
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			total = processCPU() - total
			b.ReportMetric(float64(sendCPU.Nanoseconds())/float64(max(sent, 1)), "send-cpu-ns/pkt")
			b.ReportMetric(float64(recvCPU.Nanoseconds())/float64(received), "recv-cpu-ns/pkt")
			b.ReportMetric(float64(total.Nanoseconds())/float64(received), "cpu-ns/pkt")
			if sent > 0 {
				b.ReportMetric(100*float64(max(sent-int64(received), 0))/float64(sent), "loss%")
			}
		})
	}
}
