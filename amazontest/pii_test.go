package amazontest

import (
	"strings"
	"testing"
)

func TestPersonalDataMarkersAppearInPersonalDataOnly(t *testing.T) {
	sellers := benchSellers(1)
	d := newDataset(1, sellers, 50, dataNow)
	sd := d.forSeller(sellers[0])
	found := 0
	for i := range min(len(sd.orders), 50) {
		b := d.buyerOf(sd, i)
		pii := strings.Join([]string{b.Email, " " + b.Line1, b.Company, b.Office}, "|")
		for _, m := range PersonalDataMarkers() {
			if strings.Contains(pii, m) {
				found++
			}
		}
		if b.City != "" && containsAny(" "+b.City, PersonalDataMarkers()) {
			t.Errorf("city %q contains a personal-data marker", b.City)
		}
	}
	if found < 100 { // e-mail and street on every order, more for business buyers
		t.Errorf("markers found %d times in 50 orders' personal data", found)
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
