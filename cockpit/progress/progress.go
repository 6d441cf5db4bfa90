// Package progress reports the advance of a long load: a progress bar when
// the writer is a terminal, a line at the end otherwise (logs, tests).
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts towards a total.
type Bar struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	what  string
	n     int64
	start time.Time
}

// New starts a bar for total units of what ("records") on w; w may be nil.
func New(w io.Writer, total int64, what string) *Bar {
	b := &Bar{w: w, what: what, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return b
}

// Add advances the bar by n.
func (b *Bar) Add(n int64) {
	b.n += n
	if b.bar != nil {
		_ = b.bar.Add64(n) // drawing only; a failed redraw is not an error of the load
	}
}

// Done finishes the bar and prints the rate.
func (b *Bar) Done() {
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
	if b.w != nil {
		d := time.Since(b.start)
		fmt.Fprintf(b.w, "%d %s in %s (%.0f/s)\n", b.n, b.what, d.Round(time.Millisecond), float64(b.n)/d.Seconds())
	}
}
