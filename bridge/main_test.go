package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package leaves no goroutine of the bridge behind:
// calls, legs and media sessions all wait for what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A client connection sipgo opens for a test's scripted trunk may
		// close a moment after its user agent: sipgo's, not the bridge's.
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"),
	)
}
