package cmdutil

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/vault"
)

// testEnv is a Factory over a vault in a temporary directory holding the
// sellers ids; confirm answers every question.
func testEnv(t *testing.T, asJSON bool, confirm bool, ids ...string) (*Factory, *strings.Builder, *strings.Builder) {
	t.Helper()
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault.db")
	open := func(ctx context.Context, _ bool) (*vault.Vault, error) {
		return vault.Open(ctx, path, key, vault.Options{Create: true})
	}
	v, err := open(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := v.AddSeller(ctx, vault.Seller{ID: id, Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}); err != nil {
			t.Fatal(err)
		}
	}
	v.Close()
	var out, errw strings.Builder
	return &Factory{IO: IOStreams{Out: &out, Err: &errw}, JSON: asJSON, Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		OpenVault: open, Confirm: func(string) (bool, error) { return confirm, nil }}, &out, &errw
}

var sellerList = List[string]{
	Rows: func(ctx context.Context, v *vault.Vault, now time.Time) ([]string, error) {
		ss, err := v.ListSellers(ctx)
		return Views(ss, err, func(s vault.Seller) string { return s.ID + "\t" + now.Format(time.DateOnly) })
	},
	Empty: "no sellers", Header: "ID\tNOW", Line: func(s string) string { return s },
	Warn: func(s string) (string, string) { return "seller " + s[:4], "look at it" },
}

func TestRunList(t *testing.T) {
	tests := []struct {
		name     string
		json     bool
		ids      []string
		out, err string
	}{
		{"table and warnings", false, []string{"A2VYDBAL8BMVQK"}, "ID              NOW\nA2VYDBAL8BMVQK  2026-01-01\n", "warning: seller A2VY: look at it\n"},
		{"none", false, nil, "", "no sellers\n"},
		{"json without warnings", true, []string{"A2VYDBAL8BMVQK"}, "[\n  \"A2VYDBAL8BMVQK\\t2026-01-01\"\n]\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errw := testEnv(t, tc.json, true, tc.ids...)
			if err := RunList(context.Background(), e, sellerList); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.out || errw.String() != tc.err {
				t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errw.String(), tc.out, tc.err)
			}
		})
	}
}

func TestRunShow(t *testing.T) {
	show := Show[vault.Seller]{
		Get: func(ctx context.Context, v *vault.Vault, ref string, _ time.Time) (vault.Seller, error) {
			return v.GetSeller(ctx, ref)
		},
		Fields: func(s vault.Seller) [][2]string { return [][2]string{{"seller id", s.ID}, {"region", s.Region}} },
	}
	e, out, _ := testEnv(t, false, true, "A2VYDBAL8BMVQK")
	if err := RunShow(context.Background(), e, show, "A2VYDBAL8BMVQK"); err != nil || out.String() != "seller id  A2VYDBAL8BMVQK\nregion     eu\n" {
		t.Errorf("show: %q %v", out.String(), err)
	}
	if err := RunShow(context.Background(), e, show, "A3NOSUCHSELLER"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("unknown seller: %v", err)
	}
}

func TestRunRemove(t *testing.T) {
	remove := Remove{Kind: "seller",
		Find: func(ctx context.Context, v *vault.Vault, ref string) (string, string, error) {
			s, err := v.GetSeller(ctx, ref)
			return s.ID, "remove seller " + s.ID + "?", err
		},
		Remove: func(v *vault.Vault) func(context.Context, string) error { return v.RemoveSeller },
	}
	ctx := context.Background()
	e, out, _ := testEnv(t, false, false, "A2VYDBAL8BMVQK")
	if err := RunRemove(ctx, e, remove, "A2VYDBAL8BMVQK", false); !errors.Is(err, ErrNotRemoved) {
		t.Fatalf("declined: %v", err)
	}
	if err := RunRemove(ctx, e, remove, "A2VYDBAL8BMVQK", true); err != nil || out.String() != "removed seller A2VYDBAL8BMVQK\n" {
		t.Fatalf("--yes: %q %v", out.String(), err)
	}
	err := RunRemove(ctx, e, remove, "A2VYDBAL8BMVQK", true)
	if !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("removed twice: %v", err)
	}
	e2, out2, _ := testEnv(t, true, true, "A3ABCDEFGHIJK1")
	if err := RunRemove(ctx, e2, remove, "A3ABCDEFGHIJK1", false); err != nil || out2.String() != "{\n  \"removed\": \"A3ABCDEFGHIJK1\"\n}\n" {
		t.Errorf("confirmed, JSON: %q %v", out2.String(), err)
	}
}

func TestPrintUpdate(t *testing.T) {
	e, out, _ := testEnv(t, false, true)
	changes := []vault.FieldChange{{Field: "region", Old: "eu", New: "na"}}
	if err := e.PrintUpdate("seller", "shop", changes, nil); err != nil || out.String() != "updated seller shop:\n  region: eu → na\n" {
		t.Errorf("changes: %q %v", out.String(), err)
	}
	out.Reset()
	if err := e.PrintUpdate("seller", "shop", nil, nil); err != nil || out.String() != "seller shop: nothing changed\n" {
		t.Errorf("no change: %q %v", out.String(), err)
	}
	out.Reset()
	e.JSON = true
	if err := e.PrintUpdate("seller", "shop", nil, map[string]string{"id": "shop"}); err != nil || !strings.Contains(out.String(), `"changes": []`) || !strings.Contains(out.String(), `"changed": false`) {
		t.Errorf("JSON: %q %v", out.String(), err)
	}
}
