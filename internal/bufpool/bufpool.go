// Package bufpool recycles byte slices by power-of-two size class so that the
// datagram and message paths do not allocate in steady state.
package bufpool

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	minShift = 6  // 64 B
	maxShift = 20 // 1 MiB; larger requests are allocated and dropped on Put
)

var pools [maxShift - minShift + 1]sync.Pool

func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a slice of length n. Its capacity is n rounded up to a power of
// two (at least 64). The contents are not zeroed.
func Get(n int) []byte {
	c := class(n)
	if c >= len(pools) {
		return make([]byte, n)
	}
	// The pools hold bare pointers to the backing arrays: a pointer fits in an
	// interface without allocating, where a slice header would not.
	if p, ok := pools[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*byte)(p), 1<<(c+minShift))[:n]
	}
	return make([]byte, n, 1<<(c+minShift))
}

// Put returns b to its pool. b must not be used afterwards. Slices whose
// capacity is not a pool size (not obtained from Get) are dropped.
func Put(b []byte) {
	c := cap(b)
	if c < 1<<minShift || c > 1<<maxShift || c&(c-1) != 0 {
		return
	}
	pools[class(c)].Put(unsafe.Pointer(unsafe.SliceData(b)))
}
