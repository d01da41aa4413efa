package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// leakRecord is one captured stream of one flow.
type leakRecord struct {
	flow   string // e.g. "text: client add"
	stream string // stdout, stderr, or a file's name
	text   string
}

// leakRecorder runs spgate flows and keeps everything they print.
type leakRecorder struct {
	t    *testing.T
	mode []string
	name string
	recs []leakRecord
	diag func() string // more to print when a flow fails (moto_server's log)
}

func (r *leakRecorder) add(flow, stream, text string) {
	r.recs = append(r.recs, leakRecord{flow: r.name + ": " + flow, stream: stream, text: text})
}

// run runs spgate with the recorder's mode flags first and records its output.
func (r *leakRecorder) run(want int, stdin string, args ...string) (string, string) {
	r.t.Helper()
	full := append(append([]string{}, r.mode...), args...)
	code, out, errs := e2eRun(r.t, stdin, full...)
	flow := strings.Join(args[:min(2, len(args))], " ")
	r.add(flow, "stdout", out)
	r.add(flow, "stderr", errs)
	if want >= 0 && code != want {
		if r.diag != nil {
			r.t.Logf("moto_server's log (end):\n%s", e2eMask(r.diag()[max(0, len(r.diag())-3000):]))
		}
		r.t.Fatalf("%s: spgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.name, strings.Join(args, " "), code, want, e2eMask(out), e2eMask(errs))
	}
	return out, errs
}

// leakTokenRE finds LWA access tokens, refresh tokens and Restricted Data
// Tokens (raw or URL-encoded); their masked hints ("Atzr|…abcd") are allowed.
var leakTokenRE = regexp.MustCompile(`(Atza|Atzr|Atz\.sprdt)(\||%7C|%7c)($|[^…])`)

// TestE2ENoSecretLeaks runs spgate's flows end to end with known secrets at
// --log-level debug, in text and in --json mode, against the offline Amazon
// (and moto_server for setup aws and rotate), and checks that no stdout,
// stderr, gateway log or audit log line carries a secret. The one allowed
// place is the gateway client key printed once by `client add`.
func TestE2ENoSecretLeaks(t *testing.T) {
	ctx := context.Background()
	// moto_server starts before the environment is emptied: it inherits it,
	// and botocore inside it refuses an empty AWS_PROFILE.
	moto, err := mototest.Launch(ctx)
	switch {
	case errors.Is(err, mototest.ErrNotInstalled) && os.Getenv(mototest.RequireEnv) != "1":
		t.Logf("SKIPPING the AWS parts (setup aws, rotate, doctor's AWS checks): %v", err)
		moto = nil
	case err != nil:
		t.Fatalf("moto_server: %v", err)
	default:
		t.Cleanup(moto.Close)
	}
	home := e2eHome(t)

	opts := []amazontest.Option{amazontest.WithSeed(5), amazontest.WithOrdersPerSeller(25), amazontest.WithoutRateLimits(),
		amazontest.WithTokenLifetime(12 * time.Hour)}
	if moto != nil {
		opts = append(opts, amazontest.WithSQS(moto.Endpoint, moto.Admin.AccessKeyID, secret.New(moto.Admin.SecretAccessKey)))
		t.Setenv(cmdutil.EnvAWSEndpoint, moto.Endpoint)
		t.Setenv(cmdutil.EnvSQSEndpoint, moto.Endpoint)
		t.Setenv("AWS_ACCESS_KEY_ID", moto.Admin.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", moto.Admin.SecretAccessKey)
		t.Setenv("AWS_REGION", mototest.Region)
	}
	srv := amazontest.NewServer(opts...)
	t.Cleanup(srv.Close)
	t.Setenv(EnvEndpoint, e2eEndpoint(srv))
	demo := srv.Demo()
	na, eu := demo.Sellers[0], demo.Sellers[1]

	// secrets are every secret the flows use, by a name the report can print.
	secrets := map[string]string{"master key": testMasterKey}
	if moto != nil {
		secrets["AWS administrator secret key"] = moto.Admin.SecretAccessKey
	}
	var gatewayKeys []string // each must appear exactly once, in client add's stdout
	var all []leakRecord

	for _, pass := range []struct {
		name string
		mode []string
	}{
		{"text", []string{"--log-level", "debug"}},
		{"json", []string{"--log-level", "debug", "--json"}},
	} {
		r := &leakRecorder{t: t, mode: pass.mode, name: pass.name}
		if moto != nil {
			r.diag = moto.Log
		}
		dir := filepath.Join(home, pass.name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SPGATE_VAULT", filepath.Join(dir, "vault.db"))

		// A fresh app per pass, with its own queue, authorized by two sellers.
		queueName := "spgate-leak-" + pass.name
		app := amazontest.App{Roles: []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing}}
		if moto != nil {
			app.NotificationQueueURL = "https://sqs." + mototest.Region + ".amazonaws.com/" + mototest.AccountID + "/" + queueName
		}
		app, err := srv.AddApp(app)
		if err != nil {
			t.Fatal(err)
		}
		secrets[pass.name+" client secret"] = app.ClientSecret
		tokens := map[string]string{}
		for _, s := range []amazontest.DemoSeller{na, eu} {
			tok, err := srv.Authorize(s.ID, app.ID)
			if err != nil {
				t.Fatal(err)
			}
			tokens[s.ID] = tok
			secrets[pass.name+" refresh token of "+s.ID] = tok
		}

		cs := e2eWriteFile(t, dir, "client-secret.txt", app.ClientSecret+"\n")
		r.run(ExitOK, "", "app", "add", "main", "--app-id", app.ID, "--client-id", app.ClientID, "--client-secret-file", cs,
			"--role", amazontest.RoleShipping+","+amazontest.RoleTaxInvoicing)
		for _, s := range []amazontest.DemoSeller{na, eu} {
			r.run(ExitOK, tokens[s.ID], "seller", "add", s.ID, "--app", "main", "--region", string(s.Region),
				"--marketplace", strings.Join(s.Marketplaces, ","), "--refresh-token-file", "-")
		}
		r.run(ExitOK, "", "app", "list")
		r.run(ExitOK, "", "app", "show", "main")
		r.run(ExitOK, "", "seller", "list")
		r.run(ExitOK, "", "seller", "show", na.ID)
		r.run(ExitOK, "", "doctor")
		created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
		r.run(ExitOK, "", "call", "getOrders", "MarketplaceIds="+na.Marketplaces[0], "CreatedAfter="+created, "--api", "orders/v0",
			"--seller", na.ID, "--pii", "shippingAddress")
		ordersFile := filepath.Join(dir, "orders.jsonl")
		r.run(ExitOK, "", "orders", "pull", "--seller", na.ID, "--since", "90d", "--pii", "address", "--out", ordersFile)
		if b, err := os.ReadFile(ordersFile); err != nil || !strings.Contains(string(b), "AddressLine1") {
			t.Fatalf("%s: orders pull wrote no addresses (%v)", pass.name, err)
		} else {
			r.add("orders pull", "orders.jsonl", string(b))
		}

		// export writes the secrets to its file, and only there.
		envFile := filepath.Join(dir, "out.env")
		r.run(ExitOK, "", "export", "--format", "env", "--app", "main", "--seller", na.ID, "--out", envFile)
		if b, err := os.ReadFile(envFile); err != nil || !strings.Contains(string(b), app.ClientSecret) || !strings.Contains(string(b), tokens[na.ID]) {
			t.Errorf("%s: export --out did not write the client secret and refresh token to its file (%v)", pass.name, err)
		}

		var aws []string
		if moto != nil {
			aws = []string{"--app", "main", "--user-name", "spgate-leak-" + pass.name, "--role-name", "spgate-leak-role-" + pass.name,
				"--policy-name", "spgate-leak-policy-" + pass.name, "--inline-policy-name", "spgate-leak-assume-" + pass.name}
			r.run(ExitOK, "", append([]string{"setup", "aws", "--queue", "--queue-name", queueName}, aws...)...)
			r.run(ExitOK, "", append([]string{"setup", "aws", "--check"}, aws...)...)
			secrets[pass.name+" IAM user secret key"] = e2eStoredAWSSecret(t, filepath.Join(dir, "vault.db"))
			r.run(ExitOK, "", "doctor")
			r.run(ExitOK, "", "rotate", "--app", "main", "--timeout", "30s")
			now, _ := srv.App(app.ID)
			if now.ClientSecret == app.ClientSecret {
				t.Fatalf("%s: rotate left the client secret unchanged", pass.name)
			}
			secrets[pass.name+" rotated client secret"] = now.ClientSecret
			r.run(ExitOK, "", "app", "show", "main")
			// The rotated secret is what the next calls use.
			r.run(ExitOK, "", "call", "getMarketplaceParticipations", "--seller", eu.ID)
		} else {
			t.Logf("%s pass: setup aws and rotate skipped (no moto_server)", pass.name)
		}

		// The gateway: a key shown once, a call with personal data, a refusal.
		out, _ := r.run(ExitOK, "", "client", "add", "erp", "--seller", na.ID, "--operation", "orders/v0", "--pii")
		key := strings.TrimSpace(out)
		if pass.name == "json" {
			m := regexp.MustCompile(`"key":\s*"(spg_[^"]+)"`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("client add --json printed no key")
			}
			key = m[1]
		}
		if !strings.HasPrefix(key, vault.ClientKeyPrefix) {
			t.Fatalf("%s: client add printed %q as the key", pass.name, e2eMask(key))
		}
		gatewayKeys = append(gatewayKeys, key)
		r.run(ExitOK, "", "client", "list")

		audit := filepath.Join(dir, "audit.jsonl")
		sctx, stop := context.WithCancel(ctx)
		var serveErr testenv.Buffer
		base, done := e2eServe(t, sctx, &serveErr, append([]string{"--audit-log", audit}, pass.mode...)...)
		for _, c := range []struct {
			path, key string
			status    int
		}{
			{"/orders/v0/orders?MarketplaceIds=" + na.Marketplaces[0] + "&CreatedAfter=" + created, key, http.StatusOK},
			{"/orders/v0/orders?MarketplaceIds=" + na.Marketplaces[0] + "&CreatedAfter=" + created, "spg_" + strings.Repeat("0", 43), http.StatusUnauthorized},
			{"/orders/v0/orders/" + e2eFirstOrder(t, ordersFile) + "/address", key, http.StatusOK},
		} {
			code, _, body := gatewayCall(t, base, c.path, c.key, na.ID, "X-Spgate-PII", "shippingAddress")
			if code != c.status {
				t.Errorf("%s: gateway %s: status %d, want %d: %.300s", pass.name, c.path, code, c.status, e2eMask(body))
			}
			r.add("gateway answer", c.path, body)
		}
		stop()
		if code := <-done; code != ExitOK {
			t.Errorf("%s: serve exited %d", pass.name, code)
		}
		r.add("serve", "stderr", serveErr.String())
		b, err := os.ReadFile(audit)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: no audit log (%v)", pass.name, err)
		}
		r.add("serve", "audit log", string(b))
		if moto != nil {
			r.run(ExitOK, "", append([]string{"setup", "aws", "--teardown", "--yes"}, aws...)...)
		}
		// The vault's raw bytes (and its WAL) hold secrets only encrypted.
		for _, f := range []string{"vault.db", "vault.db-wal", "vault.db-shm"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				r.add("vault file", f, string(b))
			}
		}
		all = append(all, r.recs...)
	}

	// Every line of every stream, checked for every secret.
	type check struct{ name, value string }
	var checks []check
	for name, v := range secrets {
		checks = append(checks, check{name, v})
		if q := url.QueryEscape(v); q != v {
			checks = append(checks, check{name + " (URL-encoded)", q})
		}
	}
	keySeen := make([]int, len(gatewayKeys))
	lines := 0
	for _, rec := range all {
		for i, line := range strings.Split(rec.text, "\n") {
			lines++
			where := fmt.Sprintf("%s, %s line %d", rec.flow, rec.stream, i+1)
			for _, c := range checks {
				if strings.Contains(line, c.value) {
					t.Errorf("LEAK: %s (%s) in %s", c.name, secret.New(c.value).Hint(), where)
				}
			}
			if m := leakTokenRE.FindString(line); m != "" {
				t.Errorf("LEAK: an LWA token (%s…) in %s", m[:4], where)
			}
			for k, key := range gatewayKeys {
				if n := strings.Count(line, key); n > 0 {
					keySeen[k] += n
					if !strings.HasSuffix(rec.flow, ": client add") || rec.stream != "stdout" || keySeen[k] > 1 {
						t.Errorf("LEAK: gateway client key (%s) in %s; it may appear only once, in client add's stdout", secret.New(key).Hint(), where)
					}
				}
			}
		}
	}
	for k, n := range keySeen {
		if n != 1 {
			t.Errorf("gateway key %d appeared %d times, want exactly once (client add's one-time display)", k, n)
		}
	}
	t.Logf("checked %d lines of %d streams for %d secrets", lines, len(all), len(checks))
}

// e2eStoredAWSSecret reads the IAM user's secret key that setup aws stored.
func e2eStoredAWSSecret(t *testing.T, path string) string {
	t.Helper()
	key, err := vault.ParseKey(testMasterKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), path, key, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	a, err := v.GetApp(context.Background(), "main")
	if err != nil || a.AWSSecretKey.Value.IsZero() {
		t.Fatalf("setup aws stored no AWS secret key (%v)", err)
	}
	return a.AWSSecretKey.Value.Reveal()
}

// e2eFirstOrder returns the first order id in a pulled JSONL file.
func e2eFirstOrder(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := orderIDs(string(b))
	if len(ids) == 0 {
		t.Fatal("the pulled file holds no orders")
	}
	return ids[0]
}
