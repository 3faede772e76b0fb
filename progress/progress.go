package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is a throttled progress bar for a known or unknown total. It is safe
// for concurrent use.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	total   int64 // <= 0: unknown
	done    int64
	start   time.Time
	last    time.Time
	enabled bool
	status  string
}

// New returns a bar that reports to w (usually os.Stderr). It draws only
// when w is a terminal; see Force.
func New(w io.Writer, label string, total int64) *Bar {
	now := time.Now()
	return &Bar{w: w, label: label, total: total, start: now, enabled: isTerminal(w)}
}

// Force turns drawing on or off regardless of whether w is a terminal.
func (b *Bar) Force(on bool) *Bar {
	b.mu.Lock()
	b.enabled = on
	b.mu.Unlock()
	return b
}

// Add records n more units done and redraws at most ten times a second.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if !b.enabled {
		return
	}
	if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond {
		b.last = now
		b.draw(false)
	}
}

// SetStatus sets a short text drawn after the counts (a training loss, say).
func (b *Bar) SetStatus(s string) {
	b.mu.Lock()
	b.status = s
	b.mu.Unlock()
}

// Printf writes a line of text above the bar: it clears the bar's line,
// prints, and redraws the bar below (without a terminal it just prints).
func (b *Bar) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.enabled {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
	fmt.Fprintf(b.w, format, args...)
	if b.enabled {
		b.draw(false)
	}
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.enabled {
		b.draw(true)
	}
}

func (b *Bar) draw(final bool) {
	el := time.Since(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	var line string
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		const width = 30
		fill := int(frac * width)
		eta := ""
		if rate > 0 && !final {
			eta = fmt.Sprintf(" eta %s", (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second))
		}
		line = fmt.Sprintf("\r%s [%s%s] %d/%d %5.1f%% %.0f/s%s", b.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), b.done, b.total, 100*frac, rate, eta)
	} else {
		line = fmt.Sprintf("\r%s %d %.0f/s", b.label, b.done, rate)
	}
	if b.status != "" {
		line += " " + b.status
	}
	if final {
		line += fmt.Sprintf(" in %.1fs\n", el)
	} else {
		line += "\x1b[K" // clear what a longer previous line left
	}
	fmt.Fprint(b.w, line)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
