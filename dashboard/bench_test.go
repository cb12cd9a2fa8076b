package dashboard

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/mistnet/mist"
)

// BenchmarkUDPSendReceive sends batches of 64 reliable messages over a
// loopback UDP pair and receives them: alone, with a dashboard page open
// (its event stream read as a browser would) and with the page open and
// /metrics scraped every second. The ns/msg figures of the three compare
// the cost of being watched.
func BenchmarkUDPSendReceive(b *testing.B) {
	b.Run("alone", func(b *testing.B) { benchSendReceive(b, false, false) })
	b.Run("page-open", func(b *testing.B) { benchSendReceive(b, true, false) })
	b.Run("page-open+scraped", func(b *testing.B) { benchSendReceive(b, true, true) })
}

func benchSendReceive(b *testing.B, page, scrape bool) {
	s, err := mist.New(mist.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	opts := []mist.ConfigValue{mist.Int32Value(mist.OptSendRateMin, 16<<20), mist.Int32Value(mist.OptSendRateMax, 16<<20),
		mist.Int32Value(mist.OptSendBufferSize, 4<<20)}
	for _, o := range opts {
		if !mist.SetGlobalConfigValue(o) {
			b.Fatalf("cannot set %v", o)
		}
		defer mist.ResetGlobalConfigValue(o.Option)
	}
	a, c, ok := s.CreateSocketPair(true, nil, nil)
	if !ok {
		b.Fatal("CreateSocketPair failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if page {
		h, err := New(s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h)
		// Streams end before the server waits for its requests.
		defer srv.Close()
		defer h.Close()
		watch(b, ctx, srv.URL)
		if scrape {
			go scrapeEverySecond(ctx, srv.URL+"/metrics")
		}
		for !h.Sampling() {
			time.Sleep(time.Millisecond)
		}
	}

	const batch = 64
	payload := make([]byte, 200)
	out := make([]*mist.Message, batch)
	b.SetBytes(int64(len(payload)) * batch)
	for b.Loop() {
		for range batch {
			s.SendMessageToConnection(a, payload, mist.SendReliable|mist.SendNoNagle)
		}
		got := 0
		for got < batch {
			n := s.ReceiveMessagesOnConnection(c, out)
			for _, m := range out[:n] {
				m.Release()
			}
			got += n
			if n == 0 {
				runtime.Gosched()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
}

// watch opens the event stream and reads it until ctx ends.
func watch(b *testing.B, ctx context.Context, url string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
		}
	}()
}

func scrapeEverySecond(ctx context.Context, url string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
}

// BenchmarkSample is one sample of the page (every connection observed and
// a frame encoded) with 64 connections; at one sample a second its ns/op
// divided by 1e9 is the share of one core the page costs.
func BenchmarkSample(b *testing.B) {
	s, err := mist.New(mist.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for range 32 {
		if _, _, ok := s.CreateSocketPair(true, nil, nil); !ok {
			b.Fatal("CreateSocketPair failed")
		}
	}
	sm := newSampler(s, time.Second, 300, 200)
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		now = now.Add(time.Second)
		sm.mu.Lock()
		sm.sampleLocked(now)
		sm.mu.Unlock()
	}
}

// BenchmarkScrape is one /metrics collection with 64 connections.
func BenchmarkScrape(b *testing.B) {
	s, err := mist.New(mist.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for range 32 {
		if _, _, ok := s.CreateSocketPair(true, nil, nil); !ok {
			b.Fatal("CreateSocketPair failed")
		}
	}
	h, err := New(s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	}
}

// BenchmarkWatchedAlternating measures the cost of an open page in one run:
// it alternates one-second blocks of send/receive without and with a page
// streaming (the stream opened and closed between blocks, outside the
// timing), so that the drift of a shared machine falls on both alike. It
// reports ns/msg of each and watched/alone as a ratio; run it with
// -benchtime 1x (each iteration is rounds pairs of blocks).
func BenchmarkWatchedAlternating(b *testing.B) {
	const rounds = 10
	s, err := mist.New(mist.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, o := range []mist.ConfigValue{mist.Int32Value(mist.OptSendRateMin, 16<<20), mist.Int32Value(mist.OptSendRateMax, 16<<20),
		mist.Int32Value(mist.OptSendBufferSize, 4<<20)} {
		if !mist.SetGlobalConfigValue(o) {
			b.Fatalf("cannot set %v", o)
		}
		defer mist.ResetGlobalConfigValue(o.Option)
	}
	a, c, ok := s.CreateSocketPair(true, nil, nil)
	if !ok {
		b.Fatal("CreateSocketPair failed")
	}
	h, err := New(s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	const batch = 64
	payload := make([]byte, 200)
	out := make([]*mist.Message, batch)
	// block sends and receives batches for about d and returns the time
	// taken and the number of messages.
	block := func(d time.Duration) (time.Duration, int) {
		start := time.Now()
		msgs := 0
		for time.Since(start) < d {
			for range batch {
				s.SendMessageToConnection(a, payload, mist.SendReliable|mist.SendNoNagle)
			}
			for got := 0; got < batch; {
				n := s.ReceiveMessagesOnConnection(c, out)
				for _, m := range out[:n] {
					m.Release()
				}
				got += n
				if n == 0 {
					runtime.Gosched()
				}
			}
			msgs += batch
		}
		return time.Since(start), msgs
	}
	var aloneT, watchedT time.Duration
	var aloneN, watchedN int
	watched := func() {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		watch(b, ctx, srv.URL)
		for !h.Sampling() {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		d, n := block(time.Second)
		watchedT, watchedN = watchedT+d, watchedN+n
		b.StopTimer()
		cancel()
		for h.Sampling() {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
	}
	alone := func() {
		d, n := block(time.Second)
		aloneT, aloneN = aloneT+d, aloneN+n
	}
	for b.Loop() {
		// The order alternates too, so neither kind always follows the other.
		for i := range rounds {
			if i%2 == 0 {
				watched()
				alone()
			} else {
				alone()
				watched()
			}
		}
	}
	aloneNs := float64(aloneT.Nanoseconds()) / float64(aloneN)
	watchedNs := float64(watchedT.Nanoseconds()) / float64(watchedN)
	b.ReportMetric(aloneNs, "alone-ns/msg")
	b.ReportMetric(watchedNs, "watched-ns/msg")
	b.ReportMetric(watchedNs/aloneNs, "watched/alone")
}
