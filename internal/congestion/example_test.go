package congestion_test

import (
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/congestion"
)

func ExampleNewFixed() {
	rate := congestion.NewFixed(100_000, 100_000) // 100 bytes per millisecond
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rate.Reset(now)

	// The bucket starts with one burst allowance; a 1300-byte datagram
	// overdraws it by 52 bytes, which take 520 µs to earn back.
	fmt.Println(rate.TimeUntilSend(now))
	rate.OnPacketSent(now, 1300)
	fmt.Println(rate.TimeUntilSend(now))
	// Output:
	// 0s
	// 521µs
}
