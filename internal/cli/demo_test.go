package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/demo"
)

func TestDemo(t *testing.T) {
	cliEnv(t)
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1") // the demo must not use it
	keep := filepath.Join(t.TempDir(), "demo")
	code, out, errOut := run(t, "", "demo", "--json", "--keep", keep, "--orders", "60", "--log-level", "debug")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var s demo.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	if doctor.Worst(s.Checks) != doctor.OK {
		t.Errorf("doctor is not green: %+v", s.Checks)
	}
	if s.Orders < 100 || s.WithAddress != s.Orders || len(s.Files) != 3 {
		t.Errorf("orders %d, with address %d, files %d", s.Orders, s.WithAddress, len(s.Files))
	}
	if s.RDTs < 3 || s.LWATokens < 3 {
		t.Errorf("RDTs %d, LWA tokens %d: the pull must have used both", s.RDTs, s.LWATokens)
	}
	for _, f := range s.Files {
		ids := cmdtest.ReadOrderIDs(t, f.Path, nil)
		if int64(len(ids)) != f.Orders {
			t.Errorf("%s holds %d orders, summary says %d", f.Path, len(ids), f.Orders)
		}
	}
	for _, name := range []string{"vault.db", "master.key"} {
		if _, err := os.Stat(filepath.Join(keep, name)); err != nil {
			t.Errorf("--keep: %v", err)
		}
	}
	for _, leak := range []string{"Atza|", "Atzr|", "Atz.sprdt|", "amzn1.oa2-cs.v1."} {
		if strings.Contains(out+errOut, leak) {
			t.Errorf("demo output contains a credential (%s…)", leak)
		}
	}

	// The human form says what happened, and deletes its files.
	code, out, errOut = run(t, "", "demo", "--orders", "20")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"$ spgate doctor", "orders pulled", "Restricted Data Tokens", "rate limits", "deleted now"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// fullAddress reports whether a JSON order has a full shipping address.
func fullAddress(line []byte) bool { return demo.FullAddress(line) }
