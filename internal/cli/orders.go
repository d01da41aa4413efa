package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// spgate orders pull: the flags and the printing. The pull itself (pages,
// checkpoints, resuming, the output formats, the audit before release) is
// package orderpull.

func init() { commands = append(commands, newOrdersCmd) }

// API versions orders pull speaks.
const (
	ordersV0    = orderpull.V0
	ordersV2026 = orderpull.V2026
)

// pullOptions are the flags of spgate orders pull and what the command takes
// from its surroundings, injected so that tests run it without cobra.
type pullOptions struct {
	Seller   string
	Since    string
	Until    string
	PII      []string
	API      string
	Out      string
	Job      string
	PageSize int
	Restart  bool

	IO   IO
	JSON bool // --json
	Now  func() time.Time
	// OpenVault opens the vault; NewClient builds the SP-API client of the
	// app --app names.
	OpenVault func() (*vault.Vault, error)
	NewClient func(ctx context.Context, v *vault.Vault) (*spapi.Client, error)
}

func newOrdersCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "orders",
		Short: "Work with a seller's orders",
		Args:  cobra.NoArgs,
	}
	o := pullOptions{}
	pull := &cobra.Command{
		Use:   "pull --seller S --since T --out FILE.jsonl|FILE.csv",
		Short: "Download orders updated in a time range to a JSONL or CSV file, incrementally and resumably",
		Long: `pull writes every order last updated since --since (and before --until) to
--out, one JSON object per line (.jsonl) or one CSV row per order (.csv).

It is incremental and resumable: after each page it flushes the file to disk
and then records a checkpoint (file offset, pagination token, watermark) in
the vault. Killed at any moment, the next run with the same --out truncates
the file to the last checkpoint and continues from there, so no order is lost
or written twice. A finished run leaves a watermark: the next run appends only
orders updated since then (--restart starts over).

--pii address,buyer asks for shipping addresses and buyer data; with Orders v0
spgate gets the Restricted Data Token itself, with 2026-01-01 it asks for
includedData. The app needs the matching restricted role.

Times are RFC 3339 (2025-01-31T00:00:00Z), a date (2025-01-31), or a
duration ago (72h, 7d).`,
		Example: `  spgate orders pull --seller main --since 7d --out orders.jsonl
  spgate orders pull --seller A2VYDBAL8BMVQK --since 2025-01-01 --pii address --out orders.csv
  spgate orders pull --seller main --since 30d --api 2026-01-01 --pii address,buyer --out orders.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			noDump(cmd)
			o.IO, o.JSON, o.Now = streams, jsonOut(cmd), time.Now
			o.OpenVault = func() (*vault.Vault, error) { return openVault(cmd, false) }
			o.NewClient = func(ctx context.Context, v *vault.Vault) (*spapi.Client, error) { return newClient(ctx, cmd, v) }
			return runOrdersPull(cmd.Context(), &o)
		},
	}
	addClientFlags(pull)
	f := pull.Flags()
	f.StringVar(&o.Seller, flagSeller, "", "seller (id or name) whose orders to pull (required)")
	f.StringVar(&o.Since, "since", "", "orders last updated at or after this time: RFC 3339, a date, or a duration ago (72h, 7d) (required on the first run)")
	f.StringVar(&o.Until, "until", "", "orders last updated before this time (default: as late as Amazon allows)")
	f.StringSliceVar(&o.PII, "pii", nil, "personal data to include: address, buyer (needs the app's restricted roles)")
	f.StringVar(&o.API, "api", ordersV0, "Orders API version: v0 or 2026-01-01")
	f.StringVar(&o.Out, "out", "", "output file, .jsonl or .csv (required)")
	f.StringVar(&o.Job, "job", "", "checkpoint name (default: derived from --api and --out)")
	f.IntVar(&o.PageSize, "page-size", 100, "orders per page, 1–100")
	f.BoolVar(&o.Restart, "restart", false, "ignore the checkpoint: truncate --out and start again from --since")
	cmd.AddCommand(pull)
	return cmd
}

// parseWhen reads RFC 3339, a date, or a duration ago ("72h", "7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseFloat(n, 64); err == nil && days >= 0 {
			return now.Add(-time.Duration(days * 24 * float64(time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2025-01-31T00:00:00Z), a date (2025-01-31) or a duration ago (72h, 7d)", s)
}

// window checks the flags that need no vault and returns the pull's time
// window and the absolute path of --out.
func (o *pullOptions) window() (since, until time.Time, out string, err error) {
	if o.Out == "" {
		return since, until, "", usageErr("--out is required: a .jsonl or .csv file")
	}
	if ext := strings.ToLower(filepath.Ext(o.Out)); ext != ".jsonl" && ext != ".csv" && ext != ".ndjson" {
		return since, until, "", usageErr("--out %s: the file name must end in .jsonl or .csv", o.Out)
	}
	if o.API != ordersV0 && o.API != ordersV2026 {
		return since, until, "", usageErr("--api %q: use v0 or 2026-01-01", o.API)
	}
	if o.PageSize < 1 || o.PageSize > 100 {
		return since, until, "", usageErr("--page-size must be 1–100")
	}
	if _, err := piiFor(o.API, o.PII); err != nil {
		return since, until, "", usageErr("%v", err)
	}
	now := o.Now()
	if o.Since != "" {
		if since, err = parseWhen(o.Since, now); err != nil {
			return since, until, "", usageErr("--since: %v", err)
		}
	}
	if o.Until != "" {
		if until, err = parseWhen(o.Until, now); err != nil {
			return since, until, "", usageErr("--until: %v", err)
		}
		if !since.IsZero() && !until.After(since) {
			return since, until, "", usageErr("--until must be after --since")
		}
	}
	if out, err = filepath.Abs(o.Out); err != nil {
		return since, until, "", usageErr("--out: %v", err)
	}
	return since, until, out, nil
}

func runOrdersPull(ctx context.Context, o *pullOptions) error {
	since, until, out, err := o.window()
	if err != nil {
		return err
	}
	v, err := o.OpenVault()
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := resolveSeller(ctx, v, o.Seller)
	if err != nil {
		return err
	}
	c, err := o.NewClient(ctx, v)
	if err != nil {
		return err
	}
	job := o.Job
	if job == "" {
		job = "orders-pull/" + o.API + "/" + out
	}
	res, err := pullOrders(ctx, pullJob{
		Vault: v, Client: c, Seller: s, API: o.API, Out: out, Job: job,
		Since: since, Until: until, PII: o.PII, PageSize: o.PageSize, Restart: o.Restart,
		Progress: newProgress(o.IO.Err, c), Now: o.Now,
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.IO.Out, map[string]any{"orders": res.Orders, "pages": res.Pages, "resumed": res.Resumed, "out": res.Out, "seller": s.ID})
	}
	fmt.Fprintf(o.IO.Out, "%d orders of seller %s written to %s\n", res.Orders, s.ID, res.Out)
	return nil
}

// piiFor maps address/buyer to the API's names (--pii).
func piiFor(api string, pii []string) ([]string, error) {
	des, err := orderpull.DataElements(api, pii)
	if err != nil {
		return nil, fmt.Errorf("--pii: %w", err)
	}
	return des, nil
}

// pullJob is one pull of the vault's seller into a file; the demo builds
// one without flags.
type pullJob struct {
	Vault    *vault.Vault
	Client   *spapi.Client
	Seller   vault.Seller
	API      string
	Out      string
	Job      string
	Since    time.Time
	Until    time.Time
	PII      []string // address, buyer
	PageSize int
	Restart  bool
	Progress *progress
	Now      func() time.Time // the progress's clock (default time.Now)
}

// pullResult says what a pull did.
type pullResult struct {
	Orders  int64
	Pages   int64
	Resumed bool
	From    time.Time
	Out     string
}

// pullOrders runs (or resumes) one pull job with the vault's checkpoints,
// recording each page of personal data in the vault's access log before
// it is written.
func pullOrders(ctx context.Context, j pullJob) (pullResult, error) {
	res := pullResult{Out: j.Out}
	if len(j.Seller.Marketplaces) == 0 {
		return res, &ExitError{Code: ExitConfig, Err: fmt.Errorf("seller %s has no marketplaces in the vault: set them with `spgate seller update %s --marketplace M[,M…]` (marketplace ids or country codes in its region)", j.Seller.ID, j.Seller.ID)}
	}
	o := orderpull.Options{Seller: j.Seller.ID, Marketplaces: j.Seller.Marketplaces, API: j.API,
		Since: j.Since, Until: j.Until, PII: j.PII, PageSize: j.PageSize,
		Checkpoints: appvault.NewCheckpoints(j.Vault), Job: j.Job, Restart: j.Restart,
		Audit: func(ctx context.Context, r orderpull.Release) error {
			return recordRelease(ctx, j.Vault, vault.AccessEvent{Seller: r.Seller, Operation: r.Operation, PII: true, Status: 200},
				fmt.Sprintf("page %d of seller %s's orders (personal data)", r.Page, r.Seller))
		}}
	if j.Progress != nil {
		if j.Now != nil {
			j.Progress.now = j.Now
		}
		o.Progress = j.Progress.event
		defer j.Progress.finish()
	}
	f := orderpull.NewFile(j.Out)
	defer f.Close()
	r, err := orderpull.Run(ctx, j.Client, o, f)
	res.Orders, res.Pages, res.Resumed, res.From = r.Orders, r.Pages, r.Resumed, r.From
	if err != nil {
		return res, pullError(err, j)
	}
	return res, nil
}

// pullError gives a pull's error its exit code and says which flag fixes
// it.
func pullError(err error, j pullJob) error {
	var audit *orderpull.AuditError
	var resume *orderpull.ResumeError
	var ae *spapi.APIError
	switch {
	case errors.As(err, &audit):
		return audit.Err // recordRelease's: nothing of the page was written
	case errors.Is(err, orderpull.ErrSinceRequired) && j.Restart:
		return usageErr("--since is required with --restart: the job starts again from there")
	case errors.Is(err, orderpull.ErrSinceRequired):
		return usageErr("--since is required on the first run of this job (no checkpoint for seller %s and %s)", j.Seller.ID, j.Out)
	case errors.Is(err, orderpull.ErrOutputExists):
		return usageErr("%s already exists and no checkpoint belongs to it: choose another --out, remove the file, or pass --restart", j.Out)
	case errors.As(err, &resume):
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s: start again with --restart", resume.Problem)}
	case errors.As(err, &ae):
		return callError(err)
	case errors.Is(err, context.Canceled):
		return &ExitError{Code: ExitFailure, Err: errors.New("interrupted; run the same command again to resume from the last checkpoint")}
	case errors.Is(err, vault.ErrLocked), errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrWrongKey):
		return storeErr(err)
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("pulling orders of seller %s: %w (run the same command again to resume)", j.Seller.ID, err)}
}

// progress reports a pull on stderr: a redrawn line on a terminal, one plain
// line per page otherwise. Amazon tells neither how many orders a query has
// nor in which order it returns them, so there is no total to compare with:
// progress says "page N, M orders" and the rate, never a percentage or an
// ETA (one from the last-update times of a page reached 98 % with two
// thirds of the orders still to come).
type progress struct {
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

// newProgress reports on w. The client is not read: the pull's events
// carry its rate-limit waits.
func newProgress(w io.Writer, _ *spapi.Client) *progress {
	p := &progress{w: w, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// event shows one of the pull's events.
func (p *progress) event(ev orderpull.Event) {
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

func (p *progress) start(from time.Time, count int64, resumed bool) {
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

func (p *progress) page(count, pages int64) {
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
func (p *progress) status(tty bool) string {
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

func (p *progress) draw() {
	p.mu.Lock()
	count, pages := p.count, p.pages
	p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[Kpage %d, %d orders%s", pages, count, p.status(true))
}

func (p *progress) finish() {
	if p.tty && p.stop != nil {
		close(p.stop)
		<-p.done
		p.draw()
		fmt.Fprintln(p.w)
	}
}
