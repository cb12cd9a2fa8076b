package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// connRow is one line of the live view: a snapshot of one connection.
type connRow struct {
	name          string
	state         string
	pingMs        int
	qualityLocal  float32 // fraction of packets delivered in order, -1 unknown
	qualityRemote float32
	outBytes      float32 // per second
	inBytes       float32
	outPackets    float32
	inPackets     float32
	sendRate      int // bytes per second the connection may use
	pendingRel    int // bytes not yet on the wire
	pendingUnrel  int
	unackedRel    int // bytes sent, not yet acknowledged
}

// liveView prints connection snapshots about once a second. On a terminal
// it redraws the table in place; otherwise it appends plain blocks of text
// so logs and pipes stay readable.
type liveView struct {
	w       io.Writer
	ansi    bool
	drawn   int // lines of the previous frame, to move back over
	scratch strings.Builder
}

func newLiveView(w io.Writer) *liveView {
	return &liveView{w: w, ansi: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal), the case
// where ANSI cursor movement makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

var liveHeader = fmt.Sprintf("  %-18s %-12s %6s %11s %10s %10s %9s %9s %9s %9s",
	"connection", "state", "ping", "quality", "out", "in", "rate", "pend rel", "pend unr", "unacked")

// draw prints one frame: a title line (elapsed time and any note) and rows.
func (v *liveView) draw(elapsed time.Duration, note string, rows []connRow) {
	b := &v.scratch
	b.Reset()
	if v.ansi && v.drawn > 0 {
		// Back to the first line of the previous frame, then clear below.
		fmt.Fprintf(b, "\x1b[%dF\x1b[J", v.drawn)
	}
	fmt.Fprintf(b, "[%5.1fs] %s\n", elapsed.Seconds(), note)
	b.WriteString(liveHeader)
	b.WriteByte('\n')
	for _, r := range rows {
		fmt.Fprintf(b, "  %-18s %-12s %6s %11s %10s %10s %9s %9s %9s %9s\n",
			clip(r.name, 18), clip(r.state, 12), fmt.Sprintf("%dms", r.pingMs),
			formatQuality(r.qualityLocal, r.qualityRemote),
			formatRate(r.outBytes), formatRate(r.inBytes),
			formatRate(float32(r.sendRate)),
			formatBytes(r.pendingRel), formatBytes(r.pendingUnrel), formatBytes(r.unackedRel))
	}
	if !v.ansi {
		b.WriteByte('\n')
	}
	v.drawn = 2 + len(rows)
	io.WriteString(v.w, b.String())
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// formatQuality shows local/remote delivery quality as percentages.
func formatQuality(local, remote float32) string {
	f := func(q float32) string {
		if q < 0 {
			return "?"
		}
		return fmt.Sprintf("%.0f%%", q*100)
	}
	return f(local) + "/" + f(remote)
}

func formatRate(bytesPerSec float32) string {
	return formatBytes(int(bytesPerSec+0.5)) + "/s"
}

func formatBytes(n int) string {
	switch {
	case n < 10_000:
		return fmt.Sprintf("%dB", n)
	case n < 10_000_000:
		return fmt.Sprintf("%dK", n/1000)
	default:
		return fmt.Sprintf("%dM", n/1_000_000)
	}
}
