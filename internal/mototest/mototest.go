// Package mototest runs moto_server (a third-party emulator of IAM, STS and
// SQS) as a subprocess for tests, with request signing and IAM policy
// enforcement switched on: moto serves the first few calls unauthenticated
// (INITIAL_NO_AUTH_ACTION_COUNT), which this package spends on creating an
// administrator user and its access key. Every later call must carry a valid
// SigV4 signature from a known key and be allowed by that key's policies.
//
// Use Start in a single test, or RunMain from TestMain to share one server
// across a test package:
//
//	var moto *mototest.Server
//
//	func TestMain(m *testing.M) { os.Exit(mototest.RunMain(m, &moto)) }
//
//	func TestX(t *testing.T) { srv := mototest.Need(t, moto); ... }
//
// moto's state is per server, so tests sharing one server must use distinct
// resource names.
package mototest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/spgate/spgate/internal/testenv"
)

// RequireEnv names the environment variable that turns a missing
// moto_server from a skip into a failure (set it in CI).
const RequireEnv = "SPGATE_REQUIRE_MOTO"

// AccountID is the AWS account moto pretends to be.
const AccountID = "123456789012"

// Region is the region the helper configures clients for.
const Region = "us-east-1"

// bootstrapCalls is how many unauthenticated calls moto allows: CreateUser,
// PutUserPolicy and CreateAccessKey for the administrator.
const bootstrapCalls = 3

// Server is a running moto_server.
type Server struct {
	// Endpoint is the base URL, e.g. "http://127.0.0.1:41234"; IAM, STS and
	// SQS are all served there.
	Endpoint string
	// Admin are the administrator's long-term credentials (an IAM user with
	// an inline policy allowing everything).
	Admin aws.Credentials
	// AdminUser is the administrator's IAM user name.
	AdminUser string

	cmd      *exec.Cmd
	log      *testenv.Buffer
	stopOnce sync.Once
	done     chan struct{}
}

// Config returns an aws.Config for the server with the given credentials.
func (s *Server) Config(creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

// AdminConfig returns an aws.Config signed with the administrator's keys.
func (s *Server) AdminConfig() aws.Config { return s.Config(s.Admin) }

// Log returns what moto_server printed so far (its request log), for
// diagnosing a failing test.
func (s *Server) Log() string { return s.log.String() }

// Close stops the server process. It is safe to call more than once.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		<-s.done
	})
}

// ErrNotInstalled reports that moto_server is not on PATH.
var ErrNotInstalled = errors.New("moto_server is not on PATH (pip install 'moto[server]'); set " + RequireEnv + "=1 to make this a failure")

// Launch starts moto_server on a free loopback port, waits until it answers
// and creates the administrator. The caller must Close it.
func Launch(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "INITIAL_NO_AUTH_ACTION_COUNT="+strconv.Itoa(bootstrapCalls))
	buf := &testenv.Buffer{Max: 1 << 20}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:      cmd,
		log:      buf,
		done:     make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		// A GET on the reset endpoint answers 400 and changes nothing; it
		// does not count as an action.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/reset-auth", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("moto_server exited before answering: %s", s.log.String())
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on %s: %w; log: %s", s.Endpoint, ctx.Err(), s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// bootstrap spends moto's unauthenticated calls on an administrator.
func (s *Server) bootstrap(ctx context.Context) error {
	cfg := s.Config(aws.Credentials{AccessKeyID: "AKIABOOTSTRAP0000000", SecretAccessKey: "bootstrap"})
	c := iam.NewFromConfig(cfg)
	s.AdminUser = "moto-admin"
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &s.AdminUser}); err != nil {
		return fmt.Errorf("moto bootstrap: create admin user: %w", err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &s.AdminUser, PolicyName: aws.String("admin"), PolicyDocument: &doc}); err != nil {
		return fmt.Errorf("moto bootstrap: admin policy: %w", err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &s.AdminUser})
	if err != nil {
		return fmt.Errorf("moto bootstrap: admin access key: %w", err)
	}
	s.Admin = aws.Credentials{
		AccessKeyID:     aws.ToString(out.AccessKey.AccessKeyId),
		SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey),
		Source:          "mototest",
	}
	return nil
}

func required() bool { return os.Getenv(RequireEnv) == "1" }

// Start launches a server for one test (or benchmark) and stops it when the
// test ends. It skips the test when moto_server is not installed, unless
// SPGATE_REQUIRE_MOTO=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch(context.Background())
	if errors.Is(err, ErrNotInstalled) && !required() {
		tb.Skip(err.Error())
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// RunMain starts one server for the whole test package, stores it in *srv,
// runs the tests and stops the server. When moto_server is missing it runs
// the tests with *srv nil (Need then skips), or fails when
// SPGATE_REQUIRE_MOTO=1. Use it as os.Exit(mototest.RunMain(m, &srv)).
func RunMain(m *testing.M, srv **Server) int {
	s, err := Launch(context.Background())
	switch {
	case errors.Is(err, ErrNotInstalled) && !required():
		*srv = nil
	case err != nil:
		fmt.Fprintln(os.Stderr, "mototest:", err)
		return 1
	default:
		*srv = s
		defer s.Close()
	}
	return m.Run()
}

// Need returns s, or skips the test (fails with SPGATE_REQUIRE_MOTO=1) when
// the package's server could not be started because moto_server is missing.
func Need(tb testing.TB, s *Server) *Server {
	tb.Helper()
	if s == nil {
		if required() {
			tb.Fatal(ErrNotInstalled)
		}
		tb.Skip(ErrNotInstalled.Error())
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for moto_server: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
