package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// bridgeBuild is the one build of ./cmd/bridge per test binary.
var bridgeBuild struct {
	once sync.Once
	dir  string // holds the binary; set by once
	path string // the binary; set by once
	err  error  // build failure; set by once
}

// BuildBridge builds ./cmd/bridge once per test binary (go build, so the
// build cache makes it quick) and returns the binary's path. The binary lives
// in a directory under os.TempDir that the test binary's TestMain may remove
// with CleanupBuild.
func BuildBridge(t testing.TB) string {
	t.Helper()
	bridgeBuild.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			bridgeBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "callbridge-e2e-bin-")
		if err != nil {
			bridgeBuild.err = err
			return
		}
		bridgeBuild.dir = dir
		bin := filepath.Join(dir, "bridge")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/bridge")
		cmd.Dir = root
		// Static, as in the container image (Dockerfile).
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			bridgeBuild.err = fmt.Errorf("go build ./cmd/bridge: %w\n%s", err, out)
			return
		}
		bridgeBuild.path = bin
	})
	if bridgeBuild.err != nil {
		t.Fatal(bridgeBuild.err)
	}
	return bridgeBuild.path
}

// CleanupBuild removes the bridge binary built by BuildBridge; call it from
// TestMain after m.Run.
func CleanupBuild() {
	if bridgeBuild.dir != "" {
		_ = os.RemoveAll(bridgeBuild.dir)
	}
}

// Bridge is a running bridge binary.
type Bridge struct {
	*Process
	// HTTPAddr is host:port of its HTTP listener (in its namespace).
	HTTPAddr string
	// ConfigPath is the config file it runs with ("" in demo mode).
	ConfigPath string
	ns         *Netns
}

// BridgeOption adjusts how StartBridge runs the binary.
type BridgeOption func(*bridgeOptions)

type bridgeOptions struct {
	ns       *Netns
	env      []string
	args     []string
	httpAddr string
}

// BridgeInNetns runs the bridge inside ns.
func BridgeInNetns(ns *Netns) BridgeOption { return func(o *bridgeOptions) { o.ns = ns } }

// BridgeEnv adds an environment variable (KEY=VALUE).
func BridgeEnv(kv ...string) BridgeOption {
	return func(o *bridgeOptions) { o.env = append(o.env, kv...) }
}

// BridgeArgs adds command-line arguments after --config.
func BridgeArgs(args ...string) BridgeOption {
	return func(o *bridgeOptions) { o.args = append(o.args, args...) }
}

// BridgeHTTPAddr names the HTTP address to wait for when the config does
// not say (demo mode, or an address set through the environment).
func BridgeHTTPAddr(addr string) BridgeOption { return func(o *bridgeOptions) { o.httpAddr = addr } }

// StartBridge builds (once) and starts the bridge with cfgYAML as its
// --config file, waits until its HTTP port listens, and stops it in
// t.Cleanup; its log is printed if the test fails. An empty cfgYAML starts
// demo mode (no --config).
func StartBridge(t testing.TB, cfgYAML string, opts ...BridgeOption) *Bridge {
	t.Helper()
	var o bridgeOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := BuildBridge(t)
	dir := filepath.Join(t.TempDir(), "bridge")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var args []string
	cfgPath := ""
	if cfgYAML != "" {
		cfgPath = filepath.Join(dir, "bridge.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", cfgPath)
		if o.httpAddr == "" {
			var c struct {
				HTTP struct {
					Listen string `yaml:"listen"`
				} `yaml:"http"`
			}
			if err := yaml.Unmarshal([]byte(cfgYAML), &c); err != nil {
				t.Fatalf("bridge config: %v", err)
			}
			o.httpAddr = c.HTTP.Listen
		}
	}
	args = append(args, o.args...)
	p := startProcess(t, o.ns, "bridge", dir, o.env, bin, args...)
	b := &Bridge{Process: p, HTTPAddr: o.httpAddr, ConfigPath: cfgPath, ns: o.ns}
	if o.httpAddr == "" {
		t.Log("bridge: no HTTP address known; not waiting for it")
		return b
	}
	_, portStr, err := net.SplitHostPort(o.httpAddr)
	if err != nil {
		t.Fatalf("bridge http address %q: %v", o.httpAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port == 0 {
		t.Fatalf("bridge http address %q: give a fixed port (FreeTCPPort)", o.httpAddr)
	}
	if err := p.waitPort("tcp", port); err != nil {
		t.Fatal(err)
	}
	return b
}

// URL is the bridge's base HTTP URL, e.g. "http://127.0.0.1:8080".
func (b *Bridge) URL() string { return "http://" + b.HTTPAddr }

// WSURL is the bridge's signaling WebSocket URL.
func (b *Bridge) WSURL() string { return "ws://" + b.HTTPAddr + "/v1/ws" }

// HTTPClient is an HTTP client whose connections are made in the bridge's
// namespace.
func (b *Bridge) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: b.ns.DialContext},
	}
}

// DialContext dials from the bridge's namespace (for WebSocket dialers).
func (b *Bridge) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return b.ns.DialContext(ctx, network, addr)
}
