package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/provision"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.RunMain(m, &moto)) }

// env is one test's view of the shared moto server: its own resource names
// (moto's state is shared), an admin IAM client and a captured log.
type env struct {
	t    *testing.T
	srv  *mototest.Server
	opts provision.Options
	iam  *iam.Client
	sqs  *sqs.Client
	log  *testenv.Buffer
}

func newEnv(t *testing.T, prefix string) *env {
	srv := mototest.Need(t, moto)
	cfg := srv.AdminConfig()
	lb := &testenv.Buffer{}
	return &env{t: t, srv: srv, log: lb, iam: iam.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg),
		opts: provision.Options{
			Config:     &cfg,
			UserName:   prefix + "User",
			RoleName:   prefix + "Role",
			PolicyName: prefix + "Policy",
			QueueName:  prefix + "-queue",
			Logger:     slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		}}
}

func (e *env) arn(typ, name string) string {
	return "arn:aws:iam::" + mototest.AccountID + ":" + typ + "/" + name
}

// noLeak fails when the secret shows up in the log, the report's text or JSON.
func (e *env) noLeak(sec string, more ...string) {
	e.t.Helper()
	if sec == "" {
		e.t.Fatal("noLeak: empty secret")
	}
	for i, s := range append([]string{e.log.String()}, more...) {
		if strings.Contains(s, sec) {
			e.t.Errorf("secret access key leaked into output %d: %s", i, s)
		}
	}
}

func statuses(r *provision.Report) map[string]provision.Status {
	m := map[string]provision.Status{}
	for _, s := range r.Steps {
		m[s.ID] = s.Status
	}
	return m
}

func wantStatuses(t *testing.T, r *provision.Report, want map[string]provision.Status) {
	t.Helper()
	got := statuses(r)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("step %s: status %q, want %q\n%s", id, got[id], w, r.Text())
		}
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSetupCreatesThenChangesNothing(t *testing.T) {
	e := newEnv(t, "Full")
	e.opts.Queue = true
	ctx := context.Background()
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	all := func(s provision.Status) map[string]provision.Status {
		return map[string]provision.Status{"user": s, "access-key": s, "policy": s, "role": s, "attach": s, "inline-policy": s, "queue": s, "queue-policy": s, "queue-read-policy": s}
	}
	wantStatuses(t, r, all(provision.Created))
	if r.NewAccessKey == nil || !strings.HasPrefix(r.NewAccessKey.AccessKeyID, "AKIA") || r.NewAccessKey.SecretAccessKey.IsZero() {
		t.Fatalf("new access key = %+v", r.NewAccessKey)
	}
	if r.SellerCentral != e.arn("role", e.opts.RoleName) {
		t.Errorf("SellerCentral = %q", r.SellerCentral)
	}

	// What AWS now holds is exactly the guide's documents.
	v, err := e.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(r.PolicyARN), VersionId: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := provision.ParsePolicy(aws.ToString(v.PolicyVersion.Document)); p == nil || !p.Allows("execute-api:Invoke", "arn:aws:execute-api:*:*:*") {
		t.Errorf("policy document = %s", aws.ToString(v.PolicyVersion.Document))
	}
	role, err := e.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &e.opts.RoleName})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := provision.ParsePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	if got := trust.TrustedAWSPrincipals(); len(got) != 1 || got[0] != r.UserARN {
		t.Errorf("trusted principals = %v, want only %s", got, r.UserARN)
	}
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &r.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(attrs.Attributes["Policy"], "arn:aws:iam::437568002678:root") {
		t.Errorf("queue policy = %s", attrs.Attributes["Policy"])
	}

	sec := r.NewAccessKey.SecretAccessKey.Reveal()
	js, _ := json.Marshal(r)
	e.noLeak(sec, r.Text(), string(js))

	// A re-run holding the key changes nothing and creates no second key.
	e.opts.HeldAccessKeyID = r.NewAccessKey.AccessKeyID
	r2, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, r2, all(provision.Unchanged))
	if r2.Changed() || r2.NewAccessKey != nil {
		t.Errorf("re-run changed something:\n%s", r2.Text())
	}
	keys, _ := e.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &e.opts.UserName})
	if len(keys.AccessKeyMetadata) != 1 {
		t.Errorf("user has %d keys after re-run, want 1", len(keys.AccessKeyMetadata))
	}

	chk, err := provision.Check(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(chk.Findings) != 0 {
		t.Errorf("check of a fresh setup found: %s", chk.Text())
	}
	e.noLeak(sec, chk.Text())
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, "Dry")
	e.opts.DryRun = true
	e.opts.Queue = true
	ctx := context.Background()
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, r, map[string]provision.Status{"user": provision.WouldCreate, "access-key": provision.WouldCreate, "policy": provision.WouldCreate,
		"role": provision.WouldCreate, "attach": provision.WouldCreate, "inline-policy": provision.WouldCreate, "queue": provision.WouldCreate})
	docs := map[string]string{
		"policy":        provision.ExecuteAPIPolicy,
		"role":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + e.arn("user", "DryUser") + `"},"Action":"sts:AssumeRole"}]}`,
		"inline-policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + e.arn("role", "DryRole") + `"}]}`,
	}
	for id, want := range docs {
		if st, _ := r.Step(id); st.Document != want {
			t.Errorf("step %s document = %s, want %s", id, st.Document, want)
		}
	}
	if st, _ := r.Step("queue-policy"); !strings.Contains(st.Document, `"Principal":{"AWS":"arn:aws:iam::437568002678:root"},"Action":["sqs:SendMessage","sqs:GetQueueAttributes"]`) {
		t.Errorf("queue policy document = %s", st.Document)
	}
	if !strings.Contains(r.Text(), provision.ExecuteAPIPolicy) {
		t.Errorf("dry-run text lacks the documents:\n%s", r.Text())
	}
	if _, err := e.iam.GetUser(ctx, &iam.GetUserInput{UserName: &e.opts.UserName}); code(err) != "NoSuchEntity" {
		t.Errorf("dry run created the user (GetUser err = %v)", err)
	}
	if _, err := e.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &e.opts.RoleName}); code(err) != "NoSuchEntity" {
		t.Errorf("dry run created the role (GetRole err = %v)", err)
	}
}

func TestSetupCompletesHalfDoneRun(t *testing.T) {
	e := newEnv(t, "Half")
	ctx := context.Background()
	// An earlier run created the user and a policy with a stale document,
	// then stopped.
	if _, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &e.opts.UserName}); err != nil {
		t.Fatal(err)
	}
	stale := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:*:*"}]}`
	if _, err := e.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &e.opts.PolicyName, PolicyDocument: &stale}); err != nil {
		t.Fatal(err)
	}
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, r, map[string]provision.Status{"user": provision.Unchanged, "access-key": provision.Created, "policy": provision.Updated,
		"role": provision.Created, "attach": provision.Created, "inline-policy": provision.Created})
	chk, err := provision.Check(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !chk.OK() {
		t.Errorf("after completing: %s", chk.Text())
	}
}

func TestSetupRefusesThirdKey(t *testing.T) {
	e := newEnv(t, "Keys")
	ctx := context.Background()
	if _, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &e.opts.UserName}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		k, err := e.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &e.opts.UserName})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *k.AccessKey.AccessKeyId)
	}
	_, err := provision.Setup(ctx, e.opts)
	var tm *provision.TooManyKeysError
	if !errors.As(err, &tm) || !strings.Contains(err.Error(), ids[0]) || !strings.Contains(err.Error(), "delete-access-key") {
		t.Fatalf("err = %v, want TooManyKeysError naming the keys and the fix", err)
	}
	// Holding one of them is fine.
	e.opts.HeldAccessKeyID = ids[1]
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.NewAccessKey != nil || r.AccessKeyID != ids[1] {
		t.Errorf("with held key: new=%v id=%s", r.NewAccessKey, r.AccessKeyID)
	}
}

func TestInvalidNamesRejectedBeforeCallingAWS(t *testing.T) {
	// No AWS config at all: validation must fail first.
	for _, o := range []provision.Options{
		{UserName: "Selling Partner"},
		{RoleName: strings.Repeat("r", 65)},
		{PolicyName: "pol/icy"},
		{Queue: true, QueueName: "q.fifo.x"},
	} {
		o.Endpoint = "http://127.0.0.1:1" // would fail loudly if called
		if _, err := provision.Setup(context.Background(), o); err == nil || !strings.Contains(err.Error(), "allowed") {
			t.Errorf("Setup(%+v) err = %v, want a name error", o, err)
		}
	}
}

func TestBadAdminSecretNotInError(t *testing.T) {
	srv := mototest.Need(t, moto)
	creds := srv.Admin
	creds.SecretAccessKey = "WRONGsecretWRONGsecretWRONGsecretWRONG00"
	cfg := srv.Config(creds)
	_, err := provision.Setup(context.Background(), provision.Options{Config: &cfg, UserName: "LeakUser"})
	if err == nil {
		t.Fatal("setup with a wrong secret succeeded")
	}
	if strings.Contains(err.Error(), creds.SecretAccessKey) || strings.Contains(err.Error(), srv.Admin.SecretAccessKey) {
		t.Errorf("error contains a secret: %v", err)
	}
	if !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
}

func TestTeardownLeavesNothing(t *testing.T) {
	e := newEnv(t, "Gone")
	e.opts.Queue = true
	ctx := context.Background()
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	// A second policy version, as after an update.
	if _, err := e.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &r.PolicyARN, PolicyDocument: aws.String(provision.ExecuteAPIPolicy), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}

	dry := e.opts
	dry.DryRun = true
	dr, err := provision.Teardown(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, dr, map[string]provision.Status{"user": provision.WouldDelete, "role": provision.WouldDelete, "policy": provision.WouldDelete})
	if _, err := e.iam.GetUser(ctx, &iam.GetUserInput{UserName: &e.opts.UserName}); err != nil {
		t.Fatalf("dry-run teardown deleted the user: %v", err)
	}

	tr, err := provision.Teardown(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, tr, map[string]provision.Status{"attach": provision.Deleted, "inline-policy": provision.Deleted, "queue-read-policy": provision.Deleted,
		"access-key": provision.Deleted, "role": provision.Deleted, "policy": provision.Deleted, "user": provision.Deleted, "queue": provision.Deleted})

	users, _ := e.iam.ListUsers(ctx, &iam.ListUsersInput{})
	for _, u := range users.Users {
		if strings.HasPrefix(*u.UserName, "Gone") {
			t.Errorf("user %s left behind", *u.UserName)
		}
	}
	roles, _ := e.iam.ListRoles(ctx, &iam.ListRolesInput{})
	for _, ro := range roles.Roles {
		if strings.HasPrefix(*ro.RoleName, "Gone") {
			t.Errorf("role %s left behind", *ro.RoleName)
		}
	}
	pols, _ := e.iam.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal})
	for _, p := range pols.Policies {
		if strings.HasPrefix(*p.PolicyName, "Gone") {
			t.Errorf("policy %s left behind", *p.PolicyName)
		}
	}
	if _, err := e.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &e.opts.QueueName}); err == nil {
		t.Error("queue left behind")
	}

	again, err := provision.Teardown(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range again.Steps {
		if s.Status != provision.Absent {
			t.Errorf("second teardown: step %s %s", s.ID, s.Status)
		}
	}
}

// TestSetupTakesEntitiesCreatedMeanwhile: a user or role created between
// setup reading it and creating it (another setup, or a create the SDK sent
// again after a lost answer) is taken as found, and the role's trust is
// locked to the user all the same.
func TestSetupTakesEntitiesCreatedMeanwhile(t *testing.T) {
	e := newEnv(t, "Meanwhile")
	ctx := context.Background()
	if _, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &e.opts.UserName}); err != nil {
		t.Fatal(err)
	}
	foreign := provision.TrustPolicy("arn:aws:iam::123456789012:root")
	if _, err := e.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &e.opts.RoleName, AssumeRolePolicyDocument: &foreign}); err != nil {
		t.Fatal(err)
	}
	// Setup's first read of each misses them, as if they came just after.
	cfg := *e.opts.Config
	cfg.HTTPClient = &missOnce{next: &http.Client{}, hide: map[string]bool{"GetUser": true, "GetRole": true}}
	e.opts.Config = &cfg
	if _, err := provision.Setup(ctx, e.opts); err != nil {
		t.Fatalf("setup after the user and role appeared meanwhile: %v", err)
	}
	chk, err := provision.Check(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !chk.OK() {
		t.Errorf("after setup: %s", chk.Text())
	}
}

// missOnce answers the first IAM call of each action in hide with
// NoSuchEntity, and passes everything else to next.
type missOnce struct {
	next *http.Client
	mu   sync.Mutex
	hide map[string]bool
}

func (m *missOnce) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	m.mu.Lock()
	hide := m.hide[action]
	delete(m.hide, action)
	m.mu.Unlock()
	if !hide {
		return m.next.Do(req)
	}
	xml := `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
		`<Message>not found</Message></Error><RequestId>missed</RequestId></ErrorResponse>`
	return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/xml"}}, Body: io.NopCloser(strings.NewReader(xml)), ContentLength: int64(len(xml)), Request: req}, nil
}
