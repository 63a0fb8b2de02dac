//go:build e2e

package e2e

// The softphone widget's own browser suite (e2e/browser, node --test) in
// real headless Chromium, run inside a sealed namespace: Chromium's ICE
// candidates are then 10.99.0.1, and nothing can leave the host.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

// tapResult matches a test's result line in node --test's TAP output.
var tapResult = regexp.MustCompile(`^\s*(not )?ok \d+ - `)

func TestBrowserWidgetSuite(t *testing.T) {
	bin := harness.BuildBridge(t) // its real-bridge tests reuse this build
	ns := harness.NewSealedNetns(t)
	out, err := harness.RunBrowser(t, harness.BrowserRun{
		NS: ns,
		// The timeout bounds each test file as a whole too (node runs a file
		// as one test): ui.test.js and package.test.js need minutes on a
		// loaded machine.
		NodeArgs: []string{"--test", "--test-concurrency=1", "--test-timeout=480000", "test/"},
		Env:      map[string]string{"CALLBRIDGE_BIN": bin},
		Timeout:  20 * time.Minute,
		// One line per finished test while the suite runs (node's TAP
		// output): .ci/run shows these as progress.
		Progress: func(line string) {
			if tapResult.MatchString(line) {
				t.Logf("widget suite: %s", strings.TrimSpace(line))
			}
		},
	})
	require.NoError(t, err, "widget browser suite:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("widget browser suite summary:\n%s", strings.Join(lines[max(0, len(lines)-9):], "\n"))
}
