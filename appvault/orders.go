package appvault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// ErrNoMarketplaces is wrapped by PullOrders' error for a seller the vault
// holds no marketplaces for: there is nothing to search.
var ErrNoMarketplaces = errors.New("no marketplaces in the vault")

// OrdersJob is one pull of a vault seller's orders into a file.
type OrdersJob struct {
	// Seller is the seller as the vault holds it (vault.GetSeller).
	Seller vault.Seller
	// Options say what to pull and how (API, window, PII, page size, job,
	// restart, progress); PullOrders sets their Seller, Marketplaces,
	// Checkpoints and Audit from the vault.
	Options orderpull.Options
	// Out is the file the orders go to, .jsonl or .csv (orderpull.File).
	Out string
	// Reader names who receives the personal data, for the vault's access
	// log ("cli:alice").
	Reader string
}

// PullOrders runs (or resumes) job with the vault's checkpoints, recording
// each page of personal data in the vault's access log before it is
// written (RecordRelease). An error from a record is an
// *orderpull.AuditError: nothing of that page was written.
func PullOrders(ctx context.Context, v *vault.Vault, c *spapi.Client, job OrdersJob) (orderpull.Result, error) {
	s := job.Seller
	if len(s.Marketplaces) == 0 {
		return orderpull.Result{}, fmt.Errorf("seller %s has %w: set them with `spgate seller update %s --marketplace M[,M…]` (marketplace ids or country codes in its region)", s.ID, ErrNoMarketplaces, s.ID)
	}
	o := job.Options
	o.Seller, o.Marketplaces, o.Checkpoints = s.ID, s.Marketplaces, NewCheckpoints(v)
	o.Audit = func(ctx context.Context, r orderpull.Release) error {
		return RecordRelease(ctx, v, vault.AccessEvent{Client: job.Reader, Seller: r.Seller, Operation: r.Operation, PII: true, Status: 200},
			fmt.Sprintf("page %d of seller %s's orders (personal data)", r.Page, r.Seller))
	}
	f := orderpull.NewFile(job.Out)
	defer f.Close()
	return orderpull.Run(ctx, c, o, f)
}

// RecordRelease writes e to the vault's access log before personal data or
// a secret (what) is written anywhere: audit before release. When the
// record cannot be written the caller must write nothing; the error is a
// *ReleaseError that says so.
func RecordRelease(ctx context.Context, v *vault.Vault, e vault.AccessEvent, what string) error {
	if err := v.RecordAccess(ctx, e); err != nil {
		return &ReleaseError{What: what, Err: err}
	}
	return nil
}

// ReleaseError is RecordRelease's error: the access to What could not be
// recorded, so nothing of it may be released.
type ReleaseError struct {
	What string
	Err  error // the vault's
}

// Error implements the error interface.
func (e *ReleaseError) Error() string {
	return fmt.Sprintf("could not record %s in the vault's access log, so nothing was written (personal data and secrets leave spgate only after their access is recorded): %v", e.What, e.Err)
}

// Unwrap returns the vault's error.
func (e *ReleaseError) Unwrap() error { return e.Err }

// Call sends call through c for reader (the access log's Client) and,
// when the answer holds personal data (decided on the operation, data
// elements and decoded query that were sent) or hands out an Amazon
// credential (a Restricted Data Token opens personal data to whoever holds
// it), records the release in the vault's access log before returning the
// answer. An error from the record is a *ReleaseError.
func Call(ctx context.Context, v *vault.Vault, c *spapi.Client, call spapi.Call, reader string) (*spapi.Response, error) {
	resp, err := c.Do(ctx, call)
	if err != nil {
		return nil, err
	}
	op := call.Operation
	if op.ReturnsPersonalData(call.DataElements, call.Query) || op.HandsOutCredentials() {
		if err := RecordRelease(ctx, v, vault.AccessEvent{Client: reader, Seller: call.Seller, Operation: op.ID, PII: true, Status: resp.Status,
			RequestID: resp.Header.Get("x-amzn-RequestId")}, "this "+op.ID+" call (it returns personal data or an Amazon credential)"); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// CommandLineReader names the operating-system user running this process,
// for the Client of the access events of a command line: "cli:<user>".
// Gateway key names cannot hold a ':', so an auditor tells command-line
// reads from gateway calls at a glance. The name comes from the process's
// user id, not from $USER.
func CommandLineReader() string {
	if u, err := user.Current(); err == nil {
		if u.Username != "" {
			return "cli:" + u.Username
		}
		return "cli:uid " + u.Uid
	}
	if uid := os.Getuid(); uid >= 0 {
		return "cli:uid " + strconv.Itoa(uid)
	}
	return "cli:unknown"
}
