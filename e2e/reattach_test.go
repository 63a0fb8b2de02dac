//go:build e2e

package e2e

// Calls that outlive the page, in real headless Chromium against the real
// bridge and its demo SIP trunk, inside a sealed namespace
// (e2e/browser/reattach).

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

func TestBrowserReattach(t *testing.T) {
	bin := harness.BuildBridge(t)
	ns := harness.NewSealedNetns(t)
	out, err := harness.RunBrowser(t, harness.BrowserRun{
		NS:       ns,
		NodeArgs: []string{"--test", "--test-concurrency=1", "--test-timeout=300000", "reattach/"},
		Env:      map[string]string{"CALLBRIDGE_BIN": bin},
		Timeout:  10 * time.Minute,
	})
	require.NoError(t, err, "reattach browser tests:\n%s", out)
}
