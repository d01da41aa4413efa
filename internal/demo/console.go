package demo

import (
	"fmt"

	"github.com/spgate/spgate/amazontest"
)

// ConsoleFixture is the fixture of spgate demo --console: an app like the
// emulator's demo app (shipping and tax roles) whose registered redirect
// URI is the console's callback at consoleURL, authorized by every demo
// seller, and one seller more in EU that has not authorized it yet, so that
// the console's Sellers page has someone to authorize through the
// emulator's consent page.
func ConsoleFixture(consoleURL string) func(*amazontest.Server) (amazontest.Demo, error) {
	return func(srv *amazontest.Server) (amazontest.Demo, error) {
		app, err := srv.AddApp(amazontest.App{Roles: []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
			RedirectURIs: []string{consoleURL + "/oauth/callback"}})
		if err != nil {
			return amazontest.Demo{}, fmt.Errorf("add the console demo app to the offline Amazon: %w", err)
		}
		d := amazontest.Demo{AppID: app.ID, ClientID: app.ClientID, ClientSecret: app.ClientSecret}
		for _, s := range srv.Demo().Sellers {
			tok, err := srv.Authorize(s.ID, app.ID)
			if err != nil {
				return d, fmt.Errorf("authorize the console demo app: %w", err)
			}
			s.RefreshToken = tok
			d.Sellers = append(d.Sellers, s)
		}
		if _, err := srv.AddSeller(amazontest.Seller{Name: "New Seller", Region: amazontest.RegionEU}); err != nil {
			return d, fmt.Errorf("add a seller to the offline Amazon: %w", err)
		}
		if len(d.Sellers) > 0 {
			s := d.Sellers[0]
			d.SellerID, d.RefreshToken, d.Region, d.Marketplaces = s.ID, s.RefreshToken, s.Region, s.Marketplaces
		}
		return d, nil
	}
}
