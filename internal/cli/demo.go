package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newDemoCmd) }

// demoOptions are the flags of spgate demo.
type demoOptions struct {
	Keep      string
	Orders    int
	TimeScale float64
}

func newDemoCmd(streams IO) *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run spgate end to end against the built-in offline Amazon (no account, no network)",
		Long: `demo starts the offline Amazon on loopback, puts its demo app and sellers in a
temporary vault, runs spgate doctor, and pulls every seller's orders with
shipping addresses into JSONL files — the same code paths as against Amazon,
with the emulator's clock sped up so it finishes in seconds. It prints what
happened: the checks, the orders, the tokens and Restricted Data Tokens it
requested, and how long it waited for rate limits.

Everything is deleted afterwards unless --keep DIR is given.`,
		Example: `  spgate demo
  spgate demo --keep ./spgate-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, streams, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Keep, "keep", "", "keep the vault, its key and the order files in this directory")
	f.IntVar(&o.Orders, "orders", 150, "orders per demo seller")
	f.Float64Var(&o.TimeScale, "time-scale", 600, "emulated time per real time (600: an Amazon hour passes in 6 seconds)")
	return cmd
}

// demoSummary is what the demo prints with --json.
type demoSummary struct {
	Dir          string         `json:"dir"`
	Kept         bool           `json:"kept"`
	Checks       []doctor.Check `json:"checks"`
	Files        []demoFile     `json:"files"`
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

type demoFile struct {
	Seller string `json:"seller"`
	Region string `json:"region"`
	Path   string `json:"path"`
	Orders int64  `json:"orders"`
}

func runDemo(cmd *cobra.Command, streams IO, o demoOptions) error {
	ctx := cmd.Context()
	began := time.Now()
	if o.Orders < 1 || o.TimeScale <= 0 {
		return usageErr("--orders must be at least 1 and --time-scale positive")
	}
	say := func(format string, a ...any) {
		if !jsonOut(cmd) {
			fmt.Fprintf(streams.Out, format+"\n", a...)
		}
	}

	// 1. The offline Amazon, one loopback listener per region.
	srv, urls, ep, stop, err := startOfflineAmazon(amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 3,
		TimeScale: o.TimeScale, TokenLifetime: 12 * time.Hour})
	if err != nil {
		return err
	}
	defer stop()
	say("offline Amazon listening on %s (NA), %s (EU), %s (FE); its clock runs %gx", urls[spapi.NA], urls[spapi.EU], urls[spapi.FE], o.TimeScale)

	// 2. A vault of its own with a random key.
	dir := o.Keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "spgate-demo-"); err != nil {
			return fmt.Errorf("make a temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--keep %s: %w", dir, err)
	}
	vpath := filepath.Join(dir, "vault.db")
	v, key, app, err := newDemoVault(ctx, vpath, srv.Demo(), "demo")
	if err != nil {
		return fmt.Errorf("%w (with --keep, use an empty directory)", err)
	}
	defer v.Close()
	if o.Keep != "" {
		enc, err := key.Encode()
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "master.key"), []byte(enc+"\n"), 0o600)
		}
		if err != nil {
			return fmt.Errorf("write the demo vault's key: %w", err)
		}
	}
	d := srv.Demo()
	say("vault %s: app %q (%s) with %d authorized sellers", vpath, app.Name, app.AppID, len(d.Sellers))

	// 3. doctor.
	c, err := clientForApp(ctx, cmd, v, app, ep)
	if err != nil {
		return err
	}
	checks, err := doctorChecks(ctx, cmd, v, app, ep, "")
	if err != nil {
		return err
	}
	sum := demoSummary{Dir: dir, Kept: o.Keep != "", Checks: checks}
	say("\n$ spgate doctor")
	if !jsonOut(cmd) {
		if err := printChecks(streams.Out, checks, false); err != nil {
			return err
		}
	}
	if doctor.Worst(checks) == doctor.Fail {
		return &ExitError{Code: ExitFailure, Err: errors.New("demo: doctor found failures against the offline Amazon; this is a bug, please report it")}
	}

	// 4. Orders with addresses, one file per seller.
	say("\n$ spgate orders pull --since 100d --pii address --out orders-<seller>.jsonl   (each seller)")
	for i, s := range d.Sellers {
		sl, err := v.GetSeller(ctx, s.ID)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, fmt.Sprintf("orders-%s-%s.jsonl", s.Region, s.ID))
		res, err := pullOrders(ctx, pullJob{Vault: v, Client: c, Seller: sl, API: ordersV0, Out: out,
			Job: "demo/orders", Since: time.Now().Add(-100 * 24 * time.Hour), PII: []string{"address"}, PageSize: 100,
			Progress: newProgress(streams.Err, c), Now: time.Now})
		if err != nil {
			return err
		}
		full, err := countFullAddresses(out)
		if err != nil {
			return err
		}
		sum.Orders += res.Orders
		sum.WithAddress += full
		sum.Files = append(sum.Files, demoFile{Seller: s.ID, Region: string(s.Region), Path: out, Orders: res.Orders})
		say("  seller %d %s (%s): %d orders, %d with a full shipping address → %s", i+1, s.ID, s.Region, res.Orders, full, out)
	}

	st := c.Stats()
	ac := srv.Counters()
	for _, n := range ac.TokensIssued {
		sum.LWATokens += n
	}
	sum.RDTs = ac.RDTsIssued
	sum.Calls, sum.RateWaits, sum.Throttled = st.Calls, st.LimiterWaits, st.Throttled
	sum.RateWaitTime = st.LimiterWait.Round(time.Millisecond).String()
	sum.Elapsed = time.Since(began).Round(time.Millisecond).String()
	if jsonOut(cmd) {
		return printJSON(streams.Out, sum)
	}
	say("\nWhat happened:")
	say("  %d checks passed, %d warnings, %d failed", countStatus(checks, doctor.OK), countStatus(checks, doctor.Warn), countStatus(checks, doctor.Fail))
	say("  %d orders pulled, %d of them with a full shipping address", sum.Orders, sum.WithAddress)
	say("  %d SP-API calls by the pull; Amazon issued %d LWA access tokens and %d Restricted Data Tokens in all (doctor proves each role with one; the pull needs one generic-path RDT per seller for every order)", sum.Calls, sum.LWATokens, sum.RDTs)
	say("  %d waits for Amazon's rate limits (%s in all, on the sped-up clock), %d throttled answers", sum.RateWaits, sum.RateWaitTime, sum.Throttled)
	say("  finished in %s", sum.Elapsed)
	if o.Keep != "" {
		say("\nKept in %s: vault.db, master.key and the order files. Open the vault with:", dir)
		say("  export SPGATE_VAULT=%s SPGATE_MASTER_KEY=$(cat %s)", vpath, filepath.Join(dir, "master.key"))
	} else {
		say("\nThe files were in %s and are deleted now; keep them with --keep DIR.", dir)
	}
	say("Next: run the offline Amazon yourself with `spgate emulate`, or add your real app with `spgate app add`.")
	return nil
}

// startOfflineAmazon starts the emulator with one loopback listener per
// region and returns it, the listeners' URLs, the endpoints that address
// them, and a function that stops the listeners.
func startOfflineAmazon(cfg amazontest.Config) (*amazontest.Server, map[spapi.Region]string, spapi.Endpoints, func(), error) {
	srv, err := amazontest.New(cfg)
	if err != nil {
		return nil, nil, spapi.Endpoints{}, nil, fmt.Errorf("start the offline Amazon: %w", err)
	}
	var servers []*http.Server
	stop := func() {
		for _, hs := range servers {
			hs.Close()
		}
	}
	urls := map[spapi.Region]string{}
	for _, r := range []amazontest.Region{amazontest.RegionNA, amazontest.RegionEU, amazontest.RegionFE} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, spapi.Endpoints{}, nil, fmt.Errorf("listen on loopback: %w", err)
		}
		hs := &http.Server{Handler: srv.HandlerFor(r), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		servers = append(servers, hs)
		urls[spapi.Region(r)] = "http://" + ln.Addr().String()
	}
	ep, err := spapi.Custom(urls[spapi.NA], urls, "")
	if err != nil {
		stop()
		return nil, nil, spapi.Endpoints{}, nil, err
	}
	return srv, urls, ep, stop, nil
}

// newDemoVault creates a vault at path with a random key and stores the
// emulator's demo app (shipping and tax roles) and every demo seller's
// authorization in it. It returns the open vault, its key and the app as
// stored.
func newDemoVault(ctx context.Context, path string, d amazontest.Demo, actor string) (*vault.Vault, vault.Key, vault.App, error) {
	key, err := vault.NewRandomKey()
	if err != nil {
		return nil, key, vault.App{}, err
	}
	v, err := vault.Open(ctx, path, key, vault.Options{Create: true, Actor: actor})
	if err != nil {
		return nil, key, vault.App{}, fmt.Errorf("create the vault in %s: %w", filepath.Dir(path), err)
	}
	app := vault.App{Name: "demo", AppID: d.AppID, ClientID: d.ClientID,
		Roles:         []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
		ClientSecrets: []vault.Secret{{Value: secret.New(d.ClientSecret)}}}
	fail := func(err error) (*vault.Vault, vault.Key, vault.App, error) {
		v.Close()
		return nil, key, vault.App{}, err
	}
	if err := v.AddApp(ctx, app); err != nil {
		return fail(fmt.Errorf("store the demo app: %w", err))
	}
	for i, s := range d.Sellers {
		err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Name: fmt.Sprintf("demo-%s-%d", s.Region, i+1), Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: app.Name, RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}})
		if err != nil {
			return fail(fmt.Errorf("store demo seller %s: %w", s.ID, err))
		}
	}
	if app, err = v.GetApp(ctx, app.Name); err != nil {
		return fail(err)
	}
	return v, key, app, nil
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

// countFullAddresses counts the orders in a JSONL file whose shipping address
// has a name, a street line, a city, a postal code and a country.
func countFullAddresses(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if fullAddress(sc.Bytes()) {
			n++
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, nil
}

func fullAddress(line []byte) bool {
	var o struct {
		ShippingAddress *struct {
			Name, AddressLine1, City, PostalCode, CountryCode string
		}
	}
	if json.Unmarshal(line, &o) != nil || o.ShippingAddress == nil {
		return false
	}
	a := o.ShippingAddress
	return a.Name != "" && a.AddressLine1 != "" && a.City != "" && a.PostalCode != "" && a.CountryCode != ""
}
