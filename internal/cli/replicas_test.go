package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/pgtest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// replica is one `spgate serve` process of TestThreeReplicasOnePostgres.
type replica struct {
	cmd    *exec.Cmd
	base   string
	audit  string // its audit log file
	stderr *testenv.Buffer
	dead   atomic.Bool

	mu       sync.Mutex
	released []string // request ids of the personal-data answers a client got from it
}

// TestThreeReplicasOnePostgres runs the gateway as three `spgate serve`
// processes (separate ports, no shared file: each its own audit log) on one
// PostgreSQL vault, in front of one emulated Amazon with its real limits,
// time-scaled, and spreads a load round-robin over them. Together they
// must pace the seller as one gateway: Amazon sees no 429 while the seller
// gets at least 95 % of its limit, measured on the emulator's counters and
// its (scaled) clock. A key revoked in the shared vault is refused by all
// three; with --auto-rotate on all three, exactly one rotates the client
// secret; kill -9 of one leaves the others serving, still without 429s,
// and every personal-data answer a client got from the killed one has its
// line in that one's audit log.
//
// The replicas share LWA access tokens and Restricted Data Tokens through
// the vault: Amazon sees one refresh grant for the seller per token
// lifetime and one RDT for the whole run (which fits in one lifetime).
func TestThreeReplicasOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes for half a minute")
	}
	// Every spgate command runs as a process of its own, with the
	// environment given to it: this process's stays as it is, so the test
	// runs beside the other parallel ones.
	t.Parallel()
	pg := pgtest.Start(t)
	moto := mototest.Start(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "spgate")
	if err := os.Symlink(exe, bin); err != nil {
		t.Skipf("cannot link the test binary as spgate: %v", err)
	}
	// Amazon's time runs 250 times faster: getMarketplaceParticipations
	// (0.016/s, burst 15) allows 4 calls a second. LWA says how long an
	// access token lives in Amazon's time, which the gateways, on the
	// wall clock, would take for 250 times as long: the tokens live 24 h
	// (LWA's longest), 346 s of the test, longer than it runs.
	const scale = 250.0
	op, _ := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	// The load runs for 3.5 h of Amazon's time; every wait for an event
	// is bounded by testenv.Patience on top of that.
	const loadTime = 3*time.Hour + 30*time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), testenv.Patience+time.Duration(float64(loadTime)/scale))
	defer cancel()
	const tokenLifetime = 24 * time.Hour
	srv := amazontest.NewServer(amazontest.WithSeed(21), amazontest.WithTimeScale(scale), amazontest.WithTokenLifetime(tokenLifetime),
		amazontest.WithSQS(moto.Endpoint, moto.Admin.AccessKeyID, secret.New(moto.Admin.SecretAccessKey)))
	t.Cleanup(srv.Close)
	demo := srv.Demo()
	seller := demo.Sellers[0]
	const queueName = "replicas-rotation"
	if _, err := sqs.NewFromConfig(moto.AdminConfig()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName)}); err != nil {
		t.Fatal(err)
	}
	queue := "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/" + queueName
	if err := srv.SetNotificationQueue(demo.AppID, queue); err != nil {
		t.Fatal(err)
	}

	// One vault, in PostgreSQL, set up as an operator would.
	dir := t.TempDir()
	dsn := pg.Schema(t)
	homeEnv := e2eHomeEnv(dir)
	homeEnv["SPGATE_VAULT"] = dsn
	homeEnv[EnvEndpoint] = e2eEndpoint(srv)
	homeEnv[cmdutil.EnvAWSEndpoint] = moto.Endpoint
	homeEnv["GORACE"] = testenv.RaceEnv()
	env := e2eProcEnv(homeEnv)
	spgate := func(stdin string, args ...string) string {
		t.Helper()
		out, _ := e2eExec(t, bin, env, ExitOK, stdin, args...)
		return out
	}
	cs := e2eWriteFile(t, dir, "client-secret", demo.ClientSecret+"\n")
	spgate("", "app", "add", "main", "--app-id", demo.AppID, "--client-id", demo.ClientID, "--client-secret-file", cs)
	spgate(seller.RefreshToken, "seller", "add", seller.ID, "--app", "main", "--region", string(seller.Region),
		"--marketplace", strings.Join(seller.Marketplaces, ","), "--refresh-token-file", "-")
	loadKey := spgate("", "client", "add", "load", "--seller", seller.ID, "--operation", "getMarketplaceParticipations")
	victimKey := spgate("", "client", "add", "victim", "--seller", seller.ID, "--operation", "getMarketplaceParticipations")
	piiKey := spgate("", "client", "add", "pii", "--seller", seller.ID, "--operation", "getOrderAddress", "--pii")
	loadKey, victimKey, piiKey = strings.TrimSpace(loadKey), strings.TrimSpace(victimKey), strings.TrimSpace(piiKey)
	// An order to ask the address of, found the way an operator would. This
	// command's access token lands in the vault's shared cache too: the
	// replicas will not ask LWA for another.
	runStart := srv.Now()
	orders := spgate("", "call", "getOrders", "MarketplaceIds="+seller.Marketplaces[0],
		"CreatedAfter="+srv.Now().AddDate(0, -3, 0).UTC().Format(time.RFC3339), "--api", "orders/v0", "--seller", seller.ID)
	ids := orderIDs(orders)
	if len(ids) == 0 {
		t.Fatalf("spgate call getOrders found no orders:\n%.500s", e2eMask(orders))
	}
	addressPath := "/orders/v0/orders/" + ids[0] + "/address"
	key, err := vault.ParseKey(testMasterKey, "the test's master key")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, dsn, key, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A secret ten days from its expiry: every replica finds it due.
	_, err = v.SetClientSecret(ctx, "main", secret.New(demo.ClientSecret), vault.SecretChange{ExpiresAt: time.Now().Add(10 * 24 * time.Hour)})
	if err == nil {
		err = v.UpdateApp(ctx, "main", func(a *vault.App) error { a.SQSQueueURL = queue; return nil })
	}
	if err == nil {
		err = v.SetAWSKeys(ctx, "main", moto.Admin.AccessKeyID, secret.New(moto.Admin.SecretAccessKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	v.Close()

	// Three gateways: the same DSN and master key, nothing else shared.
	listening := regexp.MustCompile(`serving app \S+ on (http://127\.0\.0\.1:\d+)`)
	replicas := make([]*replica, 3)
	for i := range replicas {
		r := &replica{stderr: &testenv.Buffer{}, audit: filepath.Join(t.TempDir(), fmt.Sprintf("audit-%d.jsonl", i))}
		r.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--auto-rotate", "--log-level", "info", "--audit-log", r.audit)
		r.cmd.Env = env
		r.cmd.Stderr = r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !r.dead.Load() {
				_ = r.cmd.Process.Signal(syscall.SIGTERM)
			}
			_ = r.cmd.Wait()
			if t.Failed() {
				t.Logf("replica %d:\n%s", i, e2eMask(r.stderr.String()))
			}
		})
		replicas[i] = r
	}
	for i, r := range replicas {
		for r.base == "" {
			if m := listening.FindStringSubmatch(r.stderr.String()); m != nil {
				r.base = m[1]
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("replica %d did not start:\n%s", i, e2eMask(r.stderr.String()))
			case <-time.After(10 * time.Millisecond): // polling its log, not waiting for an expiry
			}
		}
	}
	callPath := func(base, key, path string) (code int, body, requestID string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Spgate-Seller", seller.ID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return resp.StatusCode, string(b), resp.Header.Get("X-Spgate-Request-Id")
	}
	call := func(base, key string) (int, string) {
		code, body, _ := callPath(base, key, participationsPath)
		return code, body
	}
	// pii asks r for the order's address; an answer with the address is
	// noted as released by r.
	pii := func(r *replica) (int, string) {
		code, body, id := callPath(r.base, piiKey, addressPath)
		if code == http.StatusOK && strings.Contains(body, `"AddressLine1"`) {
			r.mu.Lock()
			r.released = append(r.released, id)
			r.mu.Unlock()
		}
		return code, body
	}
	// One call teaches the shared bucket Amazon's (scaled) rate.
	if code, body := call(replicas[0].base, loadKey); code != http.StatusOK {
		t.Fatalf("replica 0: %d %s", code, body)
	}
	for i, r := range replicas {
		if code, body := pii(r); code != http.StatusOK {
			t.Fatalf("replica %d, the order's address: %d %s", i, code, body)
		}
	}

	// 1. With --auto-rotate on all three and the secret due, exactly one
	// replica rotates it. (It is waited for first: the rotation makes
	// every replica re-read its credentials at once, which would show in
	// the pacing measured next.)
	for {
		v, err := vault.Open(ctx, dsn, key, vault.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := v.GetApp(ctx, "main")
		v.Close()
		if err != nil {
			t.Fatal(err)
		}
		done := false
		for _, r := range replicas {
			done = done || strings.Contains(r.stderr.String(), "client secret rotated")
		}
		if cur, _ := a.CurrentSecret(); cur.Version >= 3 && done {
			if cur.Version != 3 {
				t.Errorf("client secret at version %d after the replicas started with 2: more than one rotation", cur.Version)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no replica rotated the client secret within %v", testenv.Patience)
		case <-time.After(100 * time.Millisecond): // polling the vault, not waiting for an expiry
		}
	}
	rotations := func() {
		t.Helper()
		rotated := 0
		for _, r := range replicas {
			rotated += strings.Count(r.stderr.String(), "client secret rotated")
		}
		if n := srv.Counters().Calls["application-management/2023-11-30/rotateApplicationClientSecret"]; n != 1 || rotated != 1 {
			t.Errorf("Amazon was asked %d times for a new client secret, %d replicas say they rotated; want exactly one", n, rotated)
		}
	}
	rotations()

	// The load: workers send one call at a time, each to the next live
	// replica, until a window of Amazon's time has passed. Every other call
	// of a worker asks for the order's address (personal data, an RDT): as
	// often as the seller's paced calls, far below getOrderAddress's own
	// limit, whose pacing at full speed is not what is measured here.
	load := func(window time.Duration, during func(elapsed time.Duration)) (calls int64, elapsed time.Duration, ok, other int64) {
		const workers = 12
		var next atomic.Int64
		var nOK, nOther atomic.Int64
		before := srv.Counters().Calls[op.Key()]
		start := srv.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := 0; srv.Now().Sub(start) < window && ctx.Err() == nil; i++ {
					r := replicas[int(next.Add(1))%len(replicas)]
					if r.dead.Load() {
						continue
					}
					var code int
					var body string
					if i%2 == 1 {
						code, body = pii(r)
					} else {
						code, body = call(r.base, loadKey)
					}
					switch {
					case code == http.StatusOK:
						nOK.Add(1)
					case r.dead.Load():
						// a call that was in flight to the killed replica
					default:
						if nOther.Add(1) <= 3 {
							t.Logf("an answer other than 200: %d %s", code, body)
						}
					}
				}
			})
		}
		if during != nil {
			during(window)
		}
		wg.Wait()
		return srv.Counters().Calls[op.Key()] - before, srv.Now().Sub(start), nOK.Load(), nOther.Load()
	}

	// 2. Three replicas pace the seller as one gateway.
	calls, elapsed, nOK, nOther := load(3*time.Hour, nil) // loadTime's first part
	bound := float64(op.Burst) + op.Rate*elapsed.Seconds()
	c := srv.Counters()
	t.Logf("%d calls reached Amazon in %v of Amazon's time (limit: burst + rate×t = %.1f, %.1f%% used); the gateways answered %d calls 200 (personal data included), %d otherwise; %d × 429 from Amazon; %d LWA refresh grants, %d RDTs",
		calls, elapsed.Round(time.Second), bound, 100*float64(calls)/bound, nOK, nOther, c.TotalThrottled, c.TokensIssued["refresh_token"], c.RDTsIssued)
	if ctx.Err() != nil {
		t.Fatalf("the load did not finish within %v", testenv.Patience)
	}
	if c.TotalThrottled != 0 {
		t.Errorf("Amazon answered 429 %d times (%v): the replicas did not share the seller's limit", c.TotalThrottled, c.Throttled)
	}
	if float64(calls) > bound {
		t.Errorf("%d calls in %v exceed burst + rate×t = %.1f", calls, elapsed, bound)
	}
	if float64(calls) < 0.95*bound {
		t.Errorf("only %d calls in %v, under 95%% of burst + rate×t = %.1f: the replicas did not use the limit", calls, elapsed, bound)
	}
	// The replicas (and spgate call before them) share the seller's
	// access token and the address's RDT through the vault.
	tokens := func() {
		t.Helper()
		c := srv.Counters()
		lifetimes := 1 + int64(srv.Now().Sub(runStart)/tokenLifetime)
		if n := c.TokensIssued["refresh_token"]; n != lifetimes {
			t.Errorf("%d LWA refresh grants for one seller on %d replicas in %d token lifetime(s), want %d", n, len(replicas), lifetimes, lifetimes)
		}
		if c.RDTsIssued != 1 {
			t.Errorf("%d RDTs for the order's address on %d replicas, want 1 for the whole run", c.RDTsIssued, len(replicas))
		}
	}
	tokens()

	// 3. A key revoked in the shared vault is refused by every replica,
	// each of which checked (and cached) it before.
	for i, r := range replicas {
		if code, body := call(r.base, victimKey); code != http.StatusOK {
			t.Fatalf("replica %d: %d %s", i, code, body)
		}
	}
	spgate("", "client", "revoke", "victim")
	for i, r := range replicas {
		for {
			code, body := call(r.base, victimKey)
			if code == http.StatusUnauthorized {
				break
			}
			if code != http.StatusOK || ctx.Err() != nil {
				t.Fatalf("replica %d after the revocation: %d %s", i, code, body)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond): // asking again, not waiting for an expiry
			}
		}
	}

	// Still exactly one rotation, the load and the revocation later.
	rotations()

	// 4. kill -9 of one replica under load: the others keep serving,
	// without 429s from Amazon.
	throttledBefore := srv.Counters().TotalThrottled
	_, _, nOK, nOther = load(30*time.Minute, func(window time.Duration) { // and the rest
		start := srv.Now()
		for srv.Now().Sub(start) < window/3 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond) // waiting for the load to run a while, not for an expiry
		}
		replicas[0].dead.Store(true)
		_ = replicas[0].cmd.Process.Kill()
	})
	okAfter := int64(0)
	for i, r := range replicas[1:] {
		if code, body := call(r.base, loadKey); code != http.StatusOK {
			t.Errorf("replica %d after replica 0 was killed: %d %s", i+1, code, body)
		} else {
			okAfter++
		}
	}
	t.Logf("with replica 0 killed a third of the way: %d answered 200, %d otherwise", nOK, nOther)
	if n := srv.Counters().TotalThrottled - throttledBefore; n != 0 {
		t.Errorf("Amazon answered 429 %d times after a replica was killed", n)
	}
	if okAfter != 2 {
		t.Errorf("%d of the 2 surviving replicas answer", okAfter)
	}
	tokens()

	// No audit record is lost: each personal-data answer a client got —
	// from the killed replica before the kill, or from the others — has
	// its line in that replica's audit log, which was synced before the
	// answer was released.
	for i, r := range replicas {
		audited := auditedPII(t, r.audit)
		r.mu.Lock()
		released := slices.Clone(r.released)
		r.mu.Unlock()
		missing := 0
		for _, id := range released {
			if !audited[id] {
				if missing++; missing <= 3 {
					t.Errorf("replica %d released personal data for request %s without an audit line", i, id)
				}
			}
		}
		t.Logf("replica %d released %d personal-data answers, its audit log has %d; %d missing", i, len(released), len(audited), missing)
	}
	if n := len(replicas[0].released); n < 2 {
		t.Errorf("the killed replica released %d personal-data answers: too few to tell whether its audit log kept them", n)
	}

	// spgate doctor lists the replicas from their heartbeats in the
	// vault: the killed one too, its last one being seconds old.
	out, _ := e2eExec(t, bin, env, -1, "", "doctor", "--json")
	var report struct {
		Checks []doctor.Check `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("doctor --json: %v\n%.1000s", err, e2eMask(out))
	}
	i := slices.IndexFunc(report.Checks, func(c doctor.Check) bool { return c.Name == doctor.CheckReplicas })
	if i < 0 || report.Checks[i].Status != doctor.OK || !strings.Contains(report.Checks[i].Detail, "3 replicas seen in the last minute") {
		t.Errorf("doctor's replica check: %+v", report.Checks[max(i, 0):])
	} else {
		for _, r := range replicas {
			if !strings.Contains(report.Checks[i].Detail, r.base) {
				t.Errorf("doctor does not list the replica at %s: %s", r.base, report.Checks[i].Detail)
			}
		}
	}
}

// auditedPII reads an audit log and returns the request ids of the
// personal-data calls it allowed.
func auditedPII(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if !strings.HasSuffix(line, "\n") {
			continue // a write cut short by kill -9: its answer never left
		}
		var e struct {
			RequestID string `json:"requestId"`
			PII       bool   `json:"pii"`
			Decision  string `json:"decision"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("audit log %s: a line that is not JSON (%v): %.200q", path, err, line)
			continue
		}
		if e.PII && e.Decision == "allowed" {
			out[e.RequestID] = true
		}
	}
	return out
}
