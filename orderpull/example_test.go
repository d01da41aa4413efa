package orderpull_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
)

// Pull the last 100 days of a seller's orders, with their shipping
// addresses, as JSON Lines. Against Amazon itself, leave out srv and
// Endpoints and give the app's and the seller's real credentials. (The
// offline Amazon has 100 orders; one changed in the last two minutes,
// which Amazon leaves to the next run.)
func Example() {
	srv := amazontest.NewServer() // the offline Amazon
	defer srv.Close()
	demo := srv.Demo()
	ep, _ := spapi.Custom(srv.URL, nil, "")
	client, err := spapi.New(spapi.Config{AppID: demo.AppID, Endpoints: ep,
		Credentials: lwa.StaticCredentials{ClientID: demo.ClientID, ClientSecret: secret.New(demo.ClientSecret)},
		Sellers:     spapi.StaticSellers{{ID: demo.SellerID, Region: spapi.NA, RefreshToken: secret.New(demo.RefreshToken)}}})
	if err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer // or orderpull.NewFile("orders.jsonl"), resumable
	res, err := orderpull.Run(context.Background(), client, orderpull.Options{Seller: demo.SellerID,
		Marketplaces: demo.Marketplaces, Since: time.Now().AddDate(0, 0, -100), PII: []string{orderpull.Address}},
		orderpull.NewJSONL(&out))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Orders, "orders,", strings.Count(out.String(), `"AddressLine1"`), "with a street address")
	// Output: 99 orders, 99 with a street address
}
