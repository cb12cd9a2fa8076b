package snp

// AppendStopWaiting appends a stop-waiting frame for the packet numbered
// pktNum, telling the peer it need not report on packets below stop
// (0 < ... ; stop must be < pktNum). GNS writes this first in every data
// packet, in the smallest width that fits.
func AppendStopWaiting(dst []byte, pktNum, stop int64) []byte {
	v := uint64(pktNum - stop - 1)
	switch {
	case v < 1<<8:
		return append(dst, 0x80, byte(v))
	case v < 1<<16:
		return appendLE(append(dst, 0x81), v, 2)
	case v < 1<<24:
		return appendLE(append(dst, 0x82), v, 3)
	}
	return appendLE(append(dst, 0x83), v, 8)
}

var stopWaitingWidth = [4]int{1, 2, 3, 8}

// ParseStopWaiting parses a stop-waiting frame carried in packet pktNum and
// returns the stop value. A value that would be negative is an error.
func ParseStopWaiting(b []byte, pktNum int64) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, errShort
	}
	w := stopWaitingWidth[b[0]&3]
	if len(b) < 1+w {
		return 0, 0, errShort
	}
	v := readLE(b[1:], w)
	if pktNum <= 0 || v >= uint64(pktNum) {
		return 0, 0, &parseErr{"stop-waiting value below zero"}
	}
	return pktNum - int64(v) - 1, 1 + w, nil
}

// AppendSelectLane appends a select-lane frame. Lanes 1..7 take one byte;
// lane 0 and lanes from 8 use the varint form.
func AppendSelectLane(dst []byte, lane int) []byte {
	if lane >= 1 && lane <= 7 {
		return append(dst, byte(0x87+lane))
	}
	return appendVarint(append(dst, 0x8f), uint64(lane))
}

// SelectLaneLen is the encoded size of a select-lane frame for lane.
func SelectLaneLen(lane int) int {
	if lane >= 1 && lane <= 7 {
		return 1
	}
	return 1 + varintLen(uint64(lane))
}

// ParseSelectLane parses a select-lane frame.
func ParseSelectLane(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, errShort
	}
	if b[0]&7 != 7 {
		return int(b[0]&7) + 1, 1, nil
	}
	v, n := readVarint(b[1:], maxVarint32)
	if n == 0 {
		return 0, 0, errVarint
	}
	if v >= MaxLanes {
		return 0, 0, errLane
	}
	return int(v), 1 + n, nil
}
