package benchmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
)

// getOrdersKey is the emulator's counter key of getOrders.
const getOrdersKey = "orders/v0/getOrders"

// PullOptions shape the pull workload.
type PullOptions struct {
	// Orders is how many orders the one seller has.
	Orders int
	// TimeScale is emulated time per real time; the client's pace and
	// token refresh margins are scaled alike.
	TimeScale float64
	// PII are the Restricted Data Token data elements to pull with each
	// order (e.g. shippingAddress).
	PII []string
	// UserAgent is the client's User-Agent.
	UserAgent string
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
}

// PullReport is the result of the pull workload.
type PullReport struct {
	Orders            int64   `json:"orders"`
	OrdersWithAddress int64   `json:"ordersWithAddress"`
	Pages             int64   `json:"pages"`
	TimeScale         float64 `json:"timeScale"`
	ElapsedSeconds    float64 `json:"elapsedSeconds"`
	// EmulatedHours is the pull's duration on the emulator's clock.
	EmulatedHours     float64 `json:"emulatedHours"`
	Burst             int     `json:"burst"`
	Rate              float64 `json:"ratePerSecond"`
	AllowedPages      float64 `json:"allowedPages"`
	AchievedToAllowed float64 `json:"achievedToAllowed"`
	Throttled         int64   `json:"throttled429"`
	// Sellers is how many sellers were pulled (one); the per-hour figures
	// are per seller.
	Sellers          int     `json:"sellers"`
	LWATokenRequests int64   `json:"lwaTokenRequests"`
	LWATokensPerHour float64 `json:"lwaTokensPerEmulatedHourPerSeller"`
	RDTRequests      int64   `json:"rdtRequests"`
	RDTsPerHour      float64 `json:"rdtsPerEmulatedHourPerSeller"`
	// Calls is every SP-API call the client made; LimiterWaits those the
	// rate limiter made wait for a slot, LimiterWaitSeconds how long it
	// told them to wait in all.
	Calls              int64   `json:"calls"`
	LimiterWaits       int64   `json:"limiterWaits"`
	LimiterWaitSeconds float64 `json:"limiterWaitSeconds"`
	// TokenRetries counts calls sent again with a new token because the
	// emulator refused theirs as expired: the client's token was due
	// sooner than its refresh margin (a machine slower than the time scale).
	TokenRetries int64   `json:"tokenRetries"`
	Limits       []Limit `json:"limits"`
}

// Pull pulls every order with the asked personal data from one seller of
// the offline Amazon, as spgate orders pull does (the rate-limit buckets
// in a vault, Amazon's hour-long tokens on the emulator's sped-up clock),
// and compares the pages achieved with those Amazon's bucket allowed.
func Pull(ctx context.Context, o PullOptions) (PullReport, error) {
	if o.Orders < 1 || o.TimeScale <= 0 {
		return PullReport{}, errors.New("the pull needs at least one order and a positive time scale")
	}
	op, ok := operations.ByID("orders", "v0", "getOrders")
	if !ok {
		return PullReport{}, errors.New("getOrders is missing from the operations table; regenerate it with go generate ./operations")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// Amazon's token lifetimes: the emulator's default hour, on its clock.
	e, err := demo.Start(ctx, demo.Options{Actor: "bench",
		Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 1, TimeScale: o.TimeScale}})
	if err != nil {
		return PullReport{}, err
	}
	defer e.Close()
	// The client as spgate orders pull builds it: buckets in the vault,
	// one token of headroom. Its clock is the emulator's, so it sees a
	// token's hour pass and refreshes it when it is due, and its limiter
	// paces at the emulator's time scale.
	limiter := ratelimit.New(ratelimit.Options{Store: e.Vault.RateLimitStore(log), RateScale: o.TimeScale, Headroom: 1, Logger: log})
	c, err := spapi.New(spapi.Config{
		AppID:       e.App.AppID,
		Credentials: rotation.VaultCredentials{Vault: e.Vault, App: e.App.Name},
		Sellers:     appvault.NewSellers(e.Vault, e.App.Name, 0, nil),
		Endpoints:   e.Endpoints,
		Limiter:     limiter,
		Clock:       newEmulatorClock(e.Amazon, o.TimeScale),
		UserAgent:   o.UserAgent,
		Logger:      log,
	})
	if err != nil {
		return PullReport{}, err
	}
	r := PullReport{TimeScale: o.TimeScale, Burst: op.Burst, Rate: op.Rate, Sellers: 1}
	start, emuStart := time.Now(), e.Amazon.Now()
	if err := pullAll(ctx, c, e, o.PII, &r); err != nil {
		return PullReport{}, err
	}
	elapsed := time.Since(start)
	r.ElapsedSeconds = elapsed.Seconds()
	r.EmulatedHours = e.Amazon.Now().Sub(emuStart).Hours()
	// Amazon's bucket allows its burst at once, then rate × scale per second.
	r.AllowedPages = float64(op.Burst) + op.Rate*o.TimeScale*elapsed.Seconds()
	r.count(e.Amazon.Counters(), limiter.Stats(), c.Stats())
	return r, nil
}

// pullAll lists every order of the fixture's seller, counting them.
func pullAll(ctx context.Context, c *spapi.Client, e *demo.Env, pii []string, r *PullReport) error {
	d := e.Fixture
	q := orders.Query{Seller: d.SellerID, MarketplaceIDs: d.Marketplaces,
		CreatedAfter: e.Amazon.Now().AddDate(0, 0, -120), PII: pii}
	for ord, err := range orders.New(c).ListOrders(ctx, q) {
		if err != nil {
			return fmt.Errorf("after %d orders: %w", r.Orders, err)
		}
		r.Orders++
		if ord.ShippingAddress != nil && ord.ShippingAddress.AddressLine1 != "" {
			r.OrdersWithAddress++
		}
	}
	return nil
}

// count fills in what the emulator, the limiter and the client counted,
// and the limits.
func (r *PullReport) count(ac amazontest.Counters, ls ratelimit.Stats, st spapi.StatsSnapshot) {
	r.Pages = ac.Calls[getOrdersKey] - ac.Throttled[getOrdersKey]
	r.AchievedToAllowed = float64(r.Pages) / r.AllowedPages
	r.Throttled = ac.TotalThrottled
	for _, n := range ac.TokensIssued {
		r.LWATokenRequests += n
	}
	r.RDTRequests = ac.RDTsIssued
	if r.EmulatedHours > 0 {
		r.LWATokensPerHour = float64(r.LWATokenRequests) / r.EmulatedHours / float64(r.Sellers)
		r.RDTsPerHour = float64(r.RDTRequests) / r.EmulatedHours / float64(r.Sellers)
	}
	r.Calls, r.TokenRetries = st.Calls, st.TokenRetries
	r.LimiterWaits, r.LimiterWaitSeconds = ls.Waits, ls.WaitTime.Seconds()
	r.Limits = []Limit{
		NewLimit("achieved/allowed pages", "", r.AchievedToAllowed, PullMinRatio, true),
		NewLimit("429s", "", float64(r.Throttled), 0, false),
	}
}

// WriteText writes the report as spgate bench pull prints it.
func (r PullReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "pull: %d orders (%d with address) in %d pages, %.2f s at time scale %g (%.2f emulated hours)\n",
		r.Orders, r.OrdersWithAddress, r.Pages, r.ElapsedSeconds, r.TimeScale, r.EmulatedHours)
	fmt.Fprintf(w, "  %-16s %.1f (burst %d + %g/s × %g × %.2f s); achieved %.3f of it\n",
		"allowed pages", r.AllowedPages, r.Burst, r.Rate, r.TimeScale, r.ElapsedSeconds, r.AchievedToAllowed)
	fmt.Fprintf(w, "  %-16s %.2f per emulated hour per seller (%d in all; a token lives an hour)\n", "LWA tokens", r.LWATokensPerHour, r.LWATokenRequests)
	fmt.Fprintf(w, "  %-16s %.2f per emulated hour per seller (%d in all; an RDT lives an hour)\n", "RDTs", r.RDTsPerHour, r.RDTRequests)
	fmt.Fprintf(w, "  %-16s %d of %d calls waited for a slot, %.2f s in all\n", "rate limiter", r.LimiterWaits, r.Calls, r.LimiterWaitSeconds)
	if r.TokenRetries > 0 {
		fmt.Fprintf(w, "  %-16s %d calls sent again with a new token after theirs expired on the way (the machine is slow for this time scale)\n", "token retries", r.TokenRetries)
	}
	for _, l := range r.Limits {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// emulatorClock reads the emulator's time, which runs scale times faster
// than real time, and scales timers alike. It starts a hair behind the
// emulator's clock, never ahead of it.
type emulatorClock struct {
	base, start time.Time
	scale       float64
}

func newEmulatorClock(srv *amazontest.Server, scale float64) *emulatorClock {
	return &emulatorClock{base: srv.Now(), start: time.Now(), scale: scale}
}

func (c *emulatorClock) Now() time.Time {
	return c.base.Add(time.Duration(float64(time.Since(c.start)) * c.scale))
}

func (c *emulatorClock) NewTimer(d time.Duration) clock.Timer {
	return clock.Real{}.NewTimer(time.Duration(float64(d) / c.scale))
}
