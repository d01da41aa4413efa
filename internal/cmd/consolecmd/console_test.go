package consolecmd

import (
	"context"
	"regexp"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
)

// TestRunLink: without a console that served the vault and without --url
// there is nothing to link to; with --url the link is printed on stdout,
// the advice on stderr.
func TestRunLink(t *testing.T) {
	e := cmdtest.New(t)
	e.Vault(t).Close()
	if p, _ := problem.Of(runLink(context.Background(), &linkOptions{Factory: e.Factory})); p != problem.NotFound {
		t.Fatalf("no console: problem %q, want %q", p, problem.NotFound)
	}
	if err := runLink(context.Background(), &linkOptions{Factory: e.Factory, URL: "http://127.0.0.1:8088/"}); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:8088/login\?token=spc_[A-Za-z0-9_-]{43}\n$`).Match(e.Out.Bytes()) || e.Err.Len() == 0 {
		t.Errorf("stdout %q, stderr %q", e.Out.String(), e.Err.String())
	}
}
