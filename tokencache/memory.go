package tokencache

import (
	"context"
	"crypto/subtle"
	"sync"

	"github.com/spgate/spgate/clock"
)

// Memory is a Shared cache within one process: several clients (say, one
// per job) that share it fetch one token per key among them. Its tokens
// go with the process.
type Memory struct {
	clk clock.Clock

	mu      sync.Mutex
	tokens  map[string]Token
	flights map[string]*flight
}

type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

var _ Shared = (*Memory)(nil)

// NewMemory returns an empty Memory that tells freshness by clk (nil: the
// real clock).
func NewMemory(clk clock.Clock) *Memory {
	return &Memory{clk: clock.Or(clk), tokens: map[string]Token{}, flights: map[string]*flight{}}
}

// Get implements Shared: the fetch runs in the first caller, the others
// wait for it; when it fails, each waiter tries in turn.
func (m *Memory) Get(ctx context.Context, key string, fetch FetchFunc) (Token, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Token{}, err
		}
		m.mu.Lock()
		if t, ok := m.tokens[key]; ok && t.FreshAt(m.clk.Now()) {
			m.mu.Unlock()
			return t, nil
		}
		f := m.flights[key]
		if f == nil {
			f = &flight{done: make(chan struct{})}
			m.flights[key] = f
			m.mu.Unlock()
			return m.run(ctx, key, f, fetch)
		}
		m.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil {
				return f.tok, nil
			}
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
}

// run fetches key's token for f's waiters and keeps it.
func (m *Memory) run(ctx context.Context, key string, f *flight, fetch FetchFunc) (Token, error) {
	tok, err := fetch(ctx)
	if err == nil && tok.Value.IsZero() {
		err = ErrNoToken
	}
	m.mu.Lock()
	if err == nil {
		now := m.clk.Now()
		for k, t := range m.tokens {
			if !now.Before(t.Expiry) {
				delete(m.tokens, k) // expired tokens go when a new one comes
			}
		}
		m.tokens[key] = tok
	}
	delete(m.flights, key)
	f.tok, f.err = tok, err
	m.mu.Unlock()
	close(f.done)
	return tok, err
}

// Invalidate implements Shared.
func (m *Memory) Invalidate(_ context.Context, key, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tokens[key]; ok && subtle.ConstantTimeCompare([]byte(t.Value.Reveal()), []byte(value)) == 1 {
		delete(m.tokens, key)
	}
}
