package appvault

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/pgtest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/internal/tokencachetest"
	"github.com/spgate/spgate/tokencache"
	"github.com/spgate/spgate/vault"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// store is one vault opened as two processes would: two handles on the
// same file or PostgreSQL schema.
type store struct {
	path string
	a, b *vault.Vault
}

// backends opens a fresh vault store in each backend: SQLite, and
// PostgreSQL when a server is available (pgtest: skipped without one
// unless SPGATE_REQUIRE_POSTGRES=1).
var backends = []struct {
	name string
	path func(tb testing.TB) string
}{
	{"sqlite", func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "vault.db") }},
	{"postgres", func(tb testing.TB) string { return pgtest.Need(tb).Schema(tb) }},
}

func openStore(t testing.TB, path string, clk clock.Clock) store {
	t.Helper()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	opts := vault.Options{Create: true, Clock: clk, BusyTimeout: testenv.Patience}
	s := store{path: path}
	if s.a, err = vault.Open(context.Background(), path, key, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.a.Close() })
	if s.b, err = vault.Open(context.Background(), path, key, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.b.Close() })
	return s
}

// rawDB opens the store's database past the vault.
func (s store) rawDB(t *testing.T) *sql.DB {
	t.Helper()
	driver, q := "sqlite", s.path
	if vault.IsPostgresDSN(s.path) {
		driver = "pgx"
	}
	db, err := sql.Open(driver, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (s store) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if vault.IsPostgresDSN(s.path) {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+string(rune('0'+i)), 1)
		}
	}
	if _, err := s.rawDB(t).Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestTokenCacheConformance(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			tokencachetest.Conformance(t, func(t *testing.T, clk *clock.Fake) (a, b tokencache.Shared) {
				s := openStore(t, be.path(t), clk)
				return NewTokenCache(s.a, nil), NewTokenCache(s.b, nil)
			})
		})
	}
}

// A row written past the vault — garbage, or another key's sealed token —
// is never handed out: it is fetched anew and overwritten.
func TestTokenCacheRefetchesDamagedRows(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx, cancel := testenv.PatienceContext(t)
			defer cancel()
			clk := clock.NewFake(tokencachetest.T0)
			s := openStore(t, be.path(t), clk)
			var logs bytes.Buffer
			a, b := NewTokenCache(s.a, nil), NewTokenCache(s.b, slog.New(slog.NewTextHandler(&logs, nil)))
			f := &tokencachetest.Fetcher{}
			for _, k := range []string{"k1", "k2"} {
				if _, err := a.Get(ctx, k, f.Fetch); err != nil {
					t.Fatal(err)
				}
			}
			for _, damage := range []struct {
				name, q string
				args    []any
				fetches int64 // rows damaged
			}{
				{"garbage", `UPDATE token_cache SET ct = ?`, []any{[]byte("\x01 twelve bytes of nonce and then no valid tag at all")}, 2},
				// The row copied from still opens; the other does not.
				{"another key's token", `UPDATE token_cache SET ct = (SELECT ct FROM token_cache ORDER BY key LIMIT 1)`, nil, 1},
			} {
				before := f.Calls.Load()
				s.exec(t, damage.q, damage.args...)
				got := map[string]bool{}
				for _, k := range []string{"k1", "k2"} {
					tok, err := b.Get(ctx, k, f.Fetch)
					if err != nil {
						t.Fatalf("%s: %v", damage.name, err)
					}
					if got[tok.Value.Reveal()] {
						t.Errorf("%s: %s got a token another key has", damage.name, k)
					}
					got[tok.Value.Reveal()] = true
					// The new token authenticates: served without a fetch.
					again, err := a.Get(ctx, k, func(context.Context) (tokencache.Token, error) {
						t.Errorf("%s: %s fetched again after the damaged row was replaced", damage.name, k)
						return tokencache.Token{}, nil
					})
					if err != nil || !again.Value.Equal(tok.Value) {
						t.Errorf("%s: %s served %q after the replacement, want %q (%v)", damage.name, k, again.Value.Reveal(), tok.Value.Reveal(), err)
					}
				}
				if n := f.Calls.Load() - before; n != damage.fetches {
					t.Errorf("%s: %d fetches, want %d", damage.name, n, damage.fetches)
				}
			}
			if !strings.Contains(logs.String(), "failed authentication") || strings.Contains(logs.String(), "tok-") {
				t.Errorf("log of the damaged rows:\n%s", logs.String())
			}
		})
	}
}

// A holder that dies leaves its lease; the others wait for it while it
// is live, and take over when it lapses.
func TestTokenCacheTakesOverFromADeadHolder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx, cancel := testenv.PatienceContext(t)
			defer cancel()
			clk := clock.NewFake(tokencachetest.T0)
			s := openStore(t, be.path(t), clk)
			slot, err := s.a.TokenSlot(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := s.a.TakeTokenLease(ctx, "k", "dead process", slot, tokenLeaseTTL); err != nil || !ok {
				t.Fatalf("lease: %v %v", ok, err)
			}
			c := NewTokenCache(s.b, nil)
			waiting := make(chan struct{}, 1)
			c.waiting = func() {
				select {
				case waiting <- struct{}{}:
				default:
				}
			}
			var fetchedAt time.Time
			var mu sync.Mutex
			done := make(chan error, 1)
			go func() {
				_, err := c.Get(ctx, "k", func(context.Context) (tokencache.Token, error) {
					mu.Lock()
					fetchedAt = clk.Now()
					mu.Unlock()
					return tokencachetest.TokenAt("mine", clk.Now()), nil
				})
				done <- err
			}()
			select {
			case <-waiting: // it found the lease live and waits
			case <-ctx.Done():
				t.Fatal("the getter never waited for the live lease")
			}
			clk.Advance(tokenLeaseTTL)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if fetchedAt.Before(tokencachetest.T0.Add(tokenLeaseTTL)) {
				t.Errorf("fetched at %v, while the dead holder's lease (until %v) was live", fetchedAt, tokencachetest.T0.Add(tokenLeaseTTL))
			}
		})
	}
}

// A vault that fails does not fail the call: the caller fetches alone.
func TestTokenCacheFetchesAloneWhenTheVaultFails(t *testing.T) {
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	s := openStore(t, filepath.Join(t.TempDir(), "vault.db"), nil)
	var logs bytes.Buffer
	c := NewTokenCache(s.a, slog.New(slog.NewTextHandler(&logs, nil)))
	s.a.Close()
	f := &tokencachetest.Fetcher{}
	for range 2 {
		if tok, err := c.Get(ctx, "k", f.Fetch); err != nil || tok.Value.IsZero() {
			t.Fatalf("Get on a closed vault: %v", err)
		}
	}
	c.Invalidate(ctx, "k", "tok-1")
	if f.Calls.Load() != 2 {
		t.Errorf("%d fetches for two calls without a vault", f.Calls.Load())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "asks Amazon for its own tokens") {
		t.Errorf("want one warning:\n%s", logs.String())
	}
}
