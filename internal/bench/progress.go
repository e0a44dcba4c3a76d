package bench

import (
	"fmt"
	"io"
	"time"
)

// Progress prints the phase, the time elapsed and an estimate of the time left, from each
// phase's planned duration (its estimate is replaced by what it took once it ends).
type Progress struct {
	W       io.Writer
	Now     func() time.Time
	begin   time.Time
	planned []Phase
	current int
	started time.Time
	spent   time.Duration // by the phases that ended
}

// Phase is a named step and how long it is planned to take.
type Phase struct {
	Name string
	Plan time.Duration
}

// NewProgress starts the clock over phases.
func NewProgress(w io.Writer, now func() time.Time, phases []Phase) *Progress {
	t := now()
	return &Progress{W: w, Now: now, begin: t, planned: phases, current: -1, started: t}
}

// Begin ends the current phase and starts phase i.
func (p *Progress) Begin(i int) {
	now := p.Now()
	if p.current >= 0 {
		p.spent += now.Sub(p.started)
	}
	p.current, p.started = i, now
	p.Report("")
}

// Remaining is the estimate of the time left: the rest of the current phase's plan (none when
// it has overrun) and the plans of the phases after it.
func (p *Progress) Remaining() time.Duration {
	var left time.Duration
	if p.current >= 0 && p.current < len(p.planned) {
		left = max(0, p.planned[p.current].Plan-p.Now().Sub(p.started))
	}
	for i := p.current + 1; i < len(p.planned); i++ {
		left += p.planned[i].Plan
	}
	return left
}

// Report prints one progress line with an optional detail.
func (p *Progress) Report(detail string) {
	name := "done"
	if p.current >= 0 && p.current < len(p.planned) {
		name = p.planned[p.current].Name
	}
	if detail != "" {
		detail = ": " + detail
	}
	fmt.Fprintf(p.W, "[bench %d/%d %s] elapsed %s, about %s left%s\n", min(p.current+1, len(p.planned)), len(p.planned), name,
		p.Now().Sub(p.begin).Round(time.Second), p.Remaining().Round(time.Second), detail)
}
