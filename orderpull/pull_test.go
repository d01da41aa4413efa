package orderpull_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
)

// env is an offline Amazon and a client of its demo app for one seller.
type env struct {
	srv          *amazontest.Server
	c            *spapi.Client
	seller       amazontest.DemoSeller
	since, until time.Time
}

// newEnv starts the offline Amazon with n orders per seller. The client
// does not pace (ratelimit.Unlimited) unless clk is set: then the client,
// its limiter and the emulator all run on clk.
func newEnv(t *testing.T, n int, clk *clock.Fake) *env {
	t.Helper()
	opts := []amazontest.Option{amazontest.WithOrdersPerSeller(n)}
	var limiter *ratelimit.Limiter
	now := time.Now()
	if clk != nil {
		opts = append(opts, amazontest.WithClock(clk))
		now = clk.Now()
	} else {
		opts = append(opts, amazontest.WithoutRateLimits())
		limiter = ratelimit.New(ratelimit.Options{Store: ratelimit.Unlimited{}})
	}
	srv := amazontest.NewServer(opts...)
	t.Cleanup(srv.Close)
	d := srv.Demo()
	ep, err := spapi.Custom(srv.URL, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := spapi.Config{AppID: d.AppID, Endpoints: ep, Limiter: limiter,
		Credentials: lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)},
		Sellers:     spapi.StaticSellers{{ID: d.SellerID, Region: spapi.NA, RefreshToken: secret.New(d.RefreshToken)}}}
	if clk != nil {
		cfg.Clock = clk
	}
	c, err := spapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, c: c, seller: d.Sellers[0],
		since: now.Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second),
		until: now.Add(-time.Hour).UTC().Truncate(time.Second)}
}

// options selects every order of the window, in pages of 10.
func (e *env) options(api string) orderpull.Options {
	return orderpull.Options{Seller: e.seller.ID, Marketplaces: e.seller.Marketplaces, API: api,
		Since: e.since, Until: e.until, PageSize: 10}
}

// want lists, with a query of its own, the ids of the orders in the window.
func (e *env) want(t *testing.T) []string {
	t.Helper()
	var ids []string
	for o, err := range orders.New(e.c).ListOrders(context.Background(), orders.Query{Seller: e.seller.ID,
		MarketplaceIDs: e.seller.Marketplaces, LastUpdatedAfter: e.since, LastUpdatedBefore: e.until}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.AmazonOrderId)
	}
	slices.Sort(ids)
	if len(ids) < 25 {
		t.Fatalf("only %d orders in the window", len(ids))
	}
	return ids
}

// memCheckpoints is a CheckpointStore in memory.
type memCheckpoints struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memCheckpoints) Checkpoint(_ context.Context, seller, job string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[seller+"/"+job], nil
}

func (s *memCheckpoints) SetCheckpoint(_ context.Context, seller, job string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[seller+"/"+job] = slices.Clone(v)
	return nil
}

func (s *memCheckpoints) DeleteCheckpoint(_ context.Context, seller, job string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, seller+"/"+job)
	return nil
}

// edit changes one field of every saved checkpoint.
func (s *memCheckpoints) edit(t *testing.T, field string, value any) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range s.m {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m[field] = value
		s.m[k], _ = json.Marshal(m)
	}
}

// stopAt is a File that fails to write page n, as a full disk would.
type stopAt struct {
	*orderpull.File
	n int64
}

var errDiskFull = errors.New("disk full")

func (s stopAt) WritePage(ctx context.Context, p *orderpull.Page) error {
	if p.Number == s.n {
		return errDiskFull
	}
	return s.File.WritePage(ctx, p)
}

// jsonlIDs returns the ids in a JSONL file, sorted, and fails on a
// duplicate or a line without check.
func jsonlIDs(t *testing.T, path, check string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o struct{ AmazonOrderId, OrderID string }
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d is not JSON: %v", len(ids)+1, err)
		}
		id := o.AmazonOrderId + o.OrderID
		if id == "" || seen[id] {
			t.Fatalf("order %q has no id or is written twice", id)
		}
		if !bytes.Contains(sc.Bytes(), []byte(check)) {
			t.Fatalf("order %s lacks %s: %.300s", id, check, sc.Bytes())
		}
		seen[id] = true
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// recorder collects events and releases.
type recorder struct {
	events   []orderpull.Event
	releases []orderpull.Release
	fail     func(orderpull.Release) error
}

func (r *recorder) progress(ev orderpull.Event) { r.events = append(r.events, ev) }

func (r *recorder) audit(_ context.Context, rel orderpull.Release) error {
	if r.fail != nil {
		if err := r.fail(rel); err != nil {
			return err
		}
	}
	r.releases = append(r.releases, rel)
	return nil
}

func (r *recorder) kinds(k orderpull.EventKind) []orderpull.Event {
	var out []orderpull.Event
	for _, ev := range r.events {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// TestRunFile pulls into a JSONL file with addresses, in both API
// versions: every order once, with its address; an event and an access
// record per page; a second run appends only what changed since.
func TestRunFile(t *testing.T) {
	e := newEnv(t, 60, nil)
	want := e.want(t)
	pages := int64(len(want)+9) / 10
	for _, tc := range []struct{ api, operation, element, check string }{
		{orderpull.V0, "getOrders", orders.PIIShippingAddress, `"AddressLine1"`},
		{orderpull.V2026, "searchOrders", "RECIPIENT", `"recipient"`},
	} {
		t.Run(tc.api, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "orders.jsonl")
			store, rec := &memCheckpoints{}, &recorder{}
			o := e.options(tc.api)
			o.PII, o.Checkpoints, o.Job, o.Audit, o.Progress = []string{orderpull.Address}, store, "job", rec.audit, rec.progress
			f := orderpull.NewFile(path)
			res, err := orderpull.Run(context.Background(), e.c, o, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonlIDs(t, path, tc.check); !slices.Equal(got, want) {
				t.Fatalf("pulled %d orders, the window has %d", len(got), len(want))
			}
			if res.Orders != int64(len(want)) || res.Pages != pages || res.Resumed || !res.Watermark.Equal(e.until) {
				t.Errorf("result %+v, want %d orders in %d pages up to %s", res, len(want), pages, e.until)
			}
			checkEvents(t, rec, pages, int64(len(want)))
			if int64(len(rec.releases)) != pages {
				t.Fatalf("%d releases recorded for %d pages", len(rec.releases), pages)
			}
			for i, rel := range rec.releases {
				if rel.Seller != e.seller.ID || rel.Operation != tc.operation || rel.Page != int64(i+1) || rel.Orders == 0 ||
					!slices.Equal(rel.DataElements, []string{tc.element}) {
					t.Fatalf("release %d: %+v", i+1, rel)
				}
			}

			// The next run starts at the watermark: nothing new, nothing twice.
			before, _ := os.ReadFile(path)
			rec2 := &recorder{}
			o.Audit, o.Progress = rec2.audit, rec2.progress
			f = orderpull.NewFile(path)
			res, err = orderpull.Run(context.Background(), e.c, o, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			if !res.Resumed || res.Orders != 0 || !res.From.Equal(e.until) || !bytes.Equal(before, after) {
				t.Errorf("incremental run: %+v, file %d → %d bytes", res, len(before), len(after))
			}
			if st := rec2.kinds(orderpull.Started); len(st) != 1 || !st[0].Resumed || len(rec2.releases) != 0 {
				t.Errorf("incremental run: started %+v, %d releases", st, len(rec2.releases))
			}
		})
	}
}

// checkEvents: Started first, a PageDone per page counting up, Finished
// last with every order.
func checkEvents(t *testing.T, rec *recorder, pages, total int64) {
	t.Helper()
	evs := rec.events
	if len(evs) != int(pages)+2 || evs[0].Kind != orderpull.Started || evs[len(evs)-1].Kind != orderpull.Finished {
		t.Fatalf("%d events (first %v, last %v), want Started, %d PageDone, Finished", len(evs), evs[0].Kind, evs[len(evs)-1].Kind, pages)
	}
	var sum int64
	for i, ev := range rec.kinds(orderpull.PageDone) {
		sum += int64(ev.PageOrders)
		if ev.Pages != int64(i+1) || ev.Orders != sum {
			t.Fatalf("page event %d: %+v (orders so far %d)", i+1, ev, sum)
		}
	}
	if last := evs[len(evs)-1]; last.Orders != total || last.Pages != pages {
		t.Fatalf("finished with %+v, want %d orders in %d pages", last, total, pages)
	}
}

// TestResume stops a pull at its third page, leaves half a page behind as
// a killed process would, and runs it again: it continues from the
// checkpoint and the file holds every order once.
func TestResume(t *testing.T) {
	e := newEnv(t, 60, nil)
	want := e.want(t)
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	store := &memCheckpoints{}
	o := e.options(orderpull.V0)
	o.PII, o.Checkpoints, o.Job = []string{orderpull.Address}, store, "job"
	f := orderpull.NewFile(path)
	res, err := orderpull.Run(context.Background(), e.c, o, stopAt{f, 3})
	f.Close()
	if !errors.Is(err, errDiskFull) || res.Pages != 2 || res.Orders != 20 {
		t.Fatalf("stopped run: %+v, %v; want 2 pages, 20 orders, disk full", res, err)
	}
	// Half an order written after the checkpoint, as by a process killed
	// mid-write.
	half, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	half.WriteString(`{"AmazonOrderId":"111-`)
	half.Close()

	rec := &recorder{}
	o.Progress = rec.progress
	f = orderpull.NewFile(path)
	res, err = orderpull.Run(context.Background(), e.c, o, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonlIDs(t, path, `"AddressLine1"`); !slices.Equal(got, want) {
		t.Fatalf("after resuming the file has %d orders, the window %d", len(got), len(want))
	}
	st := rec.kinds(orderpull.Started)
	if !res.Resumed || len(st) != 1 || !st[0].Resumed || st[0].Pages != 2 || st[0].Orders != 20 {
		t.Fatalf("resumed run: %+v, started %+v; want it to continue after 2 pages and 20 orders", res, st)
	}
	if res.Orders != int64(len(want)) {
		t.Errorf("result counts %d orders, want %d", res.Orders, len(want))
	}
}

// TestExpiredPageToken: Amazon refuses a resumed run's pagination token
// (they expire); the run asks again from its start and skips the orders it
// already wrote.
func TestExpiredPageToken(t *testing.T) {
	e := newEnv(t, 60, nil)
	want := e.want(t)
	for _, ext := range []string{".jsonl", ".csv"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "orders"+ext)
			store := &memCheckpoints{}
			o := e.options(orderpull.V0)
			o.Checkpoints, o.Job = store, "job"
			f := orderpull.NewFile(path)
			if _, err := orderpull.Run(context.Background(), e.c, o, stopAt{f, 3}); !errors.Is(err, errDiskFull) {
				t.Fatal(err)
			}
			f.Close()
			store.edit(t, "nextToken", "an-expired-token")

			rec := &recorder{}
			o.Progress = rec.progress
			f = orderpull.NewFile(path)
			res, err := orderpull.Run(context.Background(), e.c, o, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.kinds(orderpull.Restarted)) != 1 {
				t.Errorf("events %+v: want one Restarted", rec.events)
			}
			var got []string
			if ext == ".csv" {
				got = csvIDs(t, path)
			} else {
				got = jsonlIDs(t, path, "")
			}
			if !slices.Equal(got, want) || res.Orders != int64(len(want)) {
				t.Fatalf("file has %d orders (result %d), the window %d", len(got), res.Orders, len(want))
			}
		})
	}
}

// csvIDs reads a v0 CSV file: its header once, then the sorted ids; it
// fails on a duplicate or a row without a street address when the file
// has addresses.
func csvIDs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[0][0] != "AmazonOrderId" || rows[0][9] != "AddressLine1" {
		t.Fatalf("no v0 header: %v", rows)
	}
	var ids []string
	for _, r := range rows[1:] {
		if slices.Contains(ids, r[0]) || r[0] == "AmazonOrderId" {
			t.Fatalf("row %v is written twice", r[:3])
		}
		ids = append(ids, r[0])
	}
	slices.Sort(ids)
	return ids
}

// TestWriters: a File and the stream writers write the same JSONL and
// CSV; the CSV has its header once and an address per row.
func TestWriters(t *testing.T) {
	e := newEnv(t, 40, nil)
	want := e.want(t)
	for _, tc := range []struct {
		api, ext string
		stream   func(*bytes.Buffer) orderpull.Writer
		header   string
	}{
		{orderpull.V0, ".csv", func(b *bytes.Buffer) orderpull.Writer { return orderpull.NewCSV(b) }, "AmazonOrderId,PurchaseDate,"},
		{orderpull.V2026, ".csv", func(b *bytes.Buffer) orderpull.Writer { return orderpull.NewCSV(b) }, "orderId,createdTime,lastUpdatedTime,json\n"},
		{orderpull.V0, ".jsonl", func(b *bytes.Buffer) orderpull.Writer { return orderpull.NewJSONL(b) }, `{"AmazonOrderId":`},
		{orderpull.V2026, ".jsonl", func(b *bytes.Buffer) orderpull.Writer { return orderpull.NewJSONL(b) }, `{`},
	} {
		t.Run(tc.api+tc.ext, func(t *testing.T) {
			o := e.options(tc.api)
			o.PII = []string{orderpull.Address, orderpull.Buyer}
			var buf bytes.Buffer
			if _, err := orderpull.Run(context.Background(), e.c, o, tc.stream(&buf)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "orders"+tc.ext)
			f := orderpull.NewFile(path)
			if _, err := orderpull.Run(context.Background(), e.c, o, f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			file, _ := os.ReadFile(path)
			if !bytes.Equal(file, buf.Bytes()) {
				t.Fatalf("the file (%d bytes) and the stream (%d bytes) differ", len(file), buf.Len())
			}
			if !strings.HasPrefix(buf.String(), tc.header) {
				t.Fatalf("output starts %.80q, want %q", buf.String(), tc.header)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v: it holds personal data, want 0600", path, st.Mode().Perm())
			}
			switch {
			case tc.api == orderpull.V0 && tc.ext == ".csv":
				rows, _ := csv.NewReader(&buf).ReadAll()
				for _, r := range rows[1:] {
					if r[9] == "" || r[16] == "" { // AddressLine1, BuyerEmail
						t.Fatalf("row without an address or buyer: %v", r[:6])
					}
				}
				if got := csvIDs(t, path); !slices.Equal(got, want) {
					t.Fatalf("%d rows, want %d orders", len(got), len(want))
				}
			case tc.ext == ".jsonl":
				if got := jsonlIDs(t, path, ""); !slices.Equal(got, want) {
					t.Fatalf("%d lines, want %d orders", len(got), len(want))
				}
			}
		})
	}
}

// TestAuditFailsClosed: when the audit hook fails, the page it was asked
// about is not written (a CSV file does not even get its header), the run
// stops, and the next run writes that page once the hook works again.
func TestAuditFailsClosed(t *testing.T) {
	e := newEnv(t, 40, nil)
	want := e.want(t)
	errLog := errors.New("the access log is down")
	for _, failAt := range []int64{1, 2} {
		for _, ext := range []string{".jsonl", ".csv"} {
			t.Run(ext+"/page"+string(rune('0'+failAt)), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "orders"+ext)
				store := &memCheckpoints{}
				rec := &recorder{fail: func(r orderpull.Release) error {
					if r.Page == failAt {
						return errLog
					}
					return nil
				}}
				o := e.options(orderpull.V0)
				o.PII, o.Checkpoints, o.Job, o.Audit = []string{orderpull.Address}, store, "job", rec.audit
				f := orderpull.NewFile(path)
				_, err := orderpull.Run(context.Background(), e.c, o, f)
				f.Close()
				var ae *orderpull.AuditError
				if !errors.As(err, &ae) || ae.Page != failAt || !errors.Is(err, errLog) {
					t.Fatalf("err = %v, want an AuditError for page %d", err, failAt)
				}
				b, _ := os.ReadFile(path)
				if failAt == 1 && len(b) != 0 {
					t.Fatalf("%d bytes written although the first page's release was not recorded", len(b))
				}
				if n := bytes.Count(b, []byte("AddressLine1")); failAt == 2 && ext == ".jsonl" && n != 10 {
					t.Fatalf("%d addresses written, want only page 1's 10", n)
				}

				rec.fail = nil
				f = orderpull.NewFile(path)
				res, err := orderpull.Run(context.Background(), e.c, o, f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				if ext == ".csv" {
					got = csvIDs(t, path)
				} else {
					got = jsonlIDs(t, path, `"AddressLine1"`)
				}
				if !slices.Equal(got, want) || int64(len(rec.releases)) != res.Pages {
					t.Fatalf("%d orders after the second run (want %d); %d releases for %d pages", len(got), len(want), len(rec.releases), res.Pages)
				}
			})
		}
	}

	// Without personal data there is nothing to record.
	rec := &recorder{fail: func(orderpull.Release) error { return errLog }}
	o := e.options(orderpull.V0)
	o.Audit = rec.audit
	if _, err := orderpull.Run(context.Background(), e.c, o, orderpull.NewJSONL(&bytes.Buffer{})); err != nil {
		t.Fatalf("a pull without personal data called the audit hook: %v", err)
	}
}

// TestRefusals: a pull that cannot know where it stands refuses to start,
// and says how to fix it.
func TestRefusals(t *testing.T) {
	e := newEnv(t, 30, nil)
	dir := t.TempDir()
	ctx := context.Background()
	run := func(o orderpull.Options, path string) error {
		f := orderpull.NewFile(path)
		defer f.Close()
		_, err := orderpull.Run(ctx, e.c, o, f)
		return err
	}
	store := &memCheckpoints{}
	o := e.options(orderpull.V0)
	o.Checkpoints, o.Job = store, "job"

	// A file no checkpoint belongs to is not overwritten, unless Restart.
	exists := filepath.Join(dir, "exists.jsonl")
	os.WriteFile(exists, []byte("{\"AmazonOrderId\":\"mine\"}\n"), 0o600)
	if err := run(o, exists); !errors.Is(err, orderpull.ErrOutputExists) {
		t.Fatalf("over a file of its own: %v, want ErrOutputExists", err)
	}
	o.Restart = true
	if err := run(o, exists); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(exists); bytes.Contains(b, []byte("mine")) {
		t.Fatal("Restart kept the file's old content")
	}
	o.Restart = false

	// A file shorter than its checkpoint was changed by something else.
	store.edit(t, "done", false)
	os.WriteFile(exists, []byte("{}\n"), 0o600)
	var re *orderpull.ResumeError
	if err := run(o, exists); !errors.As(err, &re) || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("a file shorter than its checkpoint: %v, want a ResumeError", err)
	}
	store.edit(t, "after", "not a time")
	if err := run(o, exists); !errors.As(err, &re) || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("an unreadable checkpoint: %v, want a ResumeError", err)
	}

	// The first run of a job needs Since.
	o = e.options(orderpull.V0)
	o.Since = time.Time{}
	if err := run(o, filepath.Join(dir, "new.jsonl")); !errors.Is(err, orderpull.ErrSinceRequired) {
		t.Fatalf("no Since: %v, want ErrSinceRequired", err)
	}

	for name, change := range map[string]func(*orderpull.Options){
		"API":          func(o *orderpull.Options) { o.API = "v1" },
		"PII":          func(o *orderpull.Options) { o.PII = []string{"ssn"} },
		"PageSize":     func(o *orderpull.Options) { o.PageSize = 101 },
		"Marketplaces": func(o *orderpull.Options) { o.Marketplaces = nil },
		"Until":        func(o *orderpull.Options) { o.Until = o.Since },
		"Job":          func(o *orderpull.Options) { o.Checkpoints = &memCheckpoints{} },
	} {
		o := e.options(orderpull.V0)
		change(&o)
		path := filepath.Join(dir, name+".jsonl")
		if err := run(o, path); err == nil || !strings.Contains(err.Error(), "orderpull: ") {
			t.Errorf("bad %s: %v", name, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("bad %s: the file was created", name)
		}
	}
}

// TestRateLimitWaitsInEvents pulls more pages than getOrders' burst on a
// fake clock: the events report the client's waits for the rate limit.
func TestRateLimitWaitsInEvents(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, 40, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Amazon's minute passes whenever the client waits.
		for clk.BlockUntil(ctx, 1) == nil {
			clk.Advance(time.Minute)
		}
	}()
	rec := &recorder{}
	o := e.options(orderpull.V0)
	o.PageSize, o.Progress = 1, rec.progress
	res, err := orderpull.Run(ctx, e.c, o, orderpull.NewJSONL(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages < 25 {
		t.Fatalf("%d pages: too few to spend getOrders' burst of 20", res.Pages)
	}
	last := rec.events[len(rec.events)-1]
	if last.RateLimitWaits == 0 || last.RateLimitWait < time.Minute/2 {
		t.Fatalf("after %d pages the events report %d waits (%s)", res.Pages, last.RateLimitWaits, last.RateLimitWait)
	}
	var prev int64
	for _, ev := range rec.events {
		if ev.RateLimitWaits < prev {
			t.Fatalf("waits went down: %+v", ev)
		}
		prev = ev.RateLimitWaits
	}
}
