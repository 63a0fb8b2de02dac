package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge/siptest"
)

// Requests to the trunk leave from the socket the bridge listens on, so
// the trunk's responses and in-dialog requests (sent to the Via and Contact
// address, RFC 3261 §18.2.2 and RFC 3581) come back to that socket, and the
// bridge opens no other UDP socket (none on 0.0.0.0 when SIP listens on
// 127.0.0.1).
func TestRequestsLeaveFromTheListeningSocket(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{Final: 486})
	b := newBridge(t, uas, nil)
	listen := strings.TrimPrefix(b.Config().SIP.Listen, "udp:")
	st := newStates()
	place(t, b, st, nil)
	invites := uas.WaitRequests(sip.INVITE, 1, 5*time.Second)
	require.Len(t, invites, 1)
	assert.Equal(t, listen, invites[0].Source(), "source address of the INVITE at the trunk")
	assert.Equal(t, 486, st.wait(t, "ended", 5*time.Second).Cause.SIPCode)
}
