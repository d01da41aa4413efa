package gatewayserver

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/vault"
)

// LineWriter is an io.Writer that hands what is written to it to a
// function a line at a time: the console's SetupAWS runs a command whose
// report goes to the page that way.
type LineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out func(string)
}

// NewLineWriter hands each line written (without its line ending) to out.
func NewLineWriter(out func(line string)) *LineWriter { return &LineWriter{out: out} }

// Write hands on every complete line of p and keeps the rest.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // no newline yet: keep it
			return len(p), nil
		}
		w.out(strings.TrimRight(line, "\r\n"))
	}
}

// Flush hands on a last line without a newline.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.out(w.buf.String())
		w.buf.Reset()
	}
}

// ErrNoConsole is LoginLink's error when no console has served the vault
// and no address was given.
var ErrNoConsole = errors.New("no admin console has served this vault yet")

// LoginLink issues a new one-time sign-in link for the admin console that
// serves the vault: at base, else at the address the running console
// recorded in the vault. The console need not be restarted.
func LoginLink(ctx context.Context, v *vault.Vault, base string) (string, error) {
	if base == "" {
		var err error
		if base, err = console.PublishedURL(ctx, v); err != nil {
			return "", err
		}
		if base == "" {
			return "", ErrNoConsole
		}
	}
	tok, err := console.IssueLoginToken(ctx, v, nil)
	if err != nil {
		return "", err
	}
	return console.LoginURL(base, tok), nil
}
