package marketplace

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		in     string
		wantID string
	}{
		{"ATVPDKIKX0DER", "ATVPDKIKX0DER"},
		{"atvpdkikx0der", "ATVPDKIKX0DER"},
		{" de ", "A1PA6795UKMFR9"},
		{"UK", "A1F83G8C2ARO7P"},
		{"gb", "A1F83G8C2ARO7P"},
		{"SG", "A19VAU5U5O7RUS"},
		{"XX", ""},
		{"", ""},
	}
	for _, tt := range tests {
		m, ok := Lookup(tt.in)
		if ok != (tt.wantID != "") || m.ID != tt.wantID {
			t.Errorf("Lookup(%q) = %+v, %v; want id %q", tt.in, m, ok, tt.wantID)
		}
	}
}

func TestListIsConsistent(t *testing.T) {
	all := All()
	if len(all) != 23 {
		t.Errorf("%d marketplaces, the reference lists 23", len(all))
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.ID] || seen[m.Country] {
			t.Errorf("%+v: id or country listed twice", m)
		}
		seen[m.ID], seen[m.Country] = true, true
		if got, ok := ByID(m.ID); !ok || got != m {
			t.Errorf("ByID(%s) = %+v, %v", m.ID, got, ok)
		}
		if !strings.Contains(strings.Join(Regions(), " "), m.Region) || m.Region == "" {
			t.Errorf("%+v: region not one of %v", m, Regions())
		}
	}
	if _, ok := ByID("atvpdkikx0der"); ok {
		t.Error("ByID matched an id in the wrong case")
	}
	all[0].ID = "changed"
	if All()[0].ID == "changed" {
		t.Error("All returned the package's own slice")
	}
}

func TestRegionOf(t *testing.T) {
	for want, ids := range map[string][]string{
		NA: {"ATVPDKIKX0DER", "ca", "BR"},
		EU: {"A1PA6795UKMFR9", "UK", "GB", "ZA"},
		FE: {"JP", "AU", "A19VAU5U5O7RUS"},
	} {
		if got, err := RegionOf(ids...); err != nil || got != want {
			t.Errorf("RegionOf(%v) = %q, %v; want %q", ids, got, err, want)
		}
	}
	for errWant, ids := range map[string][]string{
		"span regions na and eu":      {"US", "DE"},
		"span regions fe and na":      {"JP", "MX"},
		`unknown marketplace "XXXXX"`: {"DE", "XXXXX"},
		"no marketplace given":        nil,
	} {
		if got, err := RegionOf(ids...); err == nil || !strings.Contains(err.Error(), errWant) {
			t.Errorf("RegionOf(%v) = %q, %v; want an error saying %q", ids, got, err, errWant)
		}
	}
}
