// Package progress reports a running orders pull (package orderpull) to a
// person: a line redrawn in place on a terminal, one plain line per page
// otherwise.
//
// Amazon tells neither how many orders a query has nor in which order it
// returns them, so there is no total to compare with: a report says "page
// N, M orders" and the rate, never a percentage or an ETA (one from the
// last-update times of a page reached 98 % with two thirds of the orders
// still to come).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/spgate/spgate/orderpull"
)

// Pull reports one pull's events (orderpull.Options.Progress) on a writer.
type Pull struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	began time.Time

	mu         sync.Mutex
	base       int64 // orders written before this process started
	count      int64
	pages      int64
	last       orderpull.Event // the latest page's, for its rate-limit waits
	lastPageAt time.Time
	stop       chan struct{}
	done       chan struct{}
}

// NewPull reports on w, redrawing one line when w is a terminal; now
// dates the events (nil: time.Now).
func NewPull(w io.Writer, now func() time.Time) *Pull {
	if now == nil {
		now = time.Now
	}
	p := &Pull{w: w, now: now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// Event shows one of the pull's events.
func (p *Pull) Event(ev orderpull.Event) {
	switch ev.Kind {
	case orderpull.Started:
		p.start(ev.From, ev.Orders, ev.Resumed)
	case orderpull.PageDone:
		p.mu.Lock()
		p.last = ev
		p.mu.Unlock()
		p.page(ev.Orders, ev.Pages)
	case orderpull.Restarted:
		if p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
		fmt.Fprintln(p.w, "Amazon refused the page token (they expire): asking again from this run's start; orders already written are skipped")
	}
}

func (p *Pull) start(from time.Time, count int64, resumed bool) {
	p.mu.Lock()
	p.began, p.lastPageAt = p.now(), p.now()
	p.base, p.count = count, count
	p.mu.Unlock()
	if resumed {
		fmt.Fprintf(p.w, "resuming from the checkpoint (%d orders already written, updated since %s)\n", count, from.UTC().Format(time.RFC3339))
	}
	if p.tty {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(p.done)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.draw()
				}
			}
		}()
	}
}

func (p *Pull) page(count, pages int64) {
	p.mu.Lock()
	p.count, p.pages, p.lastPageAt = count, pages, p.now()
	p.mu.Unlock()
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintf(p.w, "checkpoint: page %d, %d orders%s\n", pages, count, p.status(false))
}

// status is the rate and rate-limit part of a progress line.
func (p *Pull) status(tty bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := p.now().Sub(p.began)
	var b strings.Builder
	if el > 0 {
		fmt.Fprintf(&b, ", %.1f orders/s", float64(p.count-p.base)/el.Seconds())
	}
	if p.last.RateLimitWaits > 0 || p.last.Throttled > 0 {
		fmt.Fprintf(&b, ", rate-limit waits %d (%s)", p.last.RateLimitWaits, p.last.RateLimitWait.Round(100*time.Millisecond))
	}
	if tty {
		if w := p.now().Sub(p.lastPageAt); w > 2*time.Second {
			fmt.Fprintf(&b, ", waiting for Amazon %s", w.Round(time.Second))
		}
	}
	return b.String()
}

func (p *Pull) draw() {
	p.mu.Lock()
	count, pages := p.count, p.pages
	p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[Kpage %d, %d orders%s", pages, count, p.status(true))
}

// Finish ends the report: on a terminal it stops redrawing and ends the
// line. Call it once the pull has returned.
func (p *Pull) Finish() {
	if p.tty && p.stop != nil {
		close(p.stop)
		<-p.done
		p.draw()
		fmt.Fprintln(p.w)
	}
}
