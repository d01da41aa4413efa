// Package pgtest gives tests a PostgreSQL server for the vault's
// PostgreSQL backend: the one $SPGATE_TEST_POSTGRES names (CI starts a
// throw-away cluster and sets it), or else a throw-away cluster of its own,
// started once per test process with initdb and postgres from PATH (or
// Debian's /usr/lib/postgresql/*/bin) and removed when the process ends.
// Each test gets its own fresh schema (or database) on it.
//
// Without either, tests that need PostgreSQL skip, saying so; with
// SPGATE_REQUIRE_POSTGRES=1 (set by .ci/run) they fail instead.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }
//
//	func TestX(t *testing.T) { dsn := pgtest.Need(t).Schema(t); ... }
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/spgate/spgate/internal/testenv"
)

// EnvDSN names a server the tests may use: a DSN whose user may create
// schemas and databases, e.g. postgres://spgate@127.0.0.1:5433/postgres;
// "off" skips the PostgreSQL tests (a quick run while editing).
const EnvDSN = "SPGATE_TEST_POSTGRES"

// RequireEnv turns a missing server from a skip into a failure (CI).
const RequireEnv = "SPGATE_REQUIRE_POSTGRES"

// ErrUnavailable reports that there is no server to use.
var ErrUnavailable = errors.New("no PostgreSQL for the tests: set " + EnvDSN + "=postgres://… or put PostgreSQL's initdb and postgres on PATH (Debian: apt-get install postgresql); set " + RequireEnv + "=1 to make this a failure")

// Server is a PostgreSQL server the tests may create schemas and
// databases on.
type Server struct {
	// DSN connects as a user who may create schemas and databases.
	DSN string

	admin   *sql.DB
	cluster *cluster // nil for a server from EnvDSN
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the process's server, starting a throw-away cluster on
// first use when EnvDSN is unset. It is ErrUnavailable (wrapped) when
// there is none.
func Shared() (*Server, error) {
	shared.once.Do(func() { shared.srv, shared.err = start() })
	return shared.srv, shared.err
}

// Required reports whether a missing server fails the tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// RunMain runs the tests and stops a cluster Shared started.
func RunMain(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the cluster Shared started, if any.
func Stop() {
	if shared.srv != nil {
		shared.srv.close()
	}
}

// Need returns the shared server, or skips the test (fails it when
// SPGATE_REQUIRE_POSTGRES=1) when there is none.
func Need(tb testing.TB) *Server {
	tb.Helper()
	s, err := Shared()
	if err != nil {
		if errors.Is(err, ErrUnavailable) && !Required() {
			tb.Skip(err.Error())
		}
		tb.Fatal(err)
	}
	return s
}

// Start returns a server for one test, in a package whose TestMain does
// not run RunMain: $SPGATE_TEST_POSTGRES's, or a throw-away cluster of
// the test's own, stopped when the test ends. It skips (or fails, when
// required) like Need.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	if err != nil {
		if errors.Is(err, ErrUnavailable) && !Required() {
			tb.Skip(err.Error())
		}
		tb.Fatal(err)
	}
	tb.Cleanup(s.close)
	return s
}

func start() (*Server, error) {
	dsn := os.Getenv(EnvDSN)
	if dsn == "off" {
		return nil, fmt.Errorf("%w (%s=off)", ErrUnavailable, EnvDSN)
	}
	if dsn != "" {
		return connect(dsn, nil)
	}
	c, err := startCluster()
	if err != nil {
		return nil, err
	}
	s, err := connect(c.dsn, c)
	if err != nil {
		c.stop()
		return nil, err
	}
	return s, nil
}

func connect(dsn string, c *cluster) (*Server, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDSN, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL for the tests at %s does not answer: %w", redact(dsn), err)
	}
	db.SetMaxOpenConns(4)
	return &Server{DSN: dsn, admin: db, cluster: c}, nil
}

func (s *Server) close() {
	s.admin.Close()
	if s.cluster != nil {
		s.cluster.stop()
	}
}

// Exec runs statements as the server's user.
func (s *Server) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	if _, err := s.admin.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func newName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Schema creates a fresh, empty schema and returns a DSN whose
// search_path is that schema alone. The schema is dropped when tb ends.
func (s *Server) Schema(tb testing.TB) string {
	tb.Helper()
	name := newName("t_")
	s.Exec(tb, `CREATE SCHEMA `+name)
	tb.Cleanup(func() { _, _ = s.admin.Exec(`DROP SCHEMA IF EXISTS ` + name + ` CASCADE`) })
	return WithParam(s.DSN, "search_path", name)
}

// Database creates a fresh, empty database and returns a DSN for it. The
// database is dropped when tb ends (after its connections are ended).
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	name := newName("spgate_t_")
	s.Exec(tb, `CREATE DATABASE `+name)
	tb.Cleanup(func() { _, _ = s.admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u, err := url.Parse(s.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// WithParam returns dsn with the query parameter name set to value.
func WithParam(dsn, name, value string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// cluster is a throw-away PostgreSQL cluster: a data directory in a
// temporary folder and a postgres process listening on its own loopback
// port, trusting its one user from 127.0.0.1 only.
type cluster struct {
	dir  string
	dsn  string
	cmd  *exec.Cmd
	log  *testenv.Buffer
	done chan struct{}
	once sync.Once
}

// User is the database superuser of a throw-away cluster.
const User = "spgate"

// binDir finds initdb: on PATH, else in Debian's versioned folders.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", ErrUnavailable
}

// runAs is the account the cluster runs as: PostgreSQL refuses to run as
// root, so root runs it as spgatepg (.ci/run creates it) or nobody.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"spgatepg", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, fmt.Errorf("%w (running as root, and no unprivileged account spgatepg or nobody to run PostgreSQL as)", ErrUnavailable)
}

func startCluster() (*cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "spgate-pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, log: &testenv.Buffer{}}
	fail := func(err error) (*cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", User, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	// Trust this one user from loopback; nothing else.
	hba := "host all " + User + " 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	// A port another process takes between freePort and postgres's bind
	// makes postgres exit at once: try another.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		err = c.launch(bin, data, dir, cred, port)
		if err == nil {
			return c, nil
		}
		if attempt == 5 || !strings.Contains(c.output(), "could not bind") {
			c.stop()
			return nil, err
		}
	}
}

// launch starts postgres on port and waits until it accepts connections.
func (c *cluster) launch(bin, data, dir string, cred *syscall.Credential, port int) error {
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "shared_buffers=32MB")
	c.cmd.SysProcAttr = serverAttr(cred)
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.done = make(chan struct{})
	if err := c.cmd.Start(); err != nil {
		c.cmd = nil
		return fmt.Errorf("start postgres: %w", err)
	}
	cmd, done := c.cmd, c.done
	go func() { _ = cmd.Wait(); close(done) }()
	c.dsn = fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", User, port)
	return c.waitReady()
}

func (c *cluster) waitReady() error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, c.dsn)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited before accepting connections:\n%s", c.output())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections: %v\n%s", err, c.output())
		}
		time.Sleep(50 * time.Millisecond) // polling for the server, not waiting for an expiry
	}
}

func (c *cluster) output() string { return strings.TrimSpace(c.log.String()) }

// stop shuts the server down fast (SIGINT: abort transactions, close) and
// removes its folder.
func (c *cluster) stop() {
	c.once.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-c.done:
			case <-time.After(30 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		os.RemoveAll(c.dir)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
