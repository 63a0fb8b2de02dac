package signaling_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package leaves no goroutine behind: sessions, peers
// and the calls they place all wait for what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
