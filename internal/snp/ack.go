package snp

import "time"

// Ack is an ack frame (lead byte 1001wnnn). Latest is expanded to a full
// packet number by the Reader; ParseAck leaves only its low bits there.
type Ack struct {
	Latest    int64
	Delay     uint16 // time since Latest arrived, in 32 µs units; AckDelayUnknown if none
	Wide      bool   // Latest was sent as 32 bits (w=0) rather than 16
	NumBlocks int
	blocks    []byte // encoded blocks, validated
}

// AckDelayUnknown is the delay value meaning "no timing information".
const AckDelayUnknown = 0xffff

// AckBlock is one run of acknowledged packets followed (going backwards) by
// a run of missing ones.
type AckBlock struct {
	Acked, Nacked uint64
}

// EncodeAckDelay converts the time a packet has waited for its ack into the
// frame's 32 µs units, saturating at AckDelayUnknown.
func EncodeAckDelay(d time.Duration) uint16 {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	if v := us >> 5; v < AckDelayUnknown {
		return uint16(v)
	}
	return AckDelayUnknown
}

// AckBlockLen is the encoded size of blk.
func AckBlockLen(blk AckBlock) int {
	n := 1
	if blk.Acked > 7 {
		n += varintLen(blk.Acked >> 3)
	}
	if blk.Nacked > 7 {
		n += varintLen(blk.Nacked >> 3)
	}
	return n
}

// AckLen is the encoded size of an ack frame with 16-bit latest and the
// given blocks.
func AckLen(blocks []AckBlock) int {
	n := 5
	if len(blocks) > 6 {
		n++
	}
	for _, b := range blocks {
		n += AckBlockLen(b)
	}
	return n
}

// AppendAck appends an ack frame with a 16-bit latest (w=1, understood by
// every protocol version). blocks are newest first; at most MaxAckBlocks,
// each with counts of at most MaxAckRun (see AppendAckBlock).
func AppendAck(dst []byte, latest int64, delay uint16, blocks []AckBlock) []byte {
	if len(blocks) > 6 {
		dst = append(dst, 0x98|7)
	} else {
		dst = append(dst, 0x98|byte(len(blocks)))
	}
	dst = appendLE(dst, uint64(latest), 2)
	dst = appendLE(dst, uint64(delay), 2)
	if len(blocks) > 6 {
		dst = append(dst, byte(len(blocks)))
	}
	for _, blk := range blocks {
		lead := byte(blk.Acked&7)<<4 | byte(blk.Nacked&7)
		if blk.Acked > 7 {
			lead |= 0x80
		}
		if blk.Nacked > 7 {
			lead |= 0x08
		}
		dst = append(dst, lead)
		if blk.Acked > 7 {
			dst = appendVarint(dst, blk.Acked>>3)
		}
		if blk.Nacked > 7 {
			dst = appendVarint(dst, blk.Nacked>>3)
		}
	}
	return dst
}

// AppendAckBlock appends to blocks the block for a run of acked packets
// followed (going backwards) by a run of nacked ones, split into as many
// blocks as counts over MaxAckRun need.
func AppendAckBlock(blocks []AckBlock, acked, nacked uint64) []AckBlock {
	for acked > MaxAckRun {
		blocks = append(blocks, AckBlock{Acked: MaxAckRun})
		acked -= MaxAckRun
	}
	for nacked > MaxAckRun {
		blocks = append(blocks, AckBlock{Acked: acked, Nacked: MaxAckRun})
		acked = 0
		nacked -= MaxAckRun
	}
	return append(blocks, AckBlock{Acked: acked, Nacked: nacked})
}

// ParseAck parses an ack frame and validates its blocks. Latest holds the
// truncated value (16 or 32 bits, see Wide).
func ParseAck(b []byte) (Ack, int, error) {
	var a Ack
	if len(b) == 0 {
		return a, 0, errShort
	}
	lead := b[0]
	a.Wide = lead&0x08 == 0
	off := 1
	if a.Wide {
		if len(b) < off+4 {
			return a, 0, errShort
		}
		a.Latest = int64(le32(b[off:]))
		off += 4
	} else {
		if len(b) < off+2 {
			return a, 0, errShort
		}
		a.Latest = int64(le16(b[off:]))
		off += 2
	}
	if len(b) < off+2 {
		return a, 0, errShort
	}
	a.Delay = uint16(le16(b[off:]))
	off += 2
	a.NumBlocks = int(lead & 7)
	if a.NumBlocks == 7 {
		if len(b) < off+1 {
			return a, 0, errShort
		}
		a.NumBlocks = int(b[off])
		off++
	}
	start := off
	for range a.NumBlocks {
		_, n, err := parseAckBlock(b[off:])
		if err != nil {
			return a, 0, err
		}
		off += n
	}
	a.blocks = b[start:off:off]
	return a, off, nil
}

func parseAckBlock(b []byte) (AckBlock, int, error) {
	var blk AckBlock
	if len(b) == 0 {
		return blk, 0, errShort
	}
	lead := b[0]
	blk.Acked = uint64(lead>>4) & 7
	blk.Nacked = uint64(lead) & 7
	off := 1
	if lead&0x80 != 0 {
		v, n := readVarint(b[off:], maxVarint64)
		if n == 0 {
			return blk, 0, errVarint
		}
		if v > maxAckCountHigh {
			return blk, 0, errBlockCount
		}
		blk.Acked |= v << 3
		off += n
	}
	if lead&0x08 != 0 {
		v, n := readVarint(b[off:], maxVarint64)
		if n == 0 {
			return blk, 0, errVarint
		}
		if v > maxAckCountHigh {
			return blk, 0, errBlockCount
		}
		blk.Nacked |= v << 3
		off += n
	}
	return blk, off, nil
}

// Blocks returns an iterator over the frame's blocks, newest first.
func (a *Ack) Blocks() AckBlocks { return AckBlocks{rest: a.blocks, left: a.NumBlocks} }

// AckBlocks iterates over an ack frame's blocks without allocating.
type AckBlocks struct {
	rest []byte
	left int
}

// Next returns the next block, or false when there are no more.
func (it *AckBlocks) Next() (AckBlock, bool) {
	if it.left == 0 {
		return AckBlock{}, false
	}
	blk, n, err := parseAckBlock(it.rest)
	if err != nil { // cannot happen: ParseAck validated the blocks
		it.left = 0
		return AckBlock{}, false
	}
	it.rest = it.rest[n:]
	it.left--
	return blk, true
}
