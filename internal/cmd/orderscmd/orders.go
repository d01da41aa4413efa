// Package orderscmd is spgate orders: orders pull's flags and printing.
// The pull itself (pages, checkpoints, resuming, the output formats, the
// audit before release) is package orderpull.
package orderscmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/progress"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

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

	*cmdutil.Factory
	// Now is the time --since and --until count back from.
	Now func() time.Time
}

// NewCmd returns spgate orders and its verb pull.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "orders",
		Short: "Work with a seller's orders",
		Args:  cobra.NoArgs,
	}
	o := &pullOptions{Factory: f, Now: time.Now}
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
			o.NoDump()
			return runOrdersPull(cmd.Context(), o)
		},
	}
	cmdutil.AddClientFlags(pull)
	fl := pull.Flags()
	fl.StringVar(&o.Seller, cmdutil.FlagSeller, "", "seller (id or name) whose orders to pull (required)")
	fl.StringVar(&o.Since, "since", "", "orders last updated at or after this time: RFC 3339, a date, or a duration ago (72h, 7d) (required on the first run)")
	fl.StringVar(&o.Until, "until", "", "orders last updated before this time (default: as late as Amazon allows)")
	fl.StringSliceVar(&o.PII, "pii", nil, "personal data to include: address, buyer (needs the app's restricted roles)")
	fl.StringVar(&o.API, "api", ordersV0, "Orders API version: v0 or 2026-01-01")
	fl.StringVar(&o.Out, "out", "", "output file, .jsonl or .csv (required)")
	fl.StringVar(&o.Job, "job", "", "checkpoint name (default: derived from --api and --out)")
	fl.IntVar(&o.PageSize, "page-size", 100, "orders per page, 1–100")
	fl.BoolVar(&o.Restart, "restart", false, "ignore the checkpoint: truncate --out and start again from --since")
	cmd.AddCommand(pull)
	return cmd
}

// window checks the flags that need no vault and returns the pull's time
// window and the absolute path of --out.
func (o *pullOptions) window() (since, until time.Time, out string, err error) {
	if o.Out == "" {
		return since, until, "", cmdutil.UsageErr("--out is required: a .jsonl or .csv file")
	}
	if ext := strings.ToLower(filepath.Ext(o.Out)); ext != ".jsonl" && ext != ".csv" && ext != ".ndjson" {
		return since, until, "", cmdutil.UsageErr("--out %s: the file name must end in .jsonl or .csv", o.Out)
	}
	if o.API != ordersV0 && o.API != ordersV2026 {
		return since, until, "", cmdutil.UsageErr("--api %q: use v0 or 2026-01-01", o.API)
	}
	if o.PageSize < 1 || o.PageSize > 100 {
		return since, until, "", cmdutil.UsageErr("--page-size must be 1–100")
	}
	if _, err := cmdutil.PII(o.API, o.PII); err != nil {
		return since, until, "", cmdutil.UsageErr("%v", err)
	}
	now := o.Now()
	if o.Since != "" {
		if since, err = orderpull.ParseWhen(o.Since, now); err != nil {
			return since, until, "", cmdutil.UsageErr("--since: %v", err)
		}
	}
	if o.Until != "" {
		if until, err = orderpull.ParseWhen(o.Until, now); err != nil {
			return since, until, "", cmdutil.UsageErr("--until: %v", err)
		}
		if !since.IsZero() && !until.After(since) {
			return since, until, "", cmdutil.UsageErr("--until must be after --since")
		}
	}
	if out, err = filepath.Abs(o.Out); err != nil {
		return since, until, "", cmdutil.UsageErr("--out: %v", err)
	}
	return since, until, out, nil
}

func runOrdersPull(ctx context.Context, o *pullOptions) error {
	since, until, out, err := o.window()
	if err != nil {
		return err
	}
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := cmdutil.ResolveSeller(ctx, v, o.Seller)
	if err != nil {
		return err
	}
	c, err := o.NewClient(ctx, v, app, ep)
	if err != nil {
		return err
	}
	job := o.Job
	if job == "" {
		job = "orders-pull/" + o.API + "/" + out
	}
	p := progress.NewPull(o.IO.Err, o.Now)
	res, err := appvault.PullOrders(ctx, v, c, appvault.OrdersJob{Seller: s, Out: out, Reader: appvault.CommandLineReader(),
		Options: orderpull.Options{API: o.API, Since: since, Until: until, PII: o.PII, PageSize: o.PageSize,
			Job: job, Restart: o.Restart, Progress: p.Event}})
	p.Finish()
	if err != nil {
		return pullError(err, s.ID, out, o.Restart)
	}
	if o.JSON {
		return output.JSON(o.IO.Out, map[string]any{"orders": res.Orders, "pages": res.Pages, "resumed": res.Resumed, "out": out, "seller": s.ID})
	}
	fmt.Fprintf(o.IO.Out, "%d orders of seller %s written to %s\n", res.Orders, s.ID, out)
	return nil
}

// pullError gives a pull's error its exit code and says which flag fixes
// it.
func pullError(err error, seller, out string, restart bool) error {
	var audit *orderpull.AuditError
	var resume *orderpull.ResumeError
	var ae *spapi.APIError
	switch {
	case errors.As(err, &audit):
		return cmdutil.ReleaseErr(audit.Err) // nothing of the page was written
	case errors.Is(err, appvault.ErrNoMarketplaces):
		return cmdutil.ConfigErr(err)
	case errors.Is(err, orderpull.ErrSinceRequired) && restart:
		return cmdutil.UsageErr("--since is required with --restart: the job starts again from there")
	case errors.Is(err, orderpull.ErrSinceRequired):
		return cmdutil.UsageErr("--since is required on the first run of this job (no checkpoint for seller %s and %s)", seller, out)
	case errors.Is(err, orderpull.ErrOutputExists):
		return cmdutil.UsageErr("%s already exists and no checkpoint belongs to it: choose another --out, remove the file, or pass --restart", out)
	case errors.As(err, &resume):
		return cmdutil.ConfigErr(fmt.Errorf("%s: start again with --restart", resume.Problem))
	case errors.As(err, &ae):
		return cmdutil.CallError(err)
	case errors.Is(err, context.Canceled):
		return cmdutil.Failed(errors.New("interrupted; run the same command again to resume from the last checkpoint"))
	case errors.Is(err, vault.ErrLocked), errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrWrongKey):
		return cmdutil.StoreErr(err)
	}
	return cmdutil.Failed(fmt.Errorf("pulling orders of seller %s: %w (run the same command again to resume)", seller, err))
}
