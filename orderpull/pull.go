// Package orderpull downloads a seller's orders incrementally and
// resumably: every order last updated in a time window, page by page, each
// page written and then checkpointed. A run stopped at any moment continues
// from its checkpoint; a finished run leaves a watermark where the next run
// starts, so running the same job again fetches only what changed.
//
// It is what `spgate orders pull` runs, and any Go program can run it with
// an spapi.Client, whether the client's credentials come from the vault
// (appvault) or from the program itself:
//
//	f := orderpull.NewFile("orders.jsonl")
//	defer f.Close()
//	res, err := orderpull.Run(ctx, client, orderpull.Options{
//		Seller: "A2VYDBAL8BMVQK", Marketplaces: []string{"A1PA6795UKMFR9"},
//		Since: time.Now().AddDate(0, 0, -7), PII: []string{orderpull.Address},
//		Checkpoints: appvault.NewCheckpoints(v), Job: "orders.jsonl",
//	}, f)
//
// Output goes to a Writer: NewFile for a resumable JSONL or CSV file,
// NewJSONL and NewCSV for any io.Writer, a WriterFunc for the program's own
// use of the orders. Options.Progress receives an Event per page;
// Options.Audit is called before each page with personal data is written,
// and a failing Audit stops the pull before that page is written.
package orderpull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/spapi/orders2026"
)

// Options say which orders a pull fetches and where it keeps its place.
type Options struct {
	// Seller is the selling partner id whose orders to pull (required).
	Seller string
	// Marketplaces are the marketplace ids to search (at least one).
	Marketplaces []string
	// API is the Orders API version: V0 (the default) or V2026.
	API string
	// Since and Until bound the orders' last-update time: at or after
	// Since and before Until (zero: as late as Amazon allows, two minutes
	// ago). Since is required on a job's first run; a later run continues
	// from the checkpoint, or from the watermark of the finished run
	// before it.
	Since, Until time.Time
	// PII is the personal data to include: Address, Buyer. The app needs
	// the matching restricted role (Direct-to-Consumer Shipping for
	// addresses). With V0 the client gets a Restricted Data Token itself.
	PII []string
	// PageSize is how many orders a page holds, 1–100 (default 100).
	PageSize int

	// Checkpoints keeps the job's place between runs (appvault.Checkpoints
	// for the vault). Nil: every run starts at Since and none is saved.
	Checkpoints CheckpointStore
	// Job names the job's checkpoint among the seller's (required with
	// Checkpoints), e.g. "orders-pull/v0/orders.jsonl".
	Job string
	// Restart drops the job's checkpoint and output and starts at Since.
	Restart bool

	// Audit, when set, is called before each page that carries personal
	// data goes to the Writer: record the access there. When it fails the
	// page is not written and Run returns an *AuditError.
	Audit func(ctx context.Context, r Release) error
	// Progress, when set, receives the pull's Events on Run's goroutine.
	Progress func(Event)
}

// Order is one order of a pull, from either API version.
type Order struct {
	// ID is the Amazon order id (3-7-7 digits).
	ID string
	// LastUpdated is when Amazon last changed the order.
	LastUpdated time.Time
	// JSON is the order as its API version spells it: one line of JSONL.
	JSON json.RawMessage
	// V0 is the typed order with API V0, V2026 with API V2026; the other
	// is nil.
	V0    *orders.Order
	V2026 *orders2026.Order
}

// Release describes a page with personal data about to be written, for
// Options.Audit.
type Release struct {
	Seller string
	// Operation is the operation that fetched the page: getOrders (V0) or
	// searchOrders (V2026).
	Operation string
	// Page is the page's number in the job's current run.
	Page int64
	// Orders is how many orders the page holds.
	Orders int
	// DataElements are the personal data the orders carry, by the API's
	// names (shippingAddress, buyerInfo, RECIPIENT, BUYER).
	DataElements []string
}

// Result says what a run did.
type Result struct {
	// Orders and Pages count what the job's current run wrote and fetched,
	// earlier processes included.
	Orders, Pages int64
	// Resumed is true when the run continued a job: from its checkpoint,
	// or from the watermark of the finished run before it.
	Resumed bool
	// From is the run's start: orders last updated at or after it.
	From time.Time
	// Watermark is where the job's next run starts.
	Watermark time.Time
}

// EventKind says what an Event reports.
type EventKind int

// The events of a pull, in order: Started, then PageDone per page (with
// Restarted between two when Amazon refused a pagination token), then
// Finished.
const (
	// Started: the run begins or resumes, before the first page.
	Started EventKind = iota + 1
	// PageDone: a page is written and checkpointed.
	PageDone
	// Restarted: Amazon refused the pagination token (it expires): the
	// run asks again from its start; orders already written are skipped.
	Restarted
	// Finished: the last page is done; the watermark is saved.
	Finished
)

// Event reports a pull's progress. Amazon tells neither how many orders a
// query selects nor in which order it returns them, so there is no total:
// progress is "page N, M orders".
type Event struct {
	Kind EventKind
	// Resumed and From as in Result.
	Resumed bool
	From    time.Time
	// Pages and Orders count the job's current run, earlier processes
	// included.
	Pages, Orders int64
	// PageOrders is how many orders the page wrote (PageDone).
	PageOrders int
	// RateLimitWaits counts the client's calls during this Run that waited
	// for Amazon's rate limits, RateLimitWait how long they waited in all,
	// Throttled the answers 429 (Amazon's "too many requests").
	RateLimitWaits int64
	RateLimitWait  time.Duration
	Throttled      int64
}

// A CheckpointStore keeps a job's place between runs, per seller and job
// name. The value is opaque JSON; SetCheckpoint must replace it atomically.
type CheckpointStore interface {
	// Checkpoint returns the saved value, or nil and no error when the job
	// has none.
	Checkpoint(ctx context.Context, seller, job string) ([]byte, error)
	// SetCheckpoint saves the value, replacing the previous one.
	SetCheckpoint(ctx context.Context, seller, job string, value []byte) error
	// DeleteCheckpoint removes the value (no error when there is none).
	DeleteCheckpoint(ctx context.Context, seller, job string) error
}

// ErrSinceRequired is returned for a job's first run without Options.Since.
var ErrSinceRequired = errors.New("orderpull: Options.Since is required on a job's first run")

// AuditError is returned when Options.Audit failed: the page it was asked
// about was not written.
type AuditError struct {
	Page int64
	Err  error
}

// Error says which page was held back and why.
func (e *AuditError) Error() string {
	return fmt.Sprintf("page %d was not written: recording its release failed: %v", e.Page, e.Err)
}

// Unwrap returns the Audit function's error.
func (e *AuditError) Unwrap() error { return e.Err }

// ResumeError says a job cannot continue from its checkpoint; the fix is to
// start it again (Options.Restart).
type ResumeError struct {
	// Problem says what does not fit, e.g. "orders.jsonl is shorter than
	// its checkpoint".
	Problem string
}

// Error says what does not fit and how to start again.
func (e *ResumeError) Error() string {
	return e.Problem + ": start the job again with Options.Restart"
}
