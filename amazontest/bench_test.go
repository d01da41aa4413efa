package amazontest

import (
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"
)

// BenchmarkStartup100kOrders measures generating 100,000 orders (10 sellers
// × 10,000). Goal: well under 1 s per op.
func BenchmarkStartup100kOrders(b *testing.B) {
	sellers := benchSellers(10)
	b.ReportAllocs()
	for b.Loop() {
		_ = newDataset(1, sellers, 10_000, dataNow)
	}
}

// BenchmarkDatasetHeap100kOrders reports the live heap a 100,000-order
// data set keeps.
func BenchmarkDatasetHeap100kOrders(b *testing.B) {
	sellers := benchSellers(10)
	var keep *dataset
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep = newDataset(1, sellers, 10_000, dataNow)
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	runtime.KeepAlive(keep)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/100_000, "heap-B/order")
}

// BenchmarkStartup500kOrders is the largest supported size: 10 sellers ×
// 50,000 orders.
func BenchmarkStartup500kOrders(b *testing.B) {
	sellers := benchSellers(10)
	b.ReportAllocs()
	for b.Loop() {
		_ = newDataset(1, sellers, 50_000, dataNow)
	}
}

// BenchmarkGetOrdersPage100 serves full pages of 100 orders (no PII) through
// the handler, following NextTokens. Goal: >= 2,000 pages/s.
func BenchmarkGetOrdersPage100(b *testing.B) {
	benchPages(b, false)
}

// BenchmarkGetOrdersPage100PII is the same with an RDT covering all PII.
func BenchmarkGetOrdersPage100PII(b *testing.B) {
	benchPages(b, true)
}

func benchPages(b *testing.B, pii bool) {
	s, err := New(Config{Seed: 1, OrdersPerSeller: 50_000, Sellers: 1, NoRateLimits: true})
	if err != nil {
		b.Fatal(err)
	}
	sl, _ := s.Seller(s.Demo().SellerID)
	app, _ := s.App(s.Demo().AppID)
	first := "/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=" + url.QueryEscape(s.Now().Add(-85*24*time.Hour).UTC().Format(time.RFC3339))
	var grant *rdtGrant
	if pii {
		grant = &rdtGrant{resources: []RestrictedResource{{Method: "GET", Path: "/orders/v0/orders", DataElements: []string{"buyerInfo", "shippingAddress", "buyerTaxInformation"}}}}
	}
	target := first
	var bytes int64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		rec := directRDT(s, &sl, &app, grant, "orders/v0/getOrders", http.MethodGet, target, handleGetOrders)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		bytes += int64(rec.Body.Len())
		target = first
		if tok := nextTokenOf(rec.Body.Bytes()); tok != "" {
			target = "/orders/v0/orders?NextToken=" + url.QueryEscape(tok)
		}
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/el, "pages/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/page")
}
