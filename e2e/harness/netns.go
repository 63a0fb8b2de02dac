package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Addresses of the sealed namespace (see NewSealedNetns).
const (
	// SealedAddr is the one non-loopback address inside a sealed namespace;
	// Chromium's only ICE host candidate there.
	SealedAddr = "10.99.0.1"
	sealedCIDR = SealedAddr + "/24"
	// netnsPrefix starts every namespace name the harness makes:
	// cb-<pid of the test binary>-<n>.
	netnsPrefix = "cb-"
)

// netnsSeq numbers the namespaces of one test binary.
var netnsSeq atomic.Int64

// Netns is a network namespace made for one test. A nil *Netns means the
// root namespace wherever the harness accepts one.
type Netns struct {
	Name string // cb-<pid>-<n>, unique on the host
	Addr string // SealedAddr
}

// NewSealedNetns makes a sealed network namespace, deleted in t.Cleanup:
// lo up, plus a veth pair whose both ends live inside it, 10.99.0.1/24 on
// one end and a default route through it. Chromium needs a non-loopback
// address and a default route to gather any ICE candidate; nothing can leave
// the namespace, because the pair has no end outside it. Needs root.
func NewSealedNetns(t testing.TB) *Netns {
	t.Helper()
	ip := LookPath(t, "ip")
	sweepStaleNetns(t, ip)
	n := &Netns{
		Name: fmt.Sprintf("%s%d-%d", netnsPrefix, os.Getpid(), netnsSeq.Add(1)),
		Addr: SealedAddr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := runCmd(ctx, nil, ip, "netns", "add", n.Name); err != nil {
		t.Fatalf("sealed netns (needs root): %v", err)
	}
	t.Cleanup(func() { n.delete(t, ip) })
	steps := [][]string{
		{ip, "-n", n.Name, "link", "set", "lo", "up"},
		{ip, "-n", n.Name, "link", "add", "s0", "type", "veth", "peer", "name", "s1"},
		{ip, "-n", n.Name, "addr", "add", sealedCIDR, "dev", "s0"},
		{ip, "-n", n.Name, "link", "set", "s0", "up"},
		{ip, "-n", n.Name, "link", "set", "s1", "up"},
		{ip, "-n", n.Name, "route", "add", "default", "dev", "s0"},
	}
	for _, s := range steps {
		if _, err := runCmd(ctx, nil, s...); err != nil {
			t.Fatalf("sealed netns %s: %v", n.Name, err)
		}
	}
	t.Logf("netns %s: sealed, address %s", n.Name, n.Addr)
	return n
}

// delete kills whatever still runs inside the namespace (only processes
// this test started can be there) and removes it.
func (n *Netns) delete(t testing.TB, ip string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := runCmd(ctx, nil, ip, "netns", "pids", n.Name); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				t.Logf("netns %s: killing leftover pid %d", n.Name, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if _, err := runCmd(ctx, nil, ip, "netns", "del", n.Name); err != nil {
		t.Errorf("delete netns %s: %v", n.Name, err)
	}
}

// sweepStaleNetns deletes cb-<pid>-<n> namespaces left by test binaries
// that no longer run (killed by a timeout before their cleanups ran).
// Namespaces of live processes are never touched.
func sweepStaleNetns(t testing.TB, ip string) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(e.Name(), netnsPrefix), "-")
		if !strings.HasPrefix(e.Name(), netnsPrefix) || !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := runCmd(ctx, nil, ip, "netns", "del", e.Name()); err == nil {
			t.Logf("deleted stale netns %s of exited pid %d", e.Name(), pid)
		}
		cancel()
	}
}

// wrap prefixes argv with `ip netns exec NAME` (nil: unchanged).
func (n *Netns) wrap(argv []string) []string {
	if n == nil {
		return argv
	}
	return append([]string{"ip", "netns", "exec", n.Name}, argv...)
}

// String names the namespace ("root" for nil).
func (n *Netns) String() string {
	if n == nil {
		return "root"
	}
	return n.Name
}

// Run runs a command inside the namespace (root for nil) to completion and
// returns its combined output; a non-zero exit fails the test.
func (n *Netns) Run(t testing.TB, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := runCmd(ctx, n, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Start starts a long-running command inside the namespace (root for nil),
// stopped in t.Cleanup.
func (n *Netns) Start(t testing.TB, name string, argv ...string) *Process {
	t.Helper()
	return startProcess(t, n, name, filepath.Join(t.TempDir(), name), nil, argv[0], argv[1:]...)
}

// Do runs fn on an OS thread switched into the namespace (root for nil:
// fn runs as is). Sockets fn creates stay in the namespace after Do returns
// and may be used from any goroutine, e.g. a net.Conn to a bridge that
// listens on 127.0.0.1 inside the namespace. fn must not start goroutines
// that create sockets.
func (n *Netns) Do(fn func() error) error {
	if n == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Left locked on any failure to switch back: the thread then exits
		// with this goroutine instead of serving others in the wrong namespace.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", n.Name))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", n.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DialContext dials addr from inside the namespace (root for nil); use it
// as http.Transport.DialContext or websocket.Dialer.NetDialContext to reach
// a bridge in the namespace from the test process.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// ListenUDP opens a UDP socket inside the namespace (root for nil).
func (n *Netns) ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := n.Do(func() error {
		var err error
		c, err = net.ListenUDP(network, laddr)
		return err
	})
	return c, err
}
