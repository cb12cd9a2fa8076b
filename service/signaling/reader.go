package signaling

import (
	"bytes"
	"errors"
	"net"
	"time"
)

var errLineTooLong = errors.New("line too long")

// lineReader reads '\n'-terminated lines from a connection into a buffer
// that grows to at most max bytes, and arms read deadlines: idle while no
// line has begun, and lineTimeout from a line's first byte until its end,
// so a sender cannot hold a connection with a line that never finishes.
type lineReader struct {
	nc          net.Conn
	buf         []byte
	start, end  int // buf[start:end] is read and not yet returned
	scanned     int // buf[start:start+scanned] holds no '\n'
	max         int
	lineStarted time.Time
	deadline    time.Time // the deadline last set on nc
}

func newLineReader(nc net.Conn, initial, max int) *lineReader {
	return &lineReader{nc: nc, buf: make([]byte, min(initial, max+1)), max: max}
}

// next returns the next line including its '\n'; the slice is valid until
// the next call. idle is the deadline while no line has begun (zero for
// none). now is read only to arm the line deadline.
func (r *lineReader) next(idle time.Time, lineTimeout time.Duration, now func() time.Time) ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.start+r.scanned:r.end], '\n'); i >= 0 {
			n := r.scanned + i + 1
			line := r.buf[r.start : r.start+n]
			r.start += n
			r.scanned = 0
			r.lineStarted = time.Time{}
			if r.start < r.end {
				r.lineStarted = now()
			}
			return line, nil
		}
		r.scanned = r.end - r.start
		if r.scanned > r.max {
			return nil, errLineTooLong
		}
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if r.end == len(r.buf) {
			grown := make([]byte, min(2*len(r.buf), r.max+1))
			copy(grown, r.buf[:r.end])
			r.buf = grown
		}
		deadline := idle
		if r.end > r.start {
			if r.lineStarted.IsZero() {
				r.lineStarted = now()
			}
			deadline = r.lineStarted.Add(lineTimeout)
			if !idle.IsZero() && idle.Before(deadline) {
				deadline = idle
			}
		}
		if !deadline.Equal(r.deadline) {
			if err := r.nc.SetReadDeadline(deadline); err != nil {
				return nil, err
			}
			r.deadline = deadline
		}
		n, err := r.nc.Read(r.buf[r.end:])
		r.end += n
		if err != nil && n == 0 {
			return nil, err
		}
	}
}
