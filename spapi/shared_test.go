package spapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/spapi/sellers"
	"github.com/spgate/spgate/tokencache"
)

// Clients that share a token cache — the processes of one vault — make
// one LWA refresh per seller and one RDT per resource among them.
func TestClientsShareTokens(t *testing.T) {
	e := newEnv(t, amazontest.WithTimeScale(1000), amazontest.WithTokenLifetime(24*time.Hour))
	ctx := context.Background()
	shared := tokencache.NewMemory(nil)
	var clients []*spapi.Client
	for range 3 {
		c, _ := newClient(t, e.srv, e.demo, func(cfg *spapi.Config) { cfg.TokenCache = shared })
		clients = append(clients, c)
	}
	var first orders.Order
	for o, err := range orders.New(clients[0]).ListOrders(ctx, e.query()) {
		if err != nil {
			t.Fatal(err)
		}
		first = o
		break
	}
	for i, c := range clients {
		if _, err := sellers.New(c).MarketplaceParticipations(ctx, e.demo.SellerID); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if _, err := orders.New(c).GetOrderAddress(ctx, e.demo.SellerID, first.AmazonOrderId); err != nil {
			t.Fatalf("client %d: getOrderAddress: %v", i, err)
		}
	}
	n := e.srv.Counters()
	if n.TokensIssued["refresh_token"] != 1 || n.RDTsIssued != 1 {
		t.Errorf("%d refresh grants and %d RDTs for three clients sharing a cache, want 1 and 1", n.TokensIssued["refresh_token"], n.RDTsIssued)
	}
}

func TestTokenCacheNeedsAppID(t *testing.T) {
	_, err := spapi.New(spapi.Config{Credentials: lwa.StaticCredentials{ClientID: "id", ClientSecret: secret.New("s")},
		TokenCache: tokencache.NewMemory(nil)})
	if err == nil || !strings.Contains(err.Error(), "AppID") {
		t.Errorf("New with a token cache and no app id: %v", err)
	}
}
