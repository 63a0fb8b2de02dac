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
	n := newNetns(t)
	n.Addr = SealedAddr
	n.setup(t,
		[]string{"link", "add", "s0", "type", "veth", "peer", "name", "s1"},
		[]string{"addr", "add", sealedCIDR, "dev", "s0"},
		[]string{"link", "set", "s0", "up"},
		[]string{"link", "set", "s1", "up"},
		[]string{"route", "add", "default", "dev", "s0"},
	)
	t.Logf("netns %s: sealed, address %s", n.Name, n.Addr)
	return n
}

// newNetns adds an empty namespace with lo up, deleted in t.Cleanup.
func newNetns(t testing.TB) *Netns {
	t.Helper()
	ip := LookPath(t, "ip")
	sweepStaleNetns(t, ip)
	n := &Netns{Name: fmt.Sprintf("%s%d-%d", netnsPrefix, os.Getpid(), netnsSeq.Add(1))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := runCmd(ctx, nil, ip, "netns", "add", n.Name); err != nil {
		t.Fatalf("netns (needs root): %v", err)
	}
	t.Cleanup(func() { n.delete(t, ip) })
	n.setup(t, []string{"link", "set", "lo", "up"})
	return n
}

// setup runs `ip -n NAME args...` for each step, failing the test on error.
func (n *Netns) setup(t testing.TB, steps ...[]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range steps {
		if _, err := runCmd(ctx, nil, append([]string{"ip", "-n", n.Name}, s...)...); err != nil {
			t.Fatalf("netns %s: %v", n.Name, err)
		}
	}
}

// Addresses of the NAT topology (see NewNAT).
const (
	NATLanAddr = "10.77.1.2" // the host behind the NAT, in Lan
	NATRtrLan  = "10.77.1.1" // the router's inside address, Lan's default route
	NATRtrPub  = "10.77.2.1" // the router's outside address: Lan's traffic appears from it
	NATPubAddr = "10.77.2.2" // the public host, in Pub
)

// NAT is three namespaces in a row, the recipe's NAT topology:
//
//	Lan 10.77.1.2 --veth-- 10.77.1.1 Rtr 10.77.2.1 --veth-- 10.77.2.2 Pub
//
// Rtr forwards and masquerades Lan's traffic to Pub; Pub has no route back
// to 10.77.1.0/24 and Rtr drops unsolicited traffic toward Lan, so Lan is
// reachable only through the mappings its own traffic made. Nothing leaves
// the three namespaces (Pub has no default route, Rtr none beyond them).
type NAT struct {
	Lan, Rtr, Pub *Netns
}

// NewNAT builds the NAT topology, deleted in t.Cleanup. With randomPorts
// the router picks a new source port per destination (MASQUERADE
// --random-fully), which behaves as a symmetric NAT (RFC 4787 "address and
// port-dependent mapping"); otherwise it keeps ports (endpoint-independent
// mapping). Needs root and iptables.
func NewNAT(t testing.TB, randomPorts bool) *NAT {
	t.Helper()
	ipt := LookPath(t, "iptables")
	nat := &NAT{Lan: newNetns(t), Rtr: newNetns(t), Pub: newNetns(t)}
	nat.Lan.Addr, nat.Pub.Addr, nat.Rtr.Addr = NATLanAddr, NATPubAddr, NATRtrPub
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, link := range [][]string{
		{"ip", "link", "add", "lan0", "netns", nat.Lan.Name, "type", "veth", "peer", "name", "rtr-lan", "netns", nat.Rtr.Name},
		{"ip", "link", "add", "pub0", "netns", nat.Pub.Name, "type", "veth", "peer", "name", "rtr-pub", "netns", nat.Rtr.Name},
	} {
		if _, err := runCmd(ctx, nil, link...); err != nil {
			t.Fatalf("NAT: %v", err)
		}
	}
	nat.Lan.setup(t,
		[]string{"addr", "add", NATLanAddr + "/24", "dev", "lan0"},
		[]string{"link", "set", "lan0", "up"},
		[]string{"route", "add", "default", "via", NATRtrLan},
	)
	nat.Rtr.setup(t,
		[]string{"addr", "add", NATRtrLan + "/24", "dev", "rtr-lan"},
		[]string{"link", "set", "rtr-lan", "up"},
		[]string{"addr", "add", NATRtrPub + "/24", "dev", "rtr-pub"},
		[]string{"link", "set", "rtr-pub", "up"},
	)
	nat.Pub.setup(t,
		[]string{"addr", "add", NATPubAddr + "/24", "dev", "pub0"},
		[]string{"link", "set", "pub0", "up"},
	)
	masq := []string{ipt, "-t", "nat", "-A", "POSTROUTING", "-s", "10.77.1.0/24", "-o", "rtr-pub", "-j", "MASQUERADE"}
	if randomPorts {
		masq = append(masq, "--random-fully")
	}
	for _, argv := range [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"}, // per namespace: the host's is untouched
		masq,
		{ipt, "-A", "FORWARD", "-i", "rtr-pub", "-o", "rtr-lan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{ipt, "-A", "FORWARD", "-i", "rtr-pub", "-o", "rtr-lan", "-j", "DROP"},
	} {
		if _, err := runCmd(ctx, nat.Rtr, argv...); err != nil {
			t.Fatalf("NAT router: %v", err)
		}
	}
	t.Logf("NAT: %s %s -> %s (NAT %s) -> %s %s", nat.Lan.Name, NATLanAddr, nat.Rtr.Name, NATRtrPub, nat.Pub.Name, NATPubAddr)
	return nat
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
