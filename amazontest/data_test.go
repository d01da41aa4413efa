package amazontest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

var dataNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testSellers() []*Seller {
	return []*Seller{
		{ID: "A1TESTSELLERNA1", Name: "NA", Region: RegionNA, Marketplaces: []string{"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"}},
		{ID: "A1TESTSELLEREU1", Name: "EU", Region: RegionEU, Marketplaces: []string{"A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A13V1IB3VIYZZH"}},
		{ID: "A1TESTSELLERFE1", Name: "FE", Region: RegionFE, Marketplaces: []string{"A1VC38T7YXB528"}},
	}
}

func TestDatasetDeterministic(t *testing.T) {
	a := newDataset(11, testSellers(), 5000, dataNow)
	b := newDataset(11, testSellers(), 5000, dataNow)
	c := newDataset(12, testSellers(), 5000, dataNow)
	for _, s := range testSellers() {
		sa, sb, sc := a.forSeller(s), b.forSeller(s), c.forSeller(s)
		if !slices.Equal(sa.orders, sb.orders) || !slices.Equal(sa.byUpd, sb.byUpd) {
			t.Fatalf("seller %s: same seed, different orders", s.ID)
		}
		if slices.Equal(sa.orders, sc.orders) {
			t.Fatalf("seller %s: different seeds, same orders", s.ID)
		}
		for _, i := range []int{0, 17, 4999} {
			if a.orderID(sa, i) != b.orderID(sb, i) || a.buyerOf(sa, i) != b.buyerOf(sb, i) || !slices.Equal(sa.items(i), sb.items(i)) {
				t.Fatalf("seller %s order %d: same seed, different details", s.ID, i)
			}
		}
	}
	// A seller generated lazily gets the same data as one generated at start.
	lazy := newDataset(11, nil, 5000, dataNow)
	s0 := testSellers()[0]
	if !slices.Equal(lazy.forSeller(s0).orders, a.forSeller(s0).orders) || lazy.orderID(lazy.forSeller(s0), 3) != a.orderID(a.forSeller(s0), 3) {
		t.Fatal("lazy generation differs from eager generation")
	}
}

func TestDatasetOrdersArePlausible(t *testing.T) {
	const n = 20000
	d := newDataset(3, testSellers(), n, dataNow)
	for _, s := range testSellers() {
		sd := d.forSeller(s)
		var statuses [numStatuses]int
		afn := 0
		ids := make(map[string]bool, n)
		prefixes := orderIDPrefixes(s.Region)
		for i := range sd.orders {
			o := &sd.orders[i]
			if o.updated < o.purchase || o.purchase < dataNow.Add(-dataWindow-time.Minute).Unix() || o.updated >= dataNow.Unix() {
				t.Fatalf("%s order %d: purchase %d, updated %d outside the window", s.ID, i, o.purchase, o.updated)
			}
			if i > 0 && o.purchase < sd.orders[i-1].purchase {
				t.Fatalf("%s: orders not sorted by purchase date at %d", s.ID, i)
			}
			if o.items < 1 || o.items > 4 {
				t.Fatalf("%s order %d has %d items", s.ID, i, o.items)
			}
			statuses[o.status]++
			if o.afn {
				afn++
			}
			id := d.orderID(sd, i)
			if !validOrderID(id) || ids[id] || !slices.Contains(prefixes, uint16(atoi(id[:3]))) {
				t.Fatalf("%s order %d: bad or duplicate id %q", s.ID, i, id)
			}
			ids[id] = true
			if j, ok := d.lookupOrder(sd, id); !ok || j != i {
				t.Fatalf("%s: id %s looks up to %d, %v; want %d", s.ID, id, j, ok, i)
			}
			m := sd.mkts[o.mkt]
			if m.Region != s.Region || !slices.Contains(s.Marketplaces, m.ID) {
				t.Fatalf("%s order %d in marketplace %s", s.ID, i, m.ID)
			}
			if i%97 == 0 {
				b := d.buyerOf(sd, i)
				if b.Country != m.Country || b.Name == "" || b.City == "" || strings.Contains(b.Postal, "#") {
					t.Fatalf("%s order %d: buyer %+v does not fit %s", s.ID, i, b, m.Country)
				}
			}
		}
		for st, c := range statuses {
			if c == 0 {
				t.Errorf("%s: no order with status %s in %d", s.ID, statusNames[st], n)
			}
		}
		if afn < n/4 || afn > 3*n/4 {
			t.Errorf("%s: %d of %d orders are AFN", s.ID, afn, n)
		}
		for i := 1; i < len(sd.byUpd); i++ {
			if sd.orders[sd.byUpd[i]].updated < sd.orders[sd.byUpd[i-1]].updated {
				t.Fatalf("%s: update index not sorted at %d", s.ID, i)
			}
		}
	}
	// Ids do not cross sellers, and near-miss ids are not found.
	na, eu := d.forSeller(testSellers()[0]), d.forSeller(testSellers()[1])
	id := d.orderID(na, 42)
	if _, ok := d.lookupOrder(eu, id); ok {
		t.Fatal("an NA seller's order id resolves for the EU seller")
	}
	miss := 0
	for k := 4; k < 19; k++ {
		if k == 11 {
			continue
		}
		b := []byte(id)
		b[k] = '0' + (b[k]-'0'+1)%10
		if _, ok := d.lookupOrder(na, string(b)); ok {
			miss++
		}
	}
	if miss > 1 {
		t.Fatalf("%d one-digit changes of %s still resolve", miss, id)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestMoneyAndCurrency(t *testing.T) {
	d := newDataset(5, testSellers(), 200, dataNow)
	for _, s := range testSellers() {
		sd := d.forSeller(s)
		for i := range 50 {
			m := sd.mkts[sd.orders[i].mkt]
			total := formatMoney(m, orderTotal(sd.items(i)))
			if m.Decimals == 0 && strings.Contains(total, ".") || m.Decimals == 2 && !strings.Contains(total, ".") {
				t.Fatalf("%s total %q for %s", s.ID, total, m.Currency)
			}
		}
	}
	us, _ := marketplaceByID("ATVPDKIKX0DER")
	for minor, want := range map[int64]string{0: "0.00", 5: "0.05", 1234: "12.34", -250: "-2.50"} {
		if got := formatMoney(us, minor); got != want {
			t.Errorf("formatMoney(%d) = %q, want %q", minor, got, want)
		}
	}
}

// FuzzGetOrdersQuery feeds arbitrary query strings to getOrders and
// searchOrders: they must answer 200 or Amazon's 400 shape, never panic.
func FuzzGetOrdersQuery(f *testing.F) {
	s, err := New(Config{Seed: 1, OrdersPerSeller: 300, Sellers: 1})
	if err != nil {
		f.Fatal(err)
	}
	sl, _ := s.Seller(s.Demo().SellerID)
	app, _ := s.App(s.Demo().AppID)
	after := s.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	for _, q := range []string{
		"CreatedAfter=" + after + "&MarketplaceIds=ATVPDKIKX0DER",
		"LastUpdatedAfter=" + after + "&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=3&OrderStatuses=Shipped",
		"createdAfter=" + after + "&includedData=BUYER,TAX",
		"NextToken=eyJrIjoibzAifQ%3D%3D&MarketplaceIds=x",
		"MarketplaceIds=%zz", "AmazonOrderIds=111-1111111-1111111&MarketplaceIds=ATVPDKIKX0DER",
		"CreatedAfter=2026-13-45&MarketplaceIds=ATVPDKIKX0DER", "a=b&a=c&;;&==",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, h := range []struct {
			key, path string
			fn        opHandler
		}{
			{"orders/v0/getOrders", "/orders/v0/orders", handleGetOrders},
			{"orders/2026-01-01/searchOrders", "/orders/2026-01-01/orders", handleSearchOrders},
		} {
			target := h.path + "?" + strings.NewReplacer(" ", "%20", "#", "%23", "\n", "%0A", "\r", "%0D", "\t", "%09").Replace(q)
			if strings.ContainsAny(target, "\x00\x7f") || !isValidTarget(target) {
				return
			}
			rec := direct(s, &sl, &app, h.key, http.MethodGet, target, h.fn)
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest:
				if code, _ := (hresp{body: rec.Body.Bytes()}).errCode(); code != "InvalidInput" {
					t.Fatalf("%s?%q: 400 without InvalidInput: %s", h.path, q, rec.Body)
				}
			default:
				t.Fatalf("%s?%q: status %d %s", h.path, q, rec.Code, rec.Body)
			}
		}
	})
}

// isValidTarget reports whether httptest.NewRequest accepts target.
func isValidTarget(target string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	for _, r := range target {
		if r < 0x20 || r >= 0x7f {
			return false
		}
	}
	http.NewRequest(http.MethodGet, target, nil) //nolint:errcheck // probe only
	return true
}
