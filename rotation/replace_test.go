package rotation

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// TestReplace: a new secret is stored only when the verifier accepts it,
// the old one is kept for KeepOld, and the current secret is refused as
// no change.
func TestReplace(t *testing.T) {
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	old := secret.New("amzn1.oa2-cs.v1." + strings.Repeat("1f", 32))
	next := secret.New("amzn1.oa2-cs.v1." + strings.Repeat("2e", 32))
	const clientID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab", ClientID: clientID,
		ClientSecrets: []vault.Secret{{Value: old}}}); err != nil {
		t.Fatal(err)
	}
	var asked []string
	verify := func(accept bool) Verifier {
		return func(_ context.Context, id string, s secret.String) error {
			asked = append(asked, id)
			if accept {
				return nil
			}
			return &lwa.Error{Code: "invalid_client", Status: 401}
		}
	}
	current := func() vault.Secret {
		a, err := v.GetApp(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := a.CurrentSecret()
		return cur
	}

	_, err = Replace(ctx, v, clientID, next, ReplaceOptions{Verify: verify(false), Clock: clk})
	var re *RejectedError
	if !errors.As(err, &re) || re.ClientID != clientID || !errors.Is(err, lwa.ErrClientRejected) || !strings.Contains(err.Error(), "Seller Central") {
		t.Fatalf("rejected secret: %v", err)
	}
	if !current().Value.Equal(old) {
		t.Fatal("a secret LWA refused was stored")
	}

	r, err := Replace(ctx, v, "main", next, ReplaceOptions{Verify: verify(true), KeepOld: 48 * time.Hour, Clock: clk})
	if err != nil || !r.Verified || r.Secret.Version != 2 || r.App.Name != "main" {
		t.Fatalf("accepted secret: %+v %v", r, err)
	}
	a, _ := v.GetApp(ctx, "main")
	prev, ok := a.PreviousSecret()
	if !current().Value.Equal(next) || current().VerifiedAt.IsZero() || !ok || !prev.ExpiresAt.Equal(clk.Now().Add(48*time.Hour)) {
		t.Errorf("after the replacement: current %+v, previous %+v", current(), prev)
	}
	if len(asked) != 2 || asked[1] != clientID {
		t.Errorf("verifier asked for %v", asked)
	}

	var same *SameSecretError
	if _, err := Replace(ctx, v, "main", next, ReplaceOptions{}); !errors.As(err, &same) || same.Version != 2 || !errors.Is(err, vault.ErrInvalid) {
		t.Errorf("the current secret again: %v", err)
	}
	r, err = Replace(ctx, v, "main", old, ReplaceOptions{})
	a, _ = v.GetApp(ctx, "main")
	if _, kept := a.PreviousSecret(); err != nil || r.Verified || kept {
		t.Errorf("unverified, nothing kept: %+v %v, previous kept %v", r, err, kept)
	}
	if _, err := Replace(ctx, v, "nosuch", next, ReplaceOptions{}); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
}
