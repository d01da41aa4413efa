package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/vault"
)

// Store keeps r in v for app (its name or id in the vault): the seller is
// added first when the vault does not hold it yet, with the name, region
// and marketplaces of newSeller (its ID is r's); then its refresh token
// for app is set, authorized at at, and marked verified, since LWA issued
// it a moment ago. Store the result at once: the refresh token exists
// nowhere else.
func (r Result) Store(ctx context.Context, v *vault.Vault, app string, newSeller vault.Seller, at time.Time) error {
	if _, err := v.GetSeller(ctx, r.SellerID); errors.Is(err, vault.ErrNotFound) {
		newSeller.ID = r.SellerID
		if err := v.AddSeller(ctx, newSeller); err != nil {
			return fmt.Errorf("storing seller %s: %w", r.SellerID, err)
		}
	} else if err != nil {
		return fmt.Errorf("reading seller %s: %w", r.SellerID, err)
	}
	if err := v.SetRefreshToken(ctx, r.SellerID, app, r.RefreshToken, at); err != nil {
		return fmt.Errorf("storing the refresh token of seller %s: %w", r.SellerID, err)
	}
	// Best effort: the token is stored; the mark only spares a check.
	_ = v.MarkRefreshTokenVerified(ctx, r.SellerID, app)
	return nil
}

// Authorize runs the whole website flow for app as the vault holds it
// (vault.GetApp): Start with o, its link made for app (o.Link's AppID and
// Draft are app's) and its code exchanged with LWA through lc with the
// app's credentials as the vault holds them; started is told of the
// running flow, to show its link; then Wait, and the result stored at once
// (Store, with newSeller for a seller the vault does not hold yet, dated
// by o.Clock).
func Authorize(ctx context.Context, v *vault.Vault, app vault.App, lc *lwa.Client, o Options, newSeller vault.Seller, started func(*Flow)) (Result, error) {
	o.Link.AppID, o.Link.Draft = app.AppID, app.Draft
	o.Exchange = LWA(lc, rotation.VaultCredentials{Vault: v, App: app.Name})
	flow, err := Start(ctx, o)
	if err != nil {
		return Result{}, err
	}
	defer flow.Close()
	if started != nil {
		started(flow)
	}
	res, err := flow.Wait(ctx)
	if err != nil {
		return res, err
	}
	return res, res.Store(ctx, v, app.Name, newSeller, clock.Or(o.Clock).Now())
}
