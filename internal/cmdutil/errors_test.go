package cmdutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

func TestStoreErr(t *testing.T) {
	tests := []struct {
		err     error
		problem string
		code    int
	}{
		{fmt.Errorf("app: %w", vault.ErrInvalid), problem.BadInput, problem.ExitUsage},
		{fmt.Errorf("app: %w", vault.ErrNotFound), problem.NotFound, problem.ExitUsage},
		{fmt.Errorf("app: %w", vault.ErrExists), problem.Exists, problem.ExitFailure},
		{fmt.Errorf("open: %w", vault.ErrLocked), problem.Vault, problem.ExitConfig},
		{fmt.Errorf("record: %w", vault.ErrTampered), problem.Vault, problem.ExitConfig},
		{errors.New("disk full"), problem.Failed, problem.ExitFailure},
		{UsageErr("--x"), problem.BadInput, problem.ExitUsage}, // keeps its own
	}
	for _, tc := range tests {
		p, code := problem.Of(StoreErr(tc.err))
		if p != tc.problem || code != tc.code {
			t.Errorf("%v: %s (exit %d), want %s (exit %d)", tc.err, p, code, tc.problem, tc.code)
		}
	}
	if StoreErr(nil) != nil || ReleaseErr(nil) != nil {
		t.Error("no error became one")
	}
	if _, code := problem.Of(ReleaseErr(fmt.Errorf("record: %w", vault.ErrCorrupt))); code != problem.ExitConfig {
		t.Errorf("a damaged vault's record: exit %d", code)
	}
	if _, code := problem.Of(ReleaseErr(fmt.Errorf("record: %w", vault.ErrNotFound))); code != problem.ExitFailure {
		t.Errorf("another failed record: exit %d", code)
	}
	err := NotFound(fmt.Errorf("get: %w", vault.ErrNotFound), "seller", "shop", "spgate seller list")
	if p, _ := problem.Of(err); p != problem.NotFound || !strings.Contains(err.Error(), `no seller "shop" in the vault`) || !strings.Contains(err.Error(), "spgate seller list") {
		t.Errorf("NotFound: %v", err)
	}
}

func TestCheckFlags(t *testing.T) {
	tests := []struct {
		name   string
		checks []FlagCheck
		want   string // "" for none
	}{
		{"all good", []FlagCheck{{Flag: "region", Value: "eu", Check: vault.ValidateRegion}, {Value: "main", Check: AppName}}, ""},
		{"optional and empty", []FlagCheck{{Flag: "region", Check: vault.ValidateRegion}}, ""},
		{"required and empty", []FlagCheck{{Flag: "app", Check: NoCheck, Required: ": the app"}}, "--app is required: the app"},
		{"a bad flag", []FlagCheck{{Flag: "region", Value: "xx", Check: vault.ValidateRegion}}, "--region: "},
		{"a bad argument", []FlagCheck{{Value: "a b", Check: AppName}}, "app"},
		{"the first problem", []FlagCheck{{Flag: "a", Check: NoCheck, Required: " (first)"}, {Flag: "b", Check: NoCheck, Required: " (second)"}}, "(first)"},
	}
	for _, tc := range tests {
		err := CheckFlags(tc.checks...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if _, code := problem.Of(err); err == nil || code != problem.ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want bad input with %q", tc.name, err, tc.want)
		}
	}
}
