package consent_test

import (
	"context"
	"fmt"
	"log"

	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
)

// A program asks a seller in Europe to authorize its app and gets the
// refresh token; the redirect URI registered for the app is served on
// loopback.
func ExampleStart() {
	ctx := context.Background()
	creds := lwa.StaticCredentials{ClientID: "amzn1.application-oa2-client.…", ClientSecret: secret.New("amzn1.oa2-cs.v1.…")}
	f, err := consent.Start(ctx, consent.Options{
		Link: consent.Link{
			Page:        consent.PageURL("eu"),
			AppID:       "amzn1.sp.solution.…",
			RedirectURI: "http://127.0.0.1:8765/callback",
		},
		Exchange: consent.LWA(&lwa.Client{}, creds),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("Open this link as the seller and confirm:", f.URL())
	res, err := f.Wait(ctx)
	if err != nil {
		log.Fatal(err) // consent.ErrState, ErrDenied, ErrCode, ErrTimeout …
	}
	fmt.Println("seller", res.SellerID, "authorized; refresh token", res.RefreshToken.Hint())
}
