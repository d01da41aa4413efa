package vault

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestResolveMarketplaces(t *testing.T) {
	tests := []struct {
		name   string
		region string
		in     []string
		want   []string
		input  string // of the *MarketplaceError; "-" for no error
	}{
		{"ids and countries, repeats dropped", "eu", []string{"DE", " A1PA6795UKMFR9", "fr", ""}, []string{"A1PA6795UKMFR9", "A13V1IB3VIYZZH"}, "-"},
		{"uk is gb", "eu", []string{"UK"}, []string{"A1F83G8C2ARO7P"}, "-"},
		{"other region", "na", []string{"US", "DE"}, nil, "DE"},
		{"unknown", "na", []string{"XX1"}, nil, "XX1"},
		{"none given", "fe", []string{" ", ""}, nil, ""},
		{"nil", "fe", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveMarketplaces(tc.region, tc.in)
			if tc.input == "-" {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			var me *MarketplaceError
			if !errors.As(err, &me) || me.Input != tc.input || me.Region != tc.region || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, %v; want a *MarketplaceError for %q", got, err, tc.input)
			}
			if tc.input != "" && !strings.HasPrefix(err.Error(), tc.input+": ") {
				t.Errorf("message %q does not start with the input", err)
			}
		})
	}
	if n := len(MarketplacesIn("fe")); n != 3 {
		t.Errorf("MarketplacesIn(fe): %d, want 3", n)
	}
}

// TestUpdateWith: an update returns its changes and the stored record;
// values already stored change nothing and write nothing; a refused change
// comes back as Apply worded it.
func TestUpdateWith(t *testing.T) {
	f := newVault(t)
	f.seed(t)
	ctx := context.Background()
	na, name := "na", "acme-us"
	s, changes, err := f.v.UpdateSellerWith(ctx, "acme", SellerUpdate{Region: &na, Marketplaces: []string{"US", "CA"}, Name: &name})
	if err != nil || len(changes) != 3 || s.Name != name || !slices.Equal(s.Marketplaces, []string{"A2EUQ1WTGCTBG2", "ATVPDKIKX0DER"}) {
		t.Fatalf("seller update: %+v %v %v", s, changes, err)
	}
	if len(s.Authorizations) != 1 {
		t.Errorf("the update lost the seller's authorization: %+v", s.Authorizations)
	}
	before, _ := f.v.AuditLog(ctx, AuditFilter{})
	if _, changes, err := f.v.UpdateSellerWith(ctx, seller1, SellerUpdate{Marketplaces: []string{"CA", "US"}}); err != nil || len(changes) != 0 {
		t.Errorf("same marketplaces: %v %v", changes, err)
	}
	eu := "eu"
	_, _, err = f.v.UpdateSellerWith(ctx, seller1, SellerUpdate{Region: &eu})
	var rm *RegionMismatchError
	if !errors.As(err, &rm) || strings.HasPrefix(err.Error(), "update seller") {
		t.Errorf("moving without marketplaces: %v", err)
	}
	if after, _ := f.v.AuditLog(ctx, AuditFilter{}); len(after) != len(before) {
		t.Errorf("an update that changed nothing was audited: %d events, were %d", len(after), len(before))
	}
	draft := true
	a, changes, err := f.v.UpdateAppWith(ctx, clientID2, AppUpdate{Draft: &draft, Name: "beta"})
	if err != nil || len(changes) != 2 || a.Name != "beta" || !a.Draft {
		t.Fatalf("app update: %+v %v %v", a, changes, err)
	}
	if _, _, err := f.v.UpdateAppWith(ctx, "nosuch", AppUpdate{Draft: &draft}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
}
