package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Stop timing for processes the harness started.
const (
	// StopGrace is how long a process gets after SIGTERM before its
	// process group is killed.
	StopGrace = 5 * time.Second
	// ReadyTimeout bounds every wait for a peer's socket.
	ReadyTimeout = 15 * time.Second
	// logTailLines is how much of a log is printed when a test fails.
	logTailLines = 80
)

// Process is a program the harness started for one test. It is stopped in
// t.Cleanup, and its combined stdout/stderr (LogPath) is printed when the
// test fails.
type Process struct {
	Name    string // short name for messages, e.g. "sipp-uas"
	Dir     string // working directory, private to this process
	LogPath string // combined stdout and stderr

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and err is set

	mu      sync.Mutex
	err     error // exit status; guarded by mu, set once before done closes
	stopped bool  // Stop was called; guarded by mu
}

// startProcess starts bin with args in dir (created if needed), inside ns
// when ns is not nil, with extra environment env, and registers its cleanup.
func startProcess(t testing.TB, ns *Netns, name, dir string, env []string, bin string, args ...string) *Process {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	argv := ns.wrap(append([]string{bin}, args...))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil // /dev/null: baresip and sipp must never wait on a terminal
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group, so Stop reaches children (kamailio forks workers),
	// and SIGKILL if the test binary dies before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: start %s: %v", name, strings.Join(argv, " "), err)
	}
	p := &Process{Name: name, Dir: dir, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Logf("%s: started pid %d: %s", name, cmd.Process.Pid, strings.Join(argv, " "))
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s: last lines of %s:\n%s", name, logPath, p.tail(logTailLines))
		}
		saveArtifact(t, logPath)
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit error (nil for
// status 0), or ctx's error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			return fmt.Errorf("%s: %w", p.Name, p.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.Name, ctx.Err())
	}
}

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return fmt.Errorf("%s: %w", p.Name, ErrProcessExited)
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM, waits StopGrace, then kills the whole process group.
// It is safe to call more than once; the cleanup calls it too.
func (p *Process) Stop() {
	p.mu.Lock()
	already := p.stopped
	p.stopped = true
	p.mu.Unlock()
	pgid := p.cmd.Process.Pid
	if !already && !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(StopGrace):
		}
	}
	// The group may hold children that outlived the leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// Log returns the whole log so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitLog waits until the log contains substr and returns the log, or
// fails with the log tail when the process exits or timeout passes first.
func (p *Process) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := p.Log()
		if strings.Contains(log, substr) {
			return log
		}
		if p.Exited() {
			t.Fatalf("%s exited before logging %q: %v\n%s", p.Name, substr, p.Wait(context.Background()), p.tail(logTailLines))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v:\n%s", p.Name, substr, timeout, p.tail(logTailLines))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Process) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitPort waits until proto ("udp" or "tcp") port is bound (TCP: listening)
// in p's network namespace.
func (p *Process) waitPort(proto string, port int) error {
	deadline := time.Now().Add(ReadyTimeout)
	for {
		ok, err := portBound(p.Pid(), proto, port)
		if err == nil && ok {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%w: %s before binding %s/%d: %v\n%s", ErrProcessExited, p.Name, proto, port, p.Wait(context.Background()), p.tail(logTailLines))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s did not bind %s/%d within %v\n%s", ErrNotReady, p.Name, proto, port, ReadyTimeout, p.tail(logTailLines))
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// LookPath finds a tool or fails the test with the package that provides it.
func LookPath(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		pkg := map[string]string{
			"sipp": "sip-tester", "baresip": "baresip-core", "kamailio": "kamailio",
			"sox": "sox", "chromium": "chromium", "node": "nodejs", "ip": "iproute2",
		}[tool]
		t.Fatalf("%s not found (Debian package %q; .ci/run installs it): %v", tool, pkg, err)
	}
	return p
}

// ModuleRoot is the directory holding the module's go.mod, found by
// walking up from the working directory (go test runs in the package dir).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModule
		}
		dir = parent
	}
}

func mustModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// ArtifactsDir is where logs, recordings and screenshots of e2e runs are
// copied for CI (E2E_ARTIFACTS); empty = not kept.
func ArtifactsDir() string { return os.Getenv("E2E_ARTIFACTS") }

// TestArtifactsDir is this test's directory under ArtifactsDir (created),
// or "" when artifacts are not kept.
func TestArtifactsDir(t testing.TB) string {
	root := ArtifactsDir()
	if root == "" {
		return ""
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "__", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifacts: %v", err)
		return ""
	}
	return dir
}

// saveArtifact copies path into the test's artifacts directory, if any.
func saveArtifact(t testing.TB, path string) {
	dir := TestArtifactsDir(t)
	if dir == "" {
		return
	}
	if err := copyFile(path, filepath.Join(dir, filepath.Base(path))); err != nil {
		t.Logf("artifacts: %v", err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runCmd runs argv to completion (inside ns when not nil) and returns its
// combined output; the error carries the output.
func runCmd(ctx context.Context, ns *Netns, argv ...string) (string, error) {
	return runCmdIn(ctx, ns, "", argv...)
}

// runCmdIn is runCmd in working directory dir ("" = the test's).
func runCmdIn(ctx context.Context, ns *Netns, dir string, argv ...string) (string, error) {
	return runCmdTee(ctx, ns, dir, nil, argv...)
}

// runCmdTee is runCmdIn that also hands each line of output to onLine as
// it comes (nil: not).
func runCmdTee(ctx context.Context, ns *Netns, dir string, onLine func(string), argv ...string) (string, error) {
	argv = ns.wrap(argv)
	var buf bytes.Buffer
	var out io.Writer = &buf
	if onLine != nil {
		lw := &lineWriter{onLine: onLine}
		defer lw.flush()
		out = io.MultiWriter(&buf, lw)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	// Own process group killed with the leader: Chromium's children must
	// not outlive a timed-out script.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout = out
	cmd.Stderr = out
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // orphans left in the group
	}
	if err != nil {
		return buf.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(buf.String()))
	}
	return buf.String(), nil
}

// lineWriter calls onLine for every complete line written to it. The
// command's stdout and stderr share one; exec copies each from its own
// goroutine, hence the mutex.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte // guarded by mu
	onLine  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.onLine(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.onLine(string(w.partial))
		w.partial = nil
	}
}
