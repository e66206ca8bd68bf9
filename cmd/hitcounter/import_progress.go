package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a bar on a terminal: "importing [#####.....] 52% 1234/2400", redrawn in place
// at most every progressEvery. It exists only when stderr is a terminal, so that a log or a
// pipe never fills with carriage returns; every method of a nil *progress does nothing.
type progress struct {
	w     io.Writer
	label string

	mu         sync.Mutex
	now, total int
	last       time.Time
	clock      func() time.Time
	drawn      bool
}

const progressEvery = 100 * time.Millisecond

// newProgress is a bar on stderr if it is a terminal, else nil.
func newProgress(stderr io.Writer, label string, total int) *progress {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return newBar(f, label, total, time.Now)
}

func newBar(w io.Writer, label string, total int, clock func() time.Time) *progress {
	return &progress{w: w, label: label, total: total, clock: clock}
}

// add counts n more done.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now += n
	p.draw(false)
}

// set says done of total are done.
func (p *progress) set(done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now, p.total = done, total
	p.draw(false)
}

// done draws the last state and ends the line.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		p.draw(true)
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(force bool) {
	t := p.clock()
	if !force && t.Sub(p.last) < progressEvery && p.now < p.total {
		return
	}
	p.last = t
	p.drawn = true
	const width = 30
	filled := 0
	pct := 0
	if p.total > 0 {
		filled = min(width, p.now*width/p.total)
		pct = min(100, p.now*100/p.total)
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, p.now, p.total)
}
