package cmdtest

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
)

// OAuth is the offline Amazon on a fake clock with a draft app whose
// redirect URI (Redirect) is served by L, for the consent flow's tests.
type OAuth struct {
	Srv      *amazontest.Server
	Fake     *clock.Fake
	App      amazontest.App
	L        net.Listener
	Redirect string
}

// NewOAuth starts an OAuth environment, stopped when the test ends.
func NewOAuth(t testing.TB) *OAuth {
	t.Helper()
	e := &OAuth{Fake: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	e.Srv = amazontest.NewServer(amazontest.WithClock(e.Fake))
	t.Cleanup(e.Srv.Close)
	var err error
	e.L, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Redirect = "http://" + e.L.Addr().String() + "/callback"
	e.App, err = e.Srv.AddApp(amazontest.App{RedirectURIs: []string{e.Redirect}, Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// DemoClient is a client of the emulator's demo app for seller, with
// credentials of its own (not a vault's); endpoint is in $SPGATE_ENDPOINT's
// form.
func DemoClient(t testing.TB, endpoint string, demo amazontest.Demo, seller amazontest.DemoSeller) *spapi.Client {
	t.Helper()
	ep, err := cmdutil.ParseEndpoint(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := spapi.New(spapi.Config{AppID: demo.AppID, Endpoints: ep,
		Credentials: lwa.StaticCredentials{ClientID: demo.ClientID, ClientSecret: secret.New(demo.ClientSecret)},
		Sellers:     spapi.StaticSellers{{ID: seller.ID, Region: spapi.Region(seller.Region), RefreshToken: secret.New(seller.RefreshToken)}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ReadOrderIDs returns the order ids in a pull's JSON-lines file (sorted)
// and fails on a line that is not JSON, an order without an id or one
// written twice; check, when set, sees every line.
func ReadOrderIDs(t testing.TB, path string, check func(line []byte)) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o struct {
			V0   string `json:"AmazonOrderId"`
			V226 string `json:"orderId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d is not JSON: %v", len(ids)+1, err)
		}
		id := o.V0 + o.V226
		if id == "" || seen[id] {
			t.Fatalf("order %q is missing its id or written twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
		if check != nil {
			check(sc.Bytes())
		}
	}
	slices.Sort(ids)
	return ids
}

// OrderIDs lists, with a client of its own (DemoClient), the sorted ids of
// every order of seller last updated in [since, until).
func OrderIDs(t testing.TB, endpoint string, demo amazontest.Demo, seller amazontest.DemoSeller, since, until time.Time) []string {
	t.Helper()
	var ids []string
	for o, err := range orders.New(DemoClient(t, endpoint, demo, seller)).ListOrders(context.Background(), orders.Query{Seller: seller.ID, MarketplaceIDs: seller.Marketplaces,
		LastUpdatedAfter: since, LastUpdatedBefore: until}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.AmazonOrderId)
	}
	slices.Sort(ids)
	return ids
}
