package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// ChromiumPath is Debian's Chromium, the browser the e2e scripts drive.
const ChromiumPath = "/usr/bin/chromium"

// BrowserRun describes one run of a Node/Playwright script from e2e/browser.
type BrowserRun struct {
	// NS is the namespace to run in (Chromium needs a non-loopback address
	// and a default route to gather ICE candidates: use NewSealedNetns);
	// nil = root.
	NS *Netns
	// Script is the script's path, absolute or relative to e2e/browser,
	// e.g. "call.js"; empty to run node with NodeArgs alone. Scripts outside
	// e2e/browser find its packages through NODE_PATH (CommonJS require).
	Script string
	// NodeArgs go to node before the script, e.g. ["--test", "test/"].
	NodeArgs []string
	// Args are passed to the script.
	Args []string
	// Progress, when set, gets each line of the script's output as it
	// comes (e.g. to log a long suite's results while it runs).
	Progress func(line string)
	// Env adds environment variables for the script.
	Env map[string]string
	// Timeout bounds the run; default 2 minutes.
	Timeout time.Duration
}

// ScriptPath is the absolute path of a script shipped in e2e/harness/chromium,
// e.g. ScriptPath(t, "widget_call.cjs").
func ScriptPath(t testing.TB, name string) string {
	return filepath.Join(mustModuleRoot(t), "e2e", "harness", "chromium", name)
}

// RunBrowser runs a Node script from e2e/browser (after `npm ci` there) to
// completion and returns its combined output and its exit error. The script
// gets CHROMIUM_PATH, E2E_ARTIFACTS (this test's artifacts directory, for
// screenshots; may be empty) and E2E_TMP (a scratch directory) in its
// environment besides run.Env. The output is printed if the test fails.
func RunBrowser(t testing.TB, run BrowserRun) (string, error) {
	t.Helper()
	node := LookPath(t, "node")
	LookPath(t, "chromium")
	dir := filepath.Join(mustModuleRoot(t), "e2e", "browser")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("e2e/browser/node_modules missing: run `npm ci` in e2e/browser (.ci/run does): %v", err)
	}
	if run.Timeout == 0 {
		run.Timeout = 2 * time.Minute
	}
	env := map[string]string{
		"CHROMIUM_PATH": ChromiumPath,
		"E2E_ARTIFACTS": TestArtifactsDir(t),
		"E2E_TMP":       t.TempDir(),
		"NODE_PATH":     filepath.Join(dir, "node_modules"),
	}
	for k, v := range run.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// env(1) carries the variables through `ip netns exec`.
	argv := []string{"env"}
	for _, k := range keys {
		argv = append(argv, k+"="+env[k])
	}
	argv = append(argv, node)
	argv = append(argv, run.NodeArgs...)
	if run.Script != "" {
		script := run.Script
		if !filepath.IsAbs(script) {
			script = filepath.Join(dir, script)
		}
		argv = append(argv, script)
	}
	argv = append(argv, run.Args...)
	ctx, cancel := context.WithTimeout(context.Background(), run.Timeout)
	defer cancel()
	out, err := runCmdTee(ctx, run.NS, dir, run.Progress, argv...)
	name := strings.TrimSpace(run.Script + " " + strings.Join(run.NodeArgs, " "))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser %s output:\n%s", name, out)
		}
	})
	if err != nil {
		return out, fmt.Errorf("browser %s in %s: %w", name, run.NS, err)
	}
	return out, nil
}
