package crypto

import (
	"errors"
	"fmt"
)

// MaxPacketNumberJump is the largest forward jump in received packet
// numbers GNS tolerates; a bigger one (a "lurch") ends the connection with
// Misc_Generic.
const MaxPacketNumberJump = 0x4000

// Reasons RecvWindow rejects a packet.
var (
	ErrDuplicate = errors.New("crypto: duplicate packet number")
	ErrTooOld    = errors.New("crypto: packet number older than the receive window")
	ErrLurch     = errors.New("crypto: packet number jumped too far ahead")
)

// RecvWindow tracks received packet numbers of one direction: the highest
// accepted number and a 128-bit bitmap of the numbers just below it,
// aligned to multiples of 64 as in GNS. The zero value is not ready; use
// NewRecvWindow.
//
// Receive order: Expand the wire number, decrypt, CheckLurch, process the
// payload, then MarkReceived.
type RecvWindow struct {
	max uint64
	// bits[0] covers [base, base+64), bits[1] covers [base+64, base+128),
	// where base is the multiple of 64 just below the word holding max.
	base uint64
	bits [2]uint64
}

// NewRecvWindow returns a window for a peer speaking peerVersion: data
// packet numbers start at 2 for version 10 and later (the handshake uses 1),
// else at 1. Every number up to the starting maximum counts as received.
func NewRecvWindow(peerVersion uint32) *RecvWindow {
	w := &RecvWindow{}
	if peerVersion >= 10 {
		w.Reset(1)
	} else {
		w.Reset(0)
	}
	return w
}

// Reset makes max the highest received number and marks everything at or
// below it as received.
func (w *RecvWindow) Reset(max uint64) {
	w.max = max
	w.base = (max &^ 63)
	if w.base >= 64 {
		w.base -= 64
	} else {
		w.base = 0
	}
	w.bits = [2]uint64{^uint64(0), ^uint64(0)}
	// Clear the bits above max in the top word.
	w.clearAbove(max)
}

func (w *RecvWindow) clearAbove(max uint64) {
	for i := range w.bits {
		lo := w.base + uint64(i)*64
		switch {
		case max < lo:
			w.bits[i] = 0
		case max-lo < 63:
			w.bits[i] &= (uint64(1) << (max - lo + 1)) - 1
		}
	}
}

// Max returns the highest packet number accepted so far.
func (w *RecvWindow) Max() uint64 { return w.max }

// Expand returns the full packet number for the 16-bit wire number: the
// number with those low bits nearest to Max. It fails with ErrDuplicate or
// ErrTooOld (the bare sentinels) for numbers not above Max that are
// already received or below the window. It does not change the window.
func (w *RecvWindow) Expand(wire uint16) (uint64, error) {
	gap := int16(wire - uint16(w.max))
	full := w.max + uint64(int64(gap))
	if gap > 0 {
		return full, nil
	}
	// Rejections return the bare sentinels: they are routine (stray
	// retransmissions) and must not allocate.
	if int64(gap) < 0 && uint64(-int64(gap)) > w.max || full < w.base {
		return 0, ErrTooOld
	}
	if w.has(full) {
		return 0, ErrDuplicate
	}
	return full, nil
}

// CheckLurch fails with ErrLurch when an authenticated packet number is
// more than MaxPacketNumberJump ahead of Max.
func (w *RecvWindow) CheckLurch(full uint64) error {
	if full > w.max && full-w.max > MaxPacketNumberJump {
		return fmt.Errorf("%w: %d after %d", ErrLurch, full, w.max)
	}
	return nil
}

func (w *RecvWindow) has(n uint64) bool {
	off := n - w.base
	return w.bits[off/64]&(1<<(off%64)) != 0
}

// MarkReceived records n as received (after its payload was processed) and
// advances Max and the window if n is new. Numbers below the window are
// ignored.
func (w *RecvWindow) MarkReceived(n uint64) {
	if n < w.base {
		return
	}
	if n > w.max {
		w.max = n
		// Slide so that n lands in the top word.
		newBase := (n &^ 63)
		if newBase >= 64 {
			newBase -= 64
		} else {
			newBase = 0
		}
		switch shift := (newBase - w.base) / 64; {
		case shift == 1:
			w.bits[0], w.bits[1] = w.bits[1], 0
		case shift >= 2:
			w.bits = [2]uint64{}
		}
		w.base = newBase
	}
	off := n - w.base
	w.bits[off/64] |= 1 << (off % 64)
}
