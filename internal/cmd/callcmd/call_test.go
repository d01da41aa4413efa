package callcmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func TestReadCallBody(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"restrictedResources": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"restrictedResources": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, stdin string
		want              string // the body read; "" for none
		wantErr           bool
	}{
		{"none", "", "", "", false},
		{"a file", good, "", `{"restrictedResources": []}`, false},
		{"stdin", "-", `{"a": 1}`, `{"a": 1}`, false},
		{"not JSON", bad, "", "", true},
		{"no such file", filepath.Join(dir, "none.json"), "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := readCallBody(tc.file, strings.NewReader(tc.stdin))
			if tc.wantErr {
				if _, code := problem.Of(err); err == nil || code != problem.ExitUsage {
					t.Fatalf("err = %v, want bad input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := body.(json.RawMessage)
			if string(raw) != tc.want {
				t.Errorf("body %q, want %q", raw, tc.want)
			}
		})
	}
}

// TestRunCallRefusesBeforeTheVault: a call that cannot be made (an
// unknown operation, a seller's operation without --seller, a body that
// is not JSON) is bad input, and the vault is not opened for it.
func TestRunCallRefusesBeforeTheVault(t *testing.T) {
	for name, o := range map[string]callOptions{
		"an unknown operation":        {Args: []string{"getEverything"}},
		"a seller's without --seller": {Args: []string{"getOrders"}, API: "orders/v0"},
		"a bad argument":              {Args: []string{"getMarketplaceParticipations", "novalue"}, Seller: "A2VYDBAL8BMVQK"},
		"a body that is not JSON":     {Args: []string{"getMarketplaceParticipations"}, Seller: "A2VYDBAL8BMVQK", Body: "-"},
	} {
		e := cmdtest.New(t)
		e.IO.In = strings.NewReader("{")
		e.OpenApp = func(context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
			t.Errorf("%s: the vault was opened", name)
			return nil, vault.App{}, spapi.Endpoints{}, errors.New("not for bad input")
		}
		o.Factory = e.Factory
		if _, code := problem.Of(runCall(context.Background(), &o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}
}
