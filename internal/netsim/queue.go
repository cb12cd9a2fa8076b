package netsim

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
	"github.com/mistnet/mist/internal/endpoint"
)

var errClosed = fmt.Errorf("netsim: %w", net.ErrClosed)

// held is a datagram copied into a pooled buffer while netsim holds it.
type held struct {
	at   time.Time
	seq  uint64 // keeps datagrams released at the same time in send order
	buf  []byte
	addr netip.AddrPort
}

func hold(b []byte, addr netip.AddrPort) held {
	buf := bufpool.Get(len(b))
	copy(buf, b)
	return held{buf: buf, addr: addr}
}

func (h held) free() { bufpool.Put(h.buf) }

// delayQueue holds datagrams until their release time and hands them, in
// time order, to release from a timer goroutine.
type delayQueue struct {
	mu     sync.Mutex
	heap   []held
	seq    uint64
	max    int
	timer  *time.Timer
	closed bool

	// releaseMu makes releases happen one batch at a time, in order.
	releaseMu sync.Mutex
	release   func(batch []held) // takes ownership of the buffers
	due       []held             // reused by fire, under releaseMu
}

func newDelayQueue(max int, release func([]held)) *delayQueue {
	return &delayQueue{max: max, release: release}
}

// push queues h. It reports false, leaving h to the caller, when the queue
// is full or closed.
func (q *delayQueue) push(h held) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.heap) >= q.max {
		return false
	}
	q.seq++
	h.seq = q.seq
	q.heap = append(q.heap, h)
	q.up(len(q.heap) - 1)
	if q.heap[0].seq == h.seq {
		q.arm(time.Until(h.at))
	}
	return true
}

func (q *delayQueue) arm(d time.Duration) {
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.fire)
	} else {
		q.timer.Reset(d)
	}
}

func (q *delayQueue) fire() {
	q.releaseMu.Lock()
	defer q.releaseMu.Unlock()
	q.mu.Lock()
	now := time.Now()
	q.due = q.due[:0]
	for len(q.heap) > 0 && !q.heap[0].at.After(now) {
		q.due = append(q.due, q.pop())
	}
	if len(q.heap) > 0 && !q.closed {
		q.arm(q.heap[0].at.Sub(now))
	}
	q.mu.Unlock()
	if len(q.due) > 0 {
		q.release(q.due)
		clear(q.due)
	}
}

// len returns the number of held datagrams.
func (q *delayQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.heap)
}

// close drops everything held and stops the timer.
func (q *delayQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.timer != nil {
		q.timer.Stop()
	}
	for _, h := range q.heap {
		h.free()
	}
	clear(q.heap)
	q.heap = q.heap[:0]
}

func (q *delayQueue) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	if a.at.Equal(b.at) {
		return a.seq < b.seq
	}
	return a.at.Before(b.at)
}

func (q *delayQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

func (q *delayQueue) pop() held {
	h := q.heap[0]
	last := len(q.heap) - 1
	q.heap[0] = q.heap[last]
	q.heap[last] = held{}
	q.heap = q.heap[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.less(l, m) {
			m = l
		}
		if r < last && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
	return h
}

// inbox is the bounded receive queue of a conn: what ReadBatch returns.
type inbox struct {
	mu     sync.Mutex
	ring   []held
	head   int
	n      int
	max    int
	closed bool
	notify chan struct{}
	done   chan struct{}
}

func newInbox(max int) *inbox {
	return &inbox{max: max, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// push appends h. It reports false, leaving h to the caller, when the inbox
// is full or closed.
func (b *inbox) push(h held) bool {
	b.mu.Lock()
	if b.closed || b.n >= b.max {
		b.mu.Unlock()
		return false
	}
	if b.n == len(b.ring) {
		b.grow()
	}
	b.ring[(b.head+b.n)%len(b.ring)] = h
	b.n++
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return true
}

func (b *inbox) grow() {
	size := min(max(16, 2*len(b.ring)), b.max)
	ring := make([]held, size)
	for i := range b.n {
		ring[i] = b.ring[(b.head+i)%len(b.ring)]
	}
	b.ring, b.head = ring, 0
}

// read blocks until datagrams are available and copies them into ms.
// Datagrams larger than their buffer are dropped and counted in truncated.
func (b *inbox) read(ms []endpoint.Packet, truncated *counter) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return 0, errClosed
		}
		got := 0
		for b.n > 0 && got < len(ms) {
			h := b.ring[b.head]
			b.ring[b.head] = held{}
			b.head = (b.head + 1) % len(b.ring)
			b.n--
			p := &ms[got]
			if len(h.buf) > cap(p.Buf) {
				truncated.add(1)
				h.free()
				continue
			}
			p.Buf = p.Buf[:len(h.buf)]
			copy(p.Buf, h.buf)
			p.N, p.Addr = len(h.buf), h.addr
			h.free()
			got++
		}
		more := b.n > 0
		b.mu.Unlock()
		if got > 0 {
			if more { // let another reader in
				select {
				case b.notify <- struct{}{}:
				default:
				}
			}
			return got, nil
		}
		select {
		case <-b.notify:
		case <-b.done:
		}
	}
}

func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	close(b.done)
	for b.n > 0 {
		b.ring[b.head].free()
		b.ring[b.head] = held{}
		b.head = (b.head + 1) % len(b.ring)
		b.n--
	}
}
