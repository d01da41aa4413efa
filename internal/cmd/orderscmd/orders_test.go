package orderscmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// emulator is an offline Amazon on loopback and a vault holding its demo
// app (as main) and sellers.
type emulator struct {
	*cmdtest.Env
	srv      *amazontest.Server
	demo     amazontest.Demo
	endpoint string
	app      vault.App
}

func newEmulator(t *testing.T, opts ...amazontest.Option) *emulator {
	t.Helper()
	opts = append([]amazontest.Option{amazontest.WithSeed(7), amazontest.WithTimeScale(600), amazontest.WithTokenLifetime(12 * time.Hour)}, opts...)
	srv := amazontest.NewServer(opts...)
	t.Cleanup(srv.Close)
	e := &emulator{Env: cmdtest.New(t), srv: srv, demo: srv.Demo()}
	e.endpoint = fmt.Sprintf("na=%s,eu=%s,fe=%s", srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE))
	e.app = vault.App{Name: "main", AppID: e.demo.AppID, ClientID: e.demo.ClientID,
		Roles:         []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
		ClientSecrets: []vault.Secret{{Value: secret.New(e.demo.ClientSecret)}}}
	v := e.Vault(t)
	defer v.Close()
	ctx := context.Background()
	if err := v.AddApp(ctx, e.app); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.demo.Sellers {
		if err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: "main", RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestOrdersPullWithoutCobra runs the verb's run function with its
// dependencies injected: bad flags are refused before the vault is opened;
// good ones pull, print the result and resume the same job next time.
func TestOrdersPullWithoutCobra(t *testing.T) {
	e := newEmulator(t, amazontest.WithOrdersPerSeller(40))
	seller := e.demo.Sellers[0]
	now := time.Now().UTC().Truncate(time.Second)
	dir := t.TempDir()
	opts := func(out string) (*pullOptions, *bytes.Buffer, *bytes.Buffer) {
		var stdout, stderr bytes.Buffer
		return &pullOptions{Seller: seller.ID, Since: "100d", Until: "1h", API: ordersV0, PageSize: 10, Out: out,
			Now: func() time.Time { return now }, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &stdout, Err: &stderr}, JSON: true,
				OpenApp: func(context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
					return e.Vault(t), e.app, spapi.Endpoints{}, nil
				},
				NewClient: func(context.Context, *vault.Vault, vault.App, spapi.Endpoints) (*spapi.Client, error) {
					return cmdtest.DemoClient(t, e.endpoint, e.demo, seller), nil
				},
			}}, &stdout, &stderr
	}

	for name, bad := range map[string]func(*pullOptions){
		"no --out":      func(o *pullOptions) { o.Out = "" },
		"not jsonl/csv": func(o *pullOptions) { o.Out = "orders.txt" },
		"--api":         func(o *pullOptions) { o.API = "v1" },
		"--page-size":   func(o *pullOptions) { o.PageSize = 0 },
		"--pii":         func(o *pullOptions) { o.PII = []string{"ssn"} },
		"--since":       func(o *pullOptions) { o.Since = "soon" },
		"--until":       func(o *pullOptions) { o.Until = "200d" },
	} {
		o, _, _ := opts(filepath.Join(dir, "bad.jsonl"))
		bad(o)
		o.OpenApp = func(context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
			t.Errorf("%s: the vault was opened for bad flags", name)
			return nil, vault.App{}, spapi.Endpoints{}, errors.New("not for bad flags")
		}
		if _, code := problem.Of(runOrdersPull(context.Background(), o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}

	want := cmdtest.OrderIDs(t, e.endpoint, e.demo, seller, now.Add(-100*24*time.Hour), now.Add(-time.Hour))
	out := filepath.Join(dir, "orders.jsonl")
	for run, resumed := range []bool{false, true} {
		o, stdout, stderr := opts(out)
		if err := runOrdersPull(context.Background(), o); err != nil {
			t.Fatalf("run %d: %v\n%s", run+1, err, stderr)
		}
		var res struct {
			Orders  int64
			Resumed bool
			Out     string
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("run %d: stdout is not JSON: %v: %s", run+1, err, stdout)
		}
		if res.Resumed != resumed || res.Out != out || (!resumed && res.Orders != int64(len(want))) {
			t.Fatalf("run %d printed %+v; want %d orders, resumed %v", run+1, res, len(want), resumed)
		}
		progress := "checkpoint: page 1, 10 orders"
		if resumed {
			progress = "resuming from the checkpoint"
		}
		if !strings.Contains(stderr.String(), progress) {
			t.Errorf("run %d: stderr lacks %q: %s", run+1, progress, stderr)
		}
	}
	if got := cmdtest.ReadOrderIDs(t, out, nil); !slices.Equal(got, want) {
		t.Fatalf("the file has %d orders, the window %d", len(got), len(want))
	}
}
