package appvault

import (
	"context"
	"errors"
	"fmt"

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
// record cannot be written the caller must write nothing; the error says
// so and wraps the vault's.
func RecordRelease(ctx context.Context, v *vault.Vault, e vault.AccessEvent, what string) error {
	if err := v.RecordAccess(ctx, e); err != nil {
		return fmt.Errorf("could not record %s in the vault's access log, so nothing was written (personal data and secrets leave spgate only after their access is recorded): %w", what, err)
	}
	return nil
}
