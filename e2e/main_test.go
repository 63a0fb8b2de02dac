//go:build e2e

package e2e

import (
	"os"
	"testing"

	"github.com/callbridge/callbridge/e2e/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.CleanupBuild()
	os.Exit(code)
}
