package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

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
