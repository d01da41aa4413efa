package gatewayserver_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/vault"
)

func TestLineWriter(t *testing.T) {
	var lines []string
	w := gatewayserver.NewLineWriter(func(s string) { lines = append(lines, s) })
	_, _ = io.WriteString(w, "one\ntw")
	_, _ = io.WriteString(w, "o\r\nthree")
	w.Flush()
	if strings.Join(lines, "|") != "one|two|three" {
		t.Fatalf("lines: %q", lines)
	}
}

// LoginLink needs a console's address: the one given, else the one a
// console recorded in the vault.
func TestLoginLink(t *testing.T) {
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := gatewayserver.LoginLink(ctx, v, ""); !errors.Is(err, gatewayserver.ErrNoConsole) {
		t.Fatalf("without a console: %v", err)
	}
	a, err := gatewayserver.LoginLink(ctx, v, "http://127.0.0.1:8088")
	if err != nil || !strings.HasPrefix(a, "http://127.0.0.1:8088/login?token=spc_") {
		t.Fatalf("LoginLink: %q, %v", a, err)
	}
	b, _ := gatewayserver.LoginLink(ctx, v, "http://127.0.0.1:8088")
	if a == b {
		t.Error("two links are the same")
	}
}
