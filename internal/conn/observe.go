package conn

import "time"

// JitterMark is the jitter high-water mark that Quality reports and resets.
// An observer that calls Quality puts it back with RestoreJitterMark, so
// that the application's next status still sees it.
func (c *Conn) JitterMark() (time.Duration, bool) {
	return c.quality.maxJitter, c.quality.haveJitter
}

// RestoreJitterMark sets the jitter high-water mark, as JitterMark read it.
func (c *Conn) RestoreJitterMark(j time.Duration, ok bool) {
	c.quality.maxJitter, c.quality.haveJitter = j, ok
}
