package console

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
)

// Stats keeps the gateway's recent activity for the console: per seller
// the last successful call, 429s and LWA refusals today; per client its
// last call; per operation the calls and 429s of each of the last 60
// minutes. It learns them from the gateway's own request log lines (one
// "request" record per call, with client, seller, operation and status),
// through Handler, so the gateway needs no hook of its own. It lives in
// memory: a restart starts it afresh.
type Stats struct {
	mu      sync.Mutex
	clk     clock.Clock
	sellers map[string]*sellerStats
	clients map[string]time.Time
	ops     map[string]*opSeries
}

// Bounds on what Stats keeps, whatever callers send.
const (
	maxStatKeys = 10000
	statMinutes = 60
)

type sellerStats struct {
	LastOK    time.Time
	Day       string // the local date the counters are for
	Throttled int
	LWAFailed int
}

type opSeries struct {
	minutes [statMinutes]opMinute
}

type opMinute struct {
	at        int64 // unix minute
	calls     int
	throttled int
}

// NewStats returns empty Stats on clk (nil: the real clock).
func NewStats(clk clock.Clock) *Stats {
	return &Stats{clk: clock.Or(clk), sellers: map[string]*sellerStats{}, clients: map[string]time.Time{}, ops: map[string]*opSeries{}}
}

// Gateway error codes that mean LWA refused the credentials.
var lwaRefusals = map[string]bool{"seller_authorization_revoked": true, "app_secret_invalid": true}

// Record counts one gateway call. Calls without a client (no valid key)
// are not counted: only what a key holder did shows.
func (st *Stats) Record(client, seller, operation string, status int, errorCode string) {
	if client == "" {
		return
	}
	now := st.clk.Now()
	day := now.Local().Format(time.DateOnly)
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.clients[client]; ok || len(st.clients) < maxStatKeys {
		st.clients[client] = now
	}
	if seller != "" {
		s := st.sellers[seller]
		if s == nil && len(st.sellers) < maxStatKeys {
			s = &sellerStats{}
			st.sellers[seller] = s
		}
		if s != nil {
			if s.Day != day {
				s.Day, s.Throttled, s.LWAFailed = day, 0, 0
			}
			switch {
			case status >= 200 && status < 300:
				s.LastOK = now
			case status == 429:
				s.Throttled++
			}
			if lwaRefusals[errorCode] {
				s.LWAFailed++
			}
		}
	}
	if operation == "" {
		return
	}
	o := st.ops[operation]
	if o == nil {
		if len(st.ops) >= maxStatKeys {
			return
		}
		o = &opSeries{}
		st.ops[operation] = o
	}
	min := now.Unix() / 60
	m := &o.minutes[min%statMinutes]
	if m.at != min {
		*m = opMinute{at: min}
	}
	m.calls++
	if status == 429 {
		m.throttled++
	}
}

// SellerActivity is what Stats knows of one seller.
type SellerActivity struct {
	LastOK           time.Time
	ThrottledToday   int
	LWAFailuresToday int
}

// Seller returns the activity of a seller (by the id or name callers used).
func (st *Stats) Seller(ref string) SellerActivity {
	if st == nil {
		return SellerActivity{}
	}
	day := st.clk.Now().Local().Format(time.DateOnly)
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.sellers[ref]
	if s == nil {
		return SellerActivity{}
	}
	a := SellerActivity{LastOK: s.LastOK}
	if s.Day == day {
		a.ThrottledToday, a.LWAFailuresToday = s.Throttled, s.LWAFailed
	}
	return a
}

// ClientLastUse returns when a client last called the gateway (zero: not
// since the console started).
func (st *Stats) ClientLastUse(name string) time.Time {
	if st == nil {
		return time.Time{}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.clients[name]
}

// OperationActivity is one operation's calls and 429s per minute over the
// last hour, oldest first.
type OperationActivity struct {
	Operation string
	Calls     []int
	Throttled []int
	Total     int
	Total429  int
}

// Operations returns the operations called in the last hour, busiest first.
func (st *Stats) Operations() []OperationActivity {
	if st == nil {
		return nil
	}
	now := st.clk.Now().Unix() / 60
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []OperationActivity
	for name, o := range st.ops {
		a := OperationActivity{Operation: name, Calls: make([]int, statMinutes), Throttled: make([]int, statMinutes)}
		for i := range statMinutes {
			min := now - int64(statMinutes-1-i)
			m := o.minutes[min%statMinutes]
			if m.at == min {
				a.Calls[i], a.Throttled[i] = m.calls, m.throttled
				a.Total += m.calls
				a.Total429 += m.throttled
			}
		}
		if a.Total > 0 {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b OperationActivity) int {
		if a.Total != b.Total {
			return b.Total - a.Total
		}
		if a.Operation < b.Operation {
			return -1
		}
		return 1
	})
	return out
}

// Handler wraps the gateway's log handler: every "request" record the
// gateway writes (at Info, whatever the log level) is counted, and passed
// on to next only when next wants its level.
func (st *Stats) Handler(next slog.Handler) slog.Handler {
	return &statsHandler{st: st, next: next}
}

type statsHandler struct {
	st    *Stats
	next  slog.Handler
	attrs []slog.Attr
	group bool
}

func (h *statsHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l == slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *statsHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" && r.Level == slog.LevelInfo && !h.group {
		var client, seller, op, code string
		status := 0
		read := func(a slog.Attr) bool {
			switch a.Key {
			case "client":
				client = a.Value.String()
			case "seller":
				seller = a.Value.String()
			case "operation":
				op = a.Value.String()
			case "error_code":
				code = a.Value.String()
			case "status":
				status = int(a.Value.Int64())
			}
			return true
		}
		for _, a := range h.attrs {
			read(a)
		}
		r.Attrs(read)
		h.st.Record(client, seller, op, status, code)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *statsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.next = h.next.WithAttrs(as)
	if !h.group {
		n.attrs = append(slices.Clip(h.attrs), as...)
	}
	return &n
}

func (h *statsHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.next = h.next.WithGroup(name)
	n.group = n.group || name != ""
	return &n
}
