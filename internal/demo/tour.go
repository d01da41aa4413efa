package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/progress"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// ErrDoctorFailed is Tour's error when spgate doctor's checks fail against
// the offline Amazon: a bug, since the emulator serves exactly what the
// demo vault holds.
var ErrDoctorFailed = errors.New("demo: doctor found failures against the offline Amazon; this is a bug, please report it")

// TourOptions say how Tour runs spgate's own code and where it tells
// about it.
type TourOptions struct {
	// Began is when the demo began, for the time it took (default: when
	// Tour is called).
	Began time.Time
	// Kept says the environment's directory stays (with its master.key).
	Kept bool
	// TimeScale is the emulator's, for the narration.
	TimeScale float64
	// Out receives the narration and the summary as a person reads them;
	// nil tells nothing (spgate demo --json prints the Summary instead).
	Out io.Writer
	// Progress receives the pulls' progress lines.
	Progress io.Writer
	// Reader names who reads the orders' personal data, for the vault's
	// access log.
	Reader string
	// NewClient builds the demo app's SP-API client as every spgate verb
	// does; Doctor runs spgate doctor's checks.
	NewClient func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error)
	Doctor    func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) ([]doctor.Check, error)
}

// Summary is what a tour did (spgate demo --json).
type Summary struct {
	Dir          string         `json:"dir"`
	Kept         bool           `json:"kept"`
	Checks       []doctor.Check `json:"checks"`
	Files        []File         `json:"files"`
	Orders       int64          `json:"orders"`
	WithAddress  int64          `json:"ordersWithFullAddress"`
	LWATokens    int64          `json:"lwaTokensRequested"`
	RDTs         int64          `json:"restrictedDataTokensRequested"`
	Calls        int64          `json:"spapiCalls"`
	RateWaits    int64          `json:"rateLimitWaits"`
	RateWaitTime string         `json:"rateLimitWaitTime"`
	Throttled    int64          `json:"throttled"`
	Elapsed      string         `json:"elapsed"`
}

// File is one seller's order file.
type File struct {
	Seller string `json:"seller"`
	Region string `json:"region"`
	Path   string `json:"path"`
	Orders int64  `json:"orders"`
}

// tour is one Tour's narration.
type tour struct {
	TourOptions
	e *Env
}

func (t *tour) say(format string, a ...any) {
	if t.Out != nil {
		fmt.Fprintf(t.Out, format+"\n", a...)
	}
}

// Tour runs spgate end to end in e, with the same code paths as against
// Amazon: spgate doctor, then every seller's orders with shipping addresses
// pulled into a JSONL file of its own in e.Dir. It returns what happened:
// the checks, the orders, the tokens Amazon issued and the rate-limit
// waits.
func Tour(ctx context.Context, e *Env, o TourOptions) (Summary, error) {
	if o.Began.IsZero() {
		o.Began = time.Now()
	}
	t := &tour{TourOptions: o, e: e}
	srv := e.Amazon
	t.say("offline Amazon listening on %s (NA), %s (EU), %s (FE); its clock runs %gx",
		srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE), o.TimeScale)
	t.say("vault %s: app %q (%s) with %d authorized sellers", e.VaultPath, e.App.Name, e.App.AppID, len(e.Fixture.Sellers))
	sum := Summary{Dir: e.Dir, Kept: o.Kept}
	var err error
	if sum.Checks, err = t.doctor(ctx); err != nil {
		return sum, err
	}
	c, err := o.NewClient(ctx, e.Vault, e.App, e.Endpoints)
	if err != nil {
		return sum, err
	}
	if err := t.pull(ctx, c, &sum); err != nil {
		return sum, err
	}
	sum.count(srv.Counters(), c.Stats())
	sum.Elapsed = time.Since(o.Began).Round(time.Millisecond).String()
	if o.Out != nil {
		sum.writeText(o.Out, e.VaultPath)
	}
	return sum, nil
}

// doctor runs and tells spgate doctor's checks against the emulator.
func (t *tour) doctor(ctx context.Context) ([]doctor.Check, error) {
	checks, err := t.Doctor(ctx, t.e.Vault, t.e.App, t.e.Endpoints)
	if err != nil {
		return nil, err
	}
	t.say("\n$ spgate doctor")
	if t.Out != nil {
		if err := doctor.WriteText(t.Out, checks); err != nil {
			return nil, err
		}
	}
	if doctor.Worst(checks) == doctor.Fail {
		return nil, ErrDoctorFailed
	}
	return checks, nil
}

// pull pulls every seller's orders with addresses into a file of its own.
func (t *tour) pull(ctx context.Context, c *spapi.Client, sum *Summary) error {
	e := t.e
	t.say("\n$ spgate orders pull --since 100d --pii address --out orders-<seller>.jsonl   (each seller)")
	for i, s := range e.Fixture.Sellers {
		sl, err := e.Vault.GetSeller(ctx, s.ID)
		if err != nil {
			return err
		}
		out := filepath.Join(e.Dir, fmt.Sprintf("orders-%s-%s.jsonl", s.Region, s.ID))
		p := progress.NewPull(t.Progress, nil)
		res, err := appvault.PullOrders(ctx, e.Vault, c, appvault.OrdersJob{Seller: sl, Out: out, Reader: t.Reader,
			Options: orderpull.Options{API: orderpull.V0, Job: "demo/orders", Since: time.Now().Add(-100 * 24 * time.Hour),
				PII: []string{orderpull.Address}, PageSize: 100, Progress: p.Event}})
		p.Finish()
		if err != nil {
			return fmt.Errorf("pulling orders of seller %s: %w", s.ID, err)
		}
		full, err := CountFullAddresses(out)
		if err != nil {
			return err
		}
		sum.Orders += res.Orders
		sum.WithAddress += full
		sum.Files = append(sum.Files, File{Seller: s.ID, Region: string(s.Region), Path: out, Orders: res.Orders})
		t.say("  seller %d %s (%s): %d orders, %d with a full shipping address → %s", i+1, s.ID, s.Region, res.Orders, full, out)
	}
	return nil
}

// count takes the tokens Amazon issued and the client's calls and waits.
func (s *Summary) count(ac amazontest.Counters, st spapi.StatsSnapshot) {
	for _, n := range ac.TokensIssued {
		s.LWATokens += n
	}
	s.RDTs = ac.RDTsIssued
	s.Calls, s.RateWaits, s.Throttled = st.Calls, st.LimiterWaits, st.Throttled
	s.RateWaitTime = st.LimiterWait.Round(time.Millisecond).String()
}

// writeText tells what happened, and where the files are (or were).
func (s Summary) writeText(w io.Writer, vaultPath string) {
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	say("\nWhat happened:")
	say("  %d checks passed, %d warnings, %d failed", countStatus(s.Checks, doctor.OK), countStatus(s.Checks, doctor.Warn), countStatus(s.Checks, doctor.Fail))
	say("  %d orders pulled, %d of them with a full shipping address", s.Orders, s.WithAddress)
	say("  %d SP-API calls by the pull; Amazon issued %d LWA access tokens and %d Restricted Data Tokens in all (doctor proves each role with one; the pull needs one generic-path RDT per seller for every order)", s.Calls, s.LWATokens, s.RDTs)
	say("  %d waits for Amazon's rate limits (%s in all, on the sped-up clock), %d throttled answers", s.RateWaits, s.RateWaitTime, s.Throttled)
	say("  finished in %s", s.Elapsed)
	if s.Kept {
		say("\nKept in %s: vault.db, master.key and the order files. Open the vault with:", s.Dir)
		say("  export SPGATE_VAULT=%s SPGATE_MASTER_KEY=$(cat %s)", vaultPath, filepath.Join(s.Dir, "master.key"))
	} else {
		say("\nThe files were in %s and are deleted now; keep them with --keep DIR.", s.Dir)
	}
	say("Next: run the offline Amazon yourself with `spgate emulate`, or add your real app with `spgate app add`.")
}

func countStatus(checks []doctor.Check, s doctor.Status) int {
	n := 0
	for _, c := range checks {
		if c.Status == s {
			n++
		}
	}
	return n
}
