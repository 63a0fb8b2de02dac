// Package pgtest runs a throwaway PostgreSQL server for tests: initdb in a
// temporary directory, postgres listening on 127.0.0.1 at a free port
// (no unix socket), fsync off, trust authentication, stopped and deleted
// by Close. It uses the server binaries of the host (Debian's package
// postgresql: /usr/lib/postgresql/N/bin, or PGTEST_BINDIR, or PATH).
//
// PostgreSQL refuses to run as root; as root, pgtest runs initdb and
// postgres as the "postgres" user that the Debian package creates, and
// hands it the temporary directory.
//
// Without the binaries a test skips (Require), unless it runs under CI
// (CI=true), where that is a failure: CI installs them.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	// ErrNotInstalled: no PostgreSQL server binaries on this host.
	ErrNotInstalled = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found; install Debian's package postgresql or set PGTEST_BINDIR")
	// ErrStart: the server did not start.
	ErrStart = errors.New("pgtest: postgres did not start")
)

// startTimeout bounds initdb plus the server's start.
const startTimeout = 60 * time.Second

// Server is one running PostgreSQL server.
type Server struct {
	dir  string // temporary directory: data/ and nothing else
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	out  *syncBuffer   // the server's log (stderr and stdout)
	dbs  atomic.Int64  // databases made by NewDatabase

	closeOnce sync.Once
	closeErr  error // written once by Close
}

// BinDir returns the directory of initdb and postgres, or ErrNotInstalled.
func BinDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			return "", fmt.Errorf("%w: PGTEST_BINDIR=%s: %w", ErrNotInstalled, d, err)
		}
		return d, nil
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		version := func(d string) int {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			return n
		}
		slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
		for _, d := range dirs {
			if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
				return d, nil
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// UnderCI reports whether the CI variable says this is a CI run.
func UnderCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// Require ends the test when err (from New) is not nil: a skip when the
// binaries are missing outside CI, a failure otherwise.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNotInstalled) && !UnderCI():
		t.Skipf("skipping PostgreSQL test: %v", err)
	default:
		t.Fatalf("PostgreSQL test server: %v", err)
	}
}

// Start starts a server for one test and stops it at the test's end; see
// Require for what happens without the binaries.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	Require(t, err)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return s
}

// New initializes a cluster in a new temporary directory and starts a
// server on it. Close stops it and deletes the directory.
func New() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	cred, err := serverUser(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: initdb: %w\n%s", ErrStart, err, out)
	}
	// A free port can be taken between asking and binding: try again.
	for try := 0; ; try++ {
		s, err := start(ctx, bin, dir, cred)
		if err == nil {
			return s, nil
		}
		if try == 2 || ctx.Err() != nil || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// serverUser returns the credentials to run the server with: nil (this
// user) unless this is root, then the postgres user, who is given dir.
func serverUser(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root needs a postgres user to run the server as: %w", ErrStart, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func serverEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(ctx context.Context, bin, dir string, cred *syscall.Credential) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	s := &Server{dir: dir, port: port, done: make(chan struct{}), out: &syncBuffer{}}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", "",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "log_min_messages=warning")
	s.cmd.Dir = dir
	s.cmd.Env = serverEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	// Pdeathsig: a test binary killed by its timeout takes the server along.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.AdminDSN())
		cancel()
		if err == nil {
			conn.Close(ctx)
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%w: exited: %s", ErrStart, s.out.String())
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("%w: not ready in %v: %v\n%s", ErrStart, startTimeout, err, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Port returns the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN returns the URL of database db as the superuser "postgres".
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// AdminDSN returns the URL of the "postgres" database.
func (s *Server) AdminDSN() string { return s.DSN("postgres") }

// NewDatabase creates an empty database and returns its URL; it is
// dropped at the end of t.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.AdminDSN())
		if err != nil {
			return // the server is gone with its databases
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// Log returns what the server has logged.
func (s *Server) Log() string { return s.out.String() }

// Close stops the server (fast shutdown, then SIGKILL after 10 s) and
// deletes its directory.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.stop()
		if err := os.RemoveAll(s.dir); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Server) stop() error {
	// SIGINT is postgres's fast shutdown: roll back, disconnect, exit.
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("pgtest: postgres ignored SIGINT for 10s; killed")
	}
}

// syncBuffer is a bytes.Buffer for a process's output, capped at 1 MiB.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
