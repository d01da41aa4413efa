package vault

import (
	"errors"
	"testing"
)

// TestSellerUpdateApply: a seller moves region only with marketplaces of
// that region; unchanged values are no change.
func TestSellerUpdateApply(t *testing.T) {
	s := Seller{ID: "A2VYDBAL8BMVQK", Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}
	na := "na"
	_, err := SellerUpdate{Region: &na}.Apply(&s)
	var rm *RegionMismatchError
	if !errors.As(err, &rm) || rm.Region != "na" || s.Region != "eu" {
		t.Fatalf("moving region alone: %v, seller %+v", err, s)
	}
	changes, err := SellerUpdate{Region: &na, Marketplaces: []string{"ATVPDKIKX0DER"}}.Apply(&s)
	if err != nil || len(changes) != 2 || s.Region != "na" {
		t.Fatalf("moving with marketplaces: %v, %v", changes, err)
	}
	if changes, _ := (SellerUpdate{Region: &na}).Apply(&s); len(changes) != 0 {
		t.Errorf("no change reported %v", changes)
	}
	a := App{Roles: []string{"b", "a"}}
	roles := []string{" a", "b", "a"}
	if changes := (AppUpdate{Roles: &roles}).Apply(&a); len(changes) != 0 {
		t.Errorf("same roles in another order reported %v", changes)
	}
}
