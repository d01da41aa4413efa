package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spgate/spgate/vault"
)

type activityData struct {
	Filter   activityFilter
	Access   []vault.AccessEvent
	Changes  []vault.AuditEvent
	Ops      []opChart
	HasStats bool
	Clients  []string
	Sellers  []vault.Seller
	Periods  [][2]string
}

type activityFilter struct {
	Client, Seller, Operation, Period string
}

type opChart struct {
	Operation string
	Total     int
	Total429  int
	Chart     template.HTML
}

var periods = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

func (c *Console) activityData(ctx context.Context, f activityFilter) (activityData, error) {
	d := activityData{Filter: f, HasStats: c.cfg.Stats != nil,
		Periods: [][2]string{{"24h", "last 24 hours"}, {"7d", "last 7 days"}, {"30d", "last 30 days"}, {"90d", "last 90 days"}}}
	if _, ok := periods[f.Period]; !ok {
		d.Filter.Period = "7d"
	}
	seller := f.Seller
	if seller != "" {
		if s, err := c.cfg.Vault.GetSeller(ctx, seller); err == nil {
			seller = s.ID
		}
	}
	ev, err := c.cfg.Vault.AccessLog(ctx, vault.AccessFilter{Client: f.Client, Seller: seller, PIIOnly: true,
		Since: c.clk.Now().Add(-periods[d.Filter.Period]), Limit: 500})
	if err != nil {
		return d, err
	}
	for _, e := range slices.Backward(ev) {
		if f.Operation != "" && !strings.Contains(strings.ToLower(e.Operation), strings.ToLower(f.Operation)) {
			continue
		}
		d.Access = append(d.Access, e)
	}
	changes, err := c.cfg.Vault.AuditLog(ctx, vault.AuditFilter{Limit: 100})
	if err != nil {
		return d, err
	}
	for _, e := range slices.Backward(changes) {
		e.Detail = scrub(e.Detail)
		d.Changes = append(d.Changes, e)
	}
	for _, o := range c.cfg.Stats.Operations() {
		d.Ops = append(d.Ops, opChart{Operation: o.Operation, Total: o.Total, Total429: o.Total429, Chart: barChart(o)})
	}
	if cl, err := c.cfg.Vault.ListClients(ctx); err == nil {
		for _, x := range cl {
			d.Clients = append(d.Clients, x.Name)
		}
	}
	d.Sellers, _ = c.cfg.Vault.ListSellers(ctx)
	return d, nil
}

func (c *Console) handleActivity(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := activityFilter{Client: q.Get("client"), Seller: q.Get("seller"), Operation: q.Get("operation"), Period: q.Get("period")}
	d, err := c.activityData(r.Context(), f)
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "Activity", Text: scrub(err.Error())})
		return
	}
	c.render(w, r, http.StatusOK, "activity", s, d)
}

// barChart draws an operation's last hour as an inline SVG: a bar per
// minute for its calls, the 429s of that minute in red on top. The SVG
// carries its own text alternative; it needs neither script nor style.
func barChart(o OperationActivity) template.HTML {
	const w, h, bw = 240, 40, 4
	peak := 1
	for _, n := range o.Calls {
		peak = max(peak, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h,
		template.HTMLEscapeString(fmt.Sprintf("%s: %d calls, %d answered 429, in the last hour", o.Operation, o.Total, o.Total429)))
	fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="1" fill="#8a8f98"/>`, h-1, w)
	for i, n := range o.Calls {
		if n == 0 {
			continue
		}
		bh := max(1, n*(h-2)/peak)
		x := i * bw
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#2f6fb3"/>`, x, h-1-bh, bw-1, bh)
		if t := o.Throttled[i]; t > 0 {
			th := max(1, t*(h-2)/peak)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#b3261e"/>`, x, h-1-bh, bw-1, min(th, bh))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
