package bridge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/record"
)

// trunkSDP is an offer from the trunk with the given c= address, port and
// direction attribute (none when dir is "").
func trunkSDP(ip string, port int, dir string) []byte {
	s := fmt.Sprintf("v=0\r\no=- 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", time.Now().UnixNano()%1000000, ip, port)
	if dir != "" {
		s += "a=" + dir + "\r\n"
	}
	return []byte(s)
}

// Every way a far end holds a call (RFC 3264 §8.4, RFC 2543's c=0.0.0.0,
// a disabled stream) is answered, shown as a hold, and never ends the call
// at the media timeout; after the resume the timeout counts again.
func TestTrunkHoldFormsAreNeverTimedOut(t *testing.T) {
	for _, tc := range []struct {
		form     string
		sdp      []byte
		answer   string // in our answer
		dir      string // the far end's effective direction
		answerM0 bool   // our answer disables the stream too
	}{
		{"a=sendonly", trunkSDP("127.0.0.1", 30000, "sendonly"), "a=recvonly", "sendonly", false},
		{"a=recvonly", trunkSDP("127.0.0.1", 30000, "recvonly"), "a=sendonly", "recvonly", false},
		{"a=inactive", trunkSDP("127.0.0.1", 30000, "inactive"), "a=inactive", "inactive", false},
		{"c=0.0.0.0", trunkSDP("0.0.0.0", 30000, ""), "a=recvonly", "sendonly", false},
		{"port 0", trunkSDP("127.0.0.1", 0, ""), "a=inactive", "inactive", true},
	} {
		t.Run(tc.form, func(t *testing.T) {
			clk := clock.NewFake(time.Now())
			uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
			b := newBridge(t, uas, func(c *config.Config) {
				c.SIP.MediaTimeout = 30 * time.Second
				c.SIP.SessionExpires = 0
			}, bridge.WithClock(clk))
			st := newStates()
			c := place(t, b, st, nil)
			st.wait(t, bridge.StateAnswered, 5*time.Second)
			require.Eventually(t, func() bool { return clk.Timers() == 1 }, 5*time.Second, 5*time.Millisecond)
			callID := c.Info().SIPCallID

			res, err := uas.Send(callID, sip.INVITE, "application/sdp", tc.sdp)
			require.NoError(t, err)
			require.Equal(t, 200, res.StatusCode, "the hold offer is accepted")
			assert.Contains(t, string(res.Body()), tc.answer+"\r\n")
			if tc.answerM0 {
				assert.Contains(t, string(res.Body()), "m=audio 0 ")
			} else {
				assert.NotContains(t, string(res.Body()), "m=audio 0 ")
			}
			info := c.Info()
			assert.Equal(t, tc.form, info.Media.TrunkHold)
			assert.Contains(t, info.Timeline[len(info.Timeline)-1].Text, "on hold ("+tc.form+")")
			assert.Equal(t, tc.dir, info.Media.Direction)
			assert.Equal(t, "127.0.0.1:30000", info.Media.Remote, "RTP never goes to 0.0.0.0 or port 0")

			// Twice the media timeout on hold: the call stays up.
			for i := 0; i < 60; i++ {
				clk.Advance(time.Second)
			}
			require.Eventually(t, func() bool { return clk.Timers() == 1 }, 5*time.Second, 5*time.Millisecond)
			assert.Equal(t, bridge.StateAnswered, st.last(), "a hold is not a media timeout")

			// Resume: the timeout counts from here, and fires when no RTP comes.
			res, err = uas.Send(callID, sip.INVITE, "application/sdp", trunkSDP("127.0.0.1", 30000, "sendrecv"))
			require.NoError(t, err)
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "", c.Info().Media.TrunkHold)
			for i := 0; i < 25; i++ {
				clk.Advance(time.Second)
				require.Equal(t, bridge.StateAnswered, st.last(), "ended %d s after the resume", i+1)
			}
			require.Eventually(t, func() bool {
				clk.Advance(time.Second)
				return st.last() == bridge.StateEnded
			}, 5*time.Second, 10*time.Millisecond)
			end := st.wait(t, bridge.StateEnded, 5*time.Second)
			assert.Equal(t, record.ByBridge, end.Cause.By)
			assert.Equal(t, "No audio from the trunk", end.Cause.Reason)
		})
	}
}
