package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package leaves no goroutine behind: calls, legs and
// media sessions all wait for what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
