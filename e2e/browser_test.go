//go:build e2e

package e2e

// The softphone widget's own browser suite (e2e/browser, node --test) in
// real headless Chromium, run inside a sealed namespace: Chromium's ICE
// candidates are then 10.99.0.1, and nothing can leave the host.

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

func TestBrowserWidgetSuite(t *testing.T) {
	bin := harness.BuildBridge(t) // its real-bridge tests reuse this build
	ns := harness.NewSealedNetns(t)
	out, err := harness.RunBrowser(t, harness.BrowserRun{
		NS:       ns,
		NodeArgs: []string{"--test", "--test-concurrency=1", "--test-timeout=480000", "test/"},
		Env:      map[string]string{"CALLBRIDGE_BIN": bin},
		Timeout:  20 * time.Minute,
	})
	require.NoError(t, err, "widget browser suite:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("widget browser suite summary:\n%s", strings.Join(lines[max(0, len(lines)-9):], "\n"))
}
