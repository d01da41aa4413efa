package orderpull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/spapi"
)

// checkpoint is a job's place, saved after every page. Its JSON is the
// one `spgate orders pull` has always saved, so a pull begun by an older
// spgate resumes.
type checkpoint struct {
	API string `json:"api"`
	// Offset is how many bytes of a ResumableWriter's output are complete;
	// RunOffset where the current run began.
	Offset    int64 `json:"offset"`
	RunOffset int64 `json:"runOffset"`
	// After/Before is the current run's query; NextToken its next page.
	After     time.Time `json:"after"`
	Before    time.Time `json:"before,omitzero"`
	NextToken string    `json:"nextToken,omitempty"`
	PII       []string  `json:"pii,omitempty"`
	// Done marks a finished run; Watermark is where the next run starts.
	Done      bool      `json:"done"`
	Watermark time.Time `json:"watermark,omitzero"`
	Count     int64     `json:"count"` // orders written by the current run
	Pages     int64     `json:"pages"`
}

// Run pulls the orders o selects into w: it resumes the job from its
// checkpoint when o.Checkpoints holds one, and returns when the last page
// is written, or with the first error. Run it again after an error (or a
// crash) to continue where it stopped.
func Run(ctx context.Context, c *spapi.Client, o Options, w Writer) (Result, error) {
	r, err := newRun(c, o, w)
	if err != nil {
		return Result{}, err
	}
	cp, resumed, err := r.load(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Resumed: resumed, From: cp.After}
	if err := r.resume(cp, resumed); err != nil {
		return res, err
	}
	r.emit(Event{Kind: Started}, cp)
	for !cp.Done {
		if err := r.page(ctx, cp); err != nil {
			res.Orders, res.Pages = cp.Count, cp.Pages
			return res, err
		}
	}
	r.emit(Event{Kind: Finished}, cp)
	res.Orders, res.Pages, res.Watermark = cp.Count, cp.Pages, cp.Watermark
	return res, nil
}

// run is one Run's state.
type run struct {
	c            *spapi.Client
	o            Options
	v            *version
	w            Writer
	rw           ResumableWriter // w, when it is one
	dataElements []string
	seen         map[string]struct{} // orders the current run wrote
	latest       time.Time           // the latest last-update time written
	began        spapi.StatsSnapshot
	resumed      bool
}

func newRun(c *spapi.Client, o Options, w Writer) (*run, error) {
	if o.API == "" {
		o.API = V0
	}
	if o.PageSize == 0 {
		o.PageSize = 100
	}
	v, err := lookupVersion(o.API)
	if err != nil {
		return nil, err
	}
	des, err := DataElements(o.API, o.PII)
	switch {
	case err != nil:
		return nil, fmt.Errorf("orderpull: Options.PII: %w", err)
	case c == nil || w == nil:
		return nil, errors.New("orderpull: Run needs a client and a Writer")
	case o.Seller == "" || len(o.Marketplaces) == 0:
		return nil, errors.New("orderpull: Options.Seller and Options.Marketplaces are required: the selling partner id and the marketplace ids to search")
	case o.PageSize < 1 || o.PageSize > 100:
		return nil, fmt.Errorf("orderpull: Options.PageSize is %d; use 1–100", o.PageSize)
	case !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since):
		return nil, errors.New("orderpull: Options.Until must be after Options.Since")
	case o.Checkpoints != nil && o.Job == "":
		return nil, errors.New("orderpull: Options.Job is required with Options.Checkpoints: it names the checkpoint")
	case o.Restart && o.Since.IsZero():
		return nil, ErrSinceRequired
	}
	r := &run{c: c, o: o, v: v, w: w, dataElements: des, seen: map[string]struct{}{}, began: c.Stats()}
	r.rw, _ = w.(ResumableWriter)
	return r, nil
}

// load returns the run's checkpoint: the saved one, a new run from a
// finished one's watermark (resumed either way), or a first run from Since.
func (r *run) load(ctx context.Context) (*checkpoint, bool, error) {
	prev, err := r.saved(ctx)
	if err != nil {
		return nil, false, err
	}
	o := r.o
	switch {
	case prev == nil && o.Since.IsZero():
		return nil, false, fmt.Errorf("%w (job %q of seller %s has no checkpoint)", ErrSinceRequired, o.Job, o.Seller)
	case prev == nil:
		return &checkpoint{API: o.API, After: o.Since, Before: o.Until, PII: r.dataElements}, false, nil
	case prev.Done:
		// Incremental: a new run from the watermark, after the output so far.
		return &checkpoint{API: o.API, Offset: prev.Offset, RunOffset: prev.Offset, After: prev.Watermark, Before: o.Until, PII: r.dataElements}, true, nil
	}
	return prev, true, nil
}

// saved reads the job's checkpoint (nil when there is none), or deletes it
// for Options.Restart.
func (r *run) saved(ctx context.Context) (*checkpoint, error) {
	st, o := r.o.Checkpoints, r.o
	if st == nil {
		return nil, nil
	}
	if o.Restart {
		if err := st.DeleteCheckpoint(ctx, o.Seller, o.Job); err != nil {
			return nil, fmt.Errorf("delete the checkpoint of job %q of seller %s: %w", o.Job, o.Seller, err)
		}
		return nil, nil
	}
	b, err := st.Checkpoint(ctx, o.Seller, o.Job)
	if err != nil || b == nil {
		if err != nil {
			err = fmt.Errorf("read the checkpoint of job %q of seller %s: %w", o.Job, o.Seller, err)
		}
		return nil, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, &ResumeError{Problem: fmt.Sprintf("checkpoint %s of seller %s is unreadable (%v)", o.Job, o.Seller, err)}
	}
	if cp.API != "" && cp.API != o.API {
		return nil, &ResumeError{Problem: fmt.Sprintf("checkpoint %s of seller %s belongs to Orders API %s, not %s", o.Job, o.Seller, cp.API, o.API)}
	}
	return &cp, nil
}

// resume brings a ResumableWriter's output to the checkpoint and learns
// which orders the current run already wrote.
func (r *run) resume(cp *checkpoint, resumed bool) error {
	r.resumed = resumed
	if r.rw == nil {
		return nil
	}
	var at *Position
	if resumed || r.o.Restart {
		at = &Position{Offset: cp.Offset, RunOffset: cp.RunOffset}
	}
	ids, err := r.rw.Resume(at)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r.seen[id] = struct{}{}
	}
	return nil
}

// page fetches, audits, writes and checkpoints the next page.
func (r *run) page(ctx context.Context, cp *checkpoint) error {
	q := query{seller: r.o.Seller, marketplaces: r.o.Marketplaces, after: cp.After, before: cp.Before,
		pageSize: r.o.PageSize, dataElements: r.dataElements}
	pg, err := r.v.fetch(ctx, r.c, q, cp.NextToken)
	if err != nil {
		var ae *spapi.APIError
		if cp.NextToken != "" && errors.As(err, &ae) && ae.Status == 400 {
			// The pagination token expired: ask again from the run's start.
			cp.NextToken = ""
			r.emit(Event{Kind: Restarted}, cp)
			return nil
		}
		return fmt.Errorf("page %d of seller %s's orders: %w", cp.Pages+1, r.o.Seller, err)
	}
	p := &Page{API: r.o.API, Number: cp.Pages + 1, Orders: r.fresh(pg.orders), PII: len(r.dataElements) > 0}
	// Audit before release: personal data reaches the Writer only after
	// its access is recorded.
	if len(p.Orders) > 0 && p.PII && r.o.Audit != nil {
		rel := Release{Seller: r.o.Seller, Operation: r.v.operation, Page: p.Number, Orders: len(p.Orders), DataElements: r.dataElements}
		if err := r.o.Audit(ctx, rel); err != nil {
			return &AuditError{Page: p.Number, Err: err}
		}
	}
	if err := r.w.WritePage(ctx, p); err != nil {
		return err
	}
	if r.rw != nil {
		cp.Offset = r.rw.Offset()
	}
	cp.Count += int64(len(p.Orders))
	cp.NextToken = pg.next
	cp.Pages++
	if pg.next == "" {
		cp.Done = true
		cp.Watermark = firstSet(pg.watermark, cp.Before, r.latest, cp.After)
	}
	if err := r.save(ctx, cp); err != nil {
		return err
	}
	r.emit(Event{Kind: PageDone, PageOrders: len(p.Orders)}, cp)
	return nil
}

// fresh leaves out the orders the run already wrote and notes the rest.
func (r *run) fresh(all []Order) []Order {
	out := all[:0]
	for _, o := range all {
		if _, dup := r.seen[o.ID]; dup {
			continue
		}
		r.seen[o.ID] = struct{}{}
		if o.LastUpdated.After(r.latest) {
			r.latest = o.LastUpdated
		}
		out = append(out, o)
	}
	return out
}

func (r *run) save(ctx context.Context, cp *checkpoint) error {
	if r.o.Checkpoints == nil {
		return nil
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := r.o.Checkpoints.SetCheckpoint(ctx, r.o.Seller, r.o.Job, b); err != nil {
		return fmt.Errorf("save the checkpoint of job %q of seller %s: %w", r.o.Job, r.o.Seller, err)
	}
	return nil
}

// emit completes ev from the checkpoint and the client's counters and
// hands it to Options.Progress.
func (r *run) emit(ev Event, cp *checkpoint) {
	if r.o.Progress == nil {
		return
	}
	st := r.c.Stats()
	ev.Resumed, ev.From, ev.Pages, ev.Orders = r.resumed, cp.After, cp.Pages, cp.Count
	ev.RateLimitWaits = st.LimiterWaits - r.began.LimiterWaits
	ev.RateLimitWait = st.LimiterWait - r.began.LimiterWait
	ev.Throttled = st.Throttled - r.began.Throttled
	r.o.Progress(ev)
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
