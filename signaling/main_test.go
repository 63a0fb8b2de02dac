package signaling_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package leaves no goroutine of the bridge behind:
// sessions, peers and the calls they place all wait for what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// sipgo's transaction layer resends a final response's ACK
		// handling and reads client sockets on its own timers, a moment
		// past its user agent's Close: sipgo's goroutines, not ours.
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*ServerTx).ackSendAsync"),
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*ServerTx).ackSend"),
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"),
	)
}
