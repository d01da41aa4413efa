package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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

	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/spapi/orders2026"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newOrdersCmd) }

// API versions orders pull speaks.
const (
	ordersV0    = "v0"
	ordersV2026 = "2026-01-01"
)

// pullOptions are the flags of spgate orders pull.
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
			return runOrdersPull(cmd, streams, o)
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

// pullCheckpoint is the job position stored in the vault after each page.
type pullCheckpoint struct {
	API string `json:"api"`
	Out string `json:"out"`
	// Offset is how many bytes of Out are complete; RunOffset where the
	// current run began (orders after it are checked for duplicates).
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

// pullJob is everything a pull needs; the demo builds one without flags.
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
	Now      func() time.Time
}

// pullResult says what a pull did.
type pullResult struct {
	Orders  int64
	Pages   int64
	Resumed bool
	From    time.Time
	Out     string
}

func runOrdersPull(cmd *cobra.Command, streams IO, o pullOptions) error {
	noDump(cmd)
	ctx := cmd.Context()
	if o.Out == "" {
		return usageErr("--out is required: a .jsonl or .csv file")
	}
	if ext := strings.ToLower(filepath.Ext(o.Out)); ext != ".jsonl" && ext != ".csv" && ext != ".ndjson" {
		return usageErr("--out %s: the file name must end in .jsonl or .csv", o.Out)
	}
	if o.API != ordersV0 && o.API != ordersV2026 {
		return usageErr("--api %q: use v0 or 2026-01-01", o.API)
	}
	if o.PageSize < 1 || o.PageSize > 100 {
		return usageErr("--page-size must be 1–100")
	}
	for _, p := range o.PII {
		if _, err := piiFor(o.API, []string{p}); err != nil {
			return usageErr("%v", err)
		}
	}
	now := time.Now()
	var since, until time.Time
	var err error
	if o.Since != "" {
		if since, err = parseWhen(o.Since, now); err != nil {
			return usageErr("--since: %v", err)
		}
	}
	if o.Until != "" {
		if until, err = parseWhen(o.Until, now); err != nil {
			return usageErr("--until: %v", err)
		}
		if !since.IsZero() && !until.After(since) {
			return usageErr("--until must be after --since")
		}
	}
	abs, err := filepath.Abs(o.Out)
	if err != nil {
		return usageErr("--out: %v", err)
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := resolveSeller(ctx, v, o.Seller)
	if err != nil {
		return err
	}
	c, err := newClient(ctx, cmd, v)
	if err != nil {
		return err
	}
	job := o.Job
	if job == "" {
		job = "orders-pull/" + o.API + "/" + abs
	}
	res, err := pullOrders(ctx, pullJob{
		Vault: v, Client: c, Seller: s, API: o.API, Out: abs, Job: job,
		Since: since, Until: until, PII: o.PII, PageSize: o.PageSize, Restart: o.Restart,
		Progress: newProgress(streams.Err, c), Now: time.Now,
	})
	if err != nil {
		return err
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"orders": res.Orders, "pages": res.Pages, "resumed": res.Resumed, "out": res.Out, "seller": s.ID})
	}
	fmt.Fprintf(streams.Out, "%d orders of seller %s written to %s\n", res.Orders, s.ID, res.Out)
	return nil
}

// piiFor maps address/buyer to the API's names.
func piiFor(api string, pii []string) ([]string, error) {
	var out []string
	for _, p := range pii {
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "address", "shippingaddress", "recipient":
			if api == ordersV2026 {
				out = append(out, orders2026.Recipient)
			} else {
				out = append(out, orders.PIIShippingAddress)
			}
		case "buyer", "buyerinfo":
			if api == ordersV2026 {
				out = append(out, orders2026.Buyer)
			} else {
				out = append(out, orders.PIIBuyerInfo)
			}
		case "":
		default:
			return nil, fmt.Errorf("--pii %q: use address and/or buyer", p)
		}
	}
	return out, nil
}

// pullOrders runs (or resumes) one pull job.
func pullOrders(ctx context.Context, j pullJob) (pullResult, error) {
	res := pullResult{Out: j.Out}
	pii, err := piiFor(j.API, j.PII)
	if err != nil {
		return res, usageErr("%v", err)
	}
	if len(j.Seller.Marketplaces) == 0 {
		return res, &ExitError{Code: ExitConfig, Err: fmt.Errorf("seller %s has no marketplaces in the vault: set them with `spgate seller update %s --marketplace M[,M…]` (marketplace ids or country codes in its region)", j.Seller.ID, j.Seller.ID)}
	}
	cp, err := loadCheckpoint(ctx, j)
	if err != nil {
		return res, err
	}
	switch {
	case cp == nil:
		if j.Since.IsZero() {
			return res, usageErr("--since is required on the first run of this job (no checkpoint for seller %s and %s)", j.Seller.ID, j.Out)
		}
		cp = &pullCheckpoint{API: j.API, Out: j.Out, After: j.Since, Before: j.Until, PII: pii}
	case cp.Done:
		// Incremental: a new run from the watermark, appended to the file.
		res.Resumed = true
		cp = &pullCheckpoint{API: j.API, Out: j.Out, Offset: cp.Offset, RunOffset: cp.Offset, After: cp.Watermark, Before: j.Until, PII: pii}
	default:
		res.Resumed = true
	}
	res.From = cp.After

	f, err := os.OpenFile(j.Out, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return res, fmt.Errorf("open %s: %w", j.Out, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, err
	}
	if st.Size() < cp.Offset {
		return res, &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s is shorter (%d bytes) than its checkpoint (%d bytes): it was changed by something else; start again with --restart", j.Out, st.Size(), cp.Offset)}
	}
	// Drop whatever was written after the last checkpoint.
	if err := f.Truncate(cp.Offset); err != nil {
		return res, fmt.Errorf("truncate %s to its checkpoint: %w", j.Out, err)
	}
	if _, err := f.Seek(cp.Offset, io.SeekStart); err != nil {
		return res, err
	}
	seen, err := idsInRange(j.Out, cp.RunOffset, cp.Offset)
	if err != nil {
		return res, err
	}
	csvOut := strings.EqualFold(filepath.Ext(j.Out), ".csv")
	// A new CSV file gets its header with the first page, so a run that
	// fails before then (Amazon, or the access log) leaves it empty and the
	// next run starts it without --restart.
	var header []byte
	if csvOut && cp.Offset == 0 {
		var b bytes.Buffer
		writeCSV(&b, csvHeader(j.API))
		header = b.Bytes()
	}
	if j.Progress != nil {
		j.Progress.start(cp.After, cp.Count, res.Resumed)
		defer j.Progress.finish()
	}

	fetch := pageFetcher(j, cp, pii)
	for {
		recs, next, watermark, err := fetch(ctx, cp.NextToken)
		if err != nil {
			var ae *spapi.APIError
			if cp.NextToken != "" && errors.As(err, &ae) && ae.Status == 400 {
				// The pagination token expired: ask again from the run's start;
				// orders already written are skipped by id.
				cp.NextToken = ""
				continue
			}
			return res, pullError(err, j)
		}
		var b bytes.Buffer
		var last time.Time
		var n int64
		for _, r := range recs {
			if _, dup := seen[r.id]; dup {
				continue
			}
			seen[r.id] = struct{}{}
			if csvOut {
				writeCSV(&b, r.csv)
			} else {
				b.Write(r.json)
				b.WriteByte('\n')
			}
			n++
			if r.updated.After(last) {
				last = r.updated
			}
		}
		// Audit before release: a page with personal data is written to
		// the file only after one access event for it is in the vault.
		if n > 0 && len(pii) > 0 {
			if err := recordRelease(ctx, j.Vault, vault.AccessEvent{Seller: j.Seller.ID, Operation: pullOperation(j.API),
				PII: true, Status: 200}, fmt.Sprintf("page %d of seller %s's orders (personal data)", cp.Pages+1, j.Seller.ID)); err != nil {
				return res, err
			}
		}
		cp.Count += n
		wrote := b.Len() > 0
		if header != nil {
			if _, err := f.Write(header); err != nil {
				return res, fmt.Errorf("write %s: %w", j.Out, err)
			}
			cp.Offset += int64(len(header))
			cp.RunOffset = cp.Offset
			header, wrote = nil, true
		}
		if wrote {
			if _, err := f.Write(b.Bytes()); err != nil {
				return res, fmt.Errorf("write %s: %w", j.Out, err)
			}
			if err := f.Sync(); err != nil {
				return res, fmt.Errorf("sync %s to disk: %w", j.Out, err)
			}
		}
		cp.Offset += int64(b.Len())
		cp.NextToken = next
		cp.Pages++
		if next == "" {
			cp.Done = true
			cp.Watermark = watermark
			if cp.Watermark.IsZero() {
				cp.Watermark = cp.Before
			}
			if cp.Watermark.IsZero() {
				cp.Watermark = last
			}
		}
		if err := saveCheckpoint(ctx, j, cp); err != nil {
			return res, err
		}
		if j.Progress != nil {
			j.Progress.page(cp.Count, cp.Pages)
		}
		if cp.Done {
			break
		}
	}
	res.Orders, res.Pages = cp.Count, cp.Pages
	return res, nil
}

// pullOperation is the operation a pull of api calls, for the access log.
func pullOperation(api string) string {
	if api == ordersV2026 {
		return "searchOrders"
	}
	return "getOrders"
}

func pullError(err error, j pullJob) error {
	var ae *spapi.APIError
	if errors.As(err, &ae) {
		return callError(err)
	}
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("interrupted; run the same command again to resume from the last checkpoint")}
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("pulling orders of seller %s: %w (run the same command again to resume)", j.Seller.ID, err)}
}

func loadCheckpoint(ctx context.Context, j pullJob) (*pullCheckpoint, error) {
	if j.Restart {
		if err := j.Vault.DeleteCheckpoint(ctx, j.Seller.ID, j.Job); err != nil {
			return nil, storeErr(err)
		}
		if err := os.Remove(j.Out); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove %s for --restart: %w", j.Out, err)
		}
		return nil, nil
	}
	c, err := j.Vault.GetCheckpoint(ctx, j.Seller.ID, j.Job)
	if errors.Is(err, vault.ErrNotFound) {
		if st, err := os.Stat(j.Out); err == nil && st.Size() > 0 {
			return nil, usageErr("%s already exists and no checkpoint belongs to it: choose another --out, remove the file, or pass --restart", j.Out)
		}
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	var cp pullCheckpoint
	if err := json.Unmarshal(c.Value, &cp); err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("checkpoint %s of seller %s is unreadable (%v): start again with --restart", j.Job, j.Seller.ID, err)}
	}
	return &cp, nil
}

func saveCheckpoint(ctx context.Context, j pullJob, cp *pullCheckpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := j.Vault.SetCheckpoint(ctx, j.Seller.ID, j.Job, b); err != nil {
		return storeErr(fmt.Errorf("save the checkpoint: %w", err))
	}
	return nil
}

// record is one order ready to write.
type record struct {
	id      string
	updated time.Time
	json    []byte
	csv     []string
}

type fetchFunc func(ctx context.Context, token string) (recs []record, next string, watermark time.Time, err error)

func pageFetcher(j pullJob, cp *pullCheckpoint, pii []string) fetchFunc {
	if j.API == ordersV2026 {
		oc := orders2026.New(j.Client)
		q := orders2026.Query{Seller: j.Seller.ID, MarketplaceIDs: j.Seller.Marketplaces,
			LastUpdatedAfter: cp.After, LastUpdatedBefore: cp.Before, MaxResultsPerPage: j.PageSize, IncludedData: pii}
		return func(ctx context.Context, token string) ([]record, string, time.Time, error) {
			p, err := oc.SearchOrders(ctx, q, token)
			if err != nil {
				return nil, "", time.Time{}, err
			}
			recs := make([]record, 0, len(p.Orders))
			for _, o := range p.Orders {
				raw, err := json.Marshal(o)
				if err != nil {
					return nil, "", time.Time{}, err
				}
				upd, _ := time.Parse(time.RFC3339, o.LastUpdatedTime)
				recs = append(recs, record{id: o.OrderID, updated: upd, json: raw,
					csv: []string{o.OrderID, o.CreatedTime, o.LastUpdatedTime, string(raw)}})
			}
			next := ""
			if p.Pagination != nil {
				next = p.Pagination.NextToken
			}
			wm, _ := time.Parse(time.RFC3339, p.LastUpdatedBefore)
			return recs, next, wm, nil
		}
	}
	oc := orders.New(j.Client)
	q := orders.Query{Seller: j.Seller.ID, MarketplaceIDs: j.Seller.Marketplaces,
		LastUpdatedAfter: cp.After, LastUpdatedBefore: cp.Before, MaxResultsPerPage: j.PageSize, PII: pii}
	return func(ctx context.Context, token string) ([]record, string, time.Time, error) {
		p, err := oc.GetOrders(ctx, q, token)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		recs := make([]record, 0, len(p.Orders))
		for _, o := range p.Orders {
			raw, err := json.Marshal(o)
			if err != nil {
				return nil, "", time.Time{}, err
			}
			upd, _ := time.Parse(time.RFC3339, o.LastUpdateDate)
			recs = append(recs, record{id: o.AmazonOrderId, updated: upd, json: raw, csv: v0CSV(o)})
		}
		wm, _ := time.Parse(time.RFC3339, p.LastUpdatedBefore)
		return recs, p.NextToken, wm, nil
	}
}

func csvHeader(api string) []string {
	if api == ordersV2026 {
		return []string{"orderId", "createdTime", "lastUpdatedTime", "json"}
	}
	return []string{"AmazonOrderId", "PurchaseDate", "LastUpdateDate", "OrderStatus", "MarketplaceId", "FulfillmentChannel",
		"Currency", "Amount", "ShipName", "AddressLine1", "AddressLine2", "City", "StateOrRegion", "PostalCode", "CountryCode", "Phone",
		"BuyerEmail", "BuyerName"}
}

func v0CSV(o orders.Order) []string {
	row := []string{o.AmazonOrderId, o.PurchaseDate, o.LastUpdateDate, o.OrderStatus, o.MarketplaceId, o.FulfillmentChannel}
	if o.OrderTotal != nil {
		row = append(row, o.OrderTotal.CurrencyCode, o.OrderTotal.Amount)
	} else {
		row = append(row, "", "")
	}
	a := o.ShippingAddress
	if a == nil {
		a = &orders.Address{}
	}
	row = append(row, a.Name, a.AddressLine1, a.AddressLine2, a.City, a.StateOrRegion, a.PostalCode, a.CountryCode, a.Phone)
	bi := o.BuyerInfo
	if bi == nil {
		bi = &orders.BuyerInfo{}
	}
	return append(row, bi.BuyerEmail, bi.BuyerName)
}

func writeCSV(b *bytes.Buffer, row []string) {
	w := csv.NewWriter(b)
	_ = w.Write(row) // a bytes.Buffer does not fail
	w.Flush()
}

// idsInRange reads the order ids written to path between from and to.
func idsInRange(path string, from, to int64) (map[string]struct{}, error) {
	seen := map[string]struct{}{}
	if to <= from {
		return seen, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s to resume: %w", path, err)
	}
	defer f.Close()
	r := io.NewSectionReader(f, from, to-from)
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		for {
			row, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read %s to resume: %w (start again with --restart)", path, err)
			}
			if len(row) > 0 {
				seen[row[0]] = struct{}{}
			}
		}
		return seen, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var id struct {
			V0   string `json:"AmazonOrderId"`
			V226 string `json:"orderId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &id); err != nil {
			return nil, fmt.Errorf("read %s to resume: a line is not JSON (%v); start again with --restart", path, err)
		}
		seen[id.V0+id.V226] = struct{}{}
	}
	return seen, sc.Err()
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
	c     *spapi.Client
	now   func() time.Time
	began time.Time

	mu         sync.Mutex
	base       int64 // orders written before this process started
	count      int64
	pages      int64
	lastPageAt time.Time
	stop       chan struct{}
	done       chan struct{}
}

func newProgress(w io.Writer, c *spapi.Client) *progress {
	p := &progress{w: w, c: c, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
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
	if p.c != nil {
		st := p.c.Stats()
		if st.LimiterWaits > 0 || st.Throttled > 0 {
			fmt.Fprintf(&b, ", rate-limit waits %d (%s)", st.LimiterWaits, st.LimiterWait.Round(100*time.Millisecond))
		}
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
