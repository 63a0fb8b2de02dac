package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/record"
)

// twoTrunks configures trunk a (everything) and trunk b (+44 first, then
// a), b with identity options, as trunks: and routes: of the file.
func twoTrunks(a, b *siptest.UAS) func(*config.Config) {
	return func(c *config.Config) {
		c.SIP.Trunk = ""
		c.Trunks = []config.Trunk{
			{Name: "a", Address: "sip:" + a.Addr},
			{Name: "b", Address: "sip:" + b.Addr, Identity: config.TrunkIdentity{
				Header: "pai", Privacy: "id", FromHost: "carrier-b.example", UserPhone: true},
				Headers: map[string]string{"X-Account": "acct-{{.Seat}}"}},
		}
		c.Routes = []config.Route{
			{ID: "uk", Prefix: "+44", Trunks: []config.RouteTarget{{Trunk: "b"}, {Trunk: "a"}}},
			{ID: "rest", Prefix: "+", Trunks: []config.RouteTarget{{Trunk: "a"}, {Trunk: "b"}}},
		}
	}
}

func call(t *testing.T, b *bridge.Bridge, to string) (*bridge.Call, *states) {
	t.Helper()
	seat, _ := b.Config().Seat("s1")
	st := newStates()
	c, err := b.Originate(context.Background(), bridge.CallRequest{
		Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: to,
		Leg: &fakeLeg{}, OnState: st.on,
	})
	require.NoError(t, err)
	return c.(*bridge.Call), st
}

func TestRouteByDestination(t *testing.T) {
	a := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := siptest.Start(t, siptest.Script{RTPPort: 30002})
	br := newBridge(t, a, twoTrunks(a, b))

	c, st := call(t, br, "+442079460000")
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	c.Hangup()
	st.wait(t, bridge.StateEnded, 5*time.Second)
	info := c.Info()
	assert.Equal(t, "uk", info.Route)
	assert.Equal(t, "b", info.Trunk)
	require.Len(t, b.Requests(sip.INVITE), 1, "+44 goes to trunk b")
	assert.Empty(t, a.Requests(sip.INVITE))

	// Trunk b's identity options, as its INVITE arrived.
	inv := b.Requests(sip.INVITE)[0]
	assert.Equal(t, "<sip:+14155550100@carrier-b.example;user=phone>", inv.GetHeader("P-Asserted-Identity").Value())
	assert.Equal(t, "id", inv.GetHeader("Privacy").Value())
	assert.Equal(t, "acct-s1", inv.GetHeader("X-Account").Value())
	assert.Equal(t, "carrier-b.example", inv.From().Address.Host)
	assert.Equal(t, "+442079460000", inv.Recipient.User)
	up, _ := inv.Recipient.UriParams.Get("user")
	assert.Equal(t, "phone", up)

	c, st = call(t, br, "+14155550123")
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	c.Hangup()
	st.wait(t, bridge.StateEnded, 5*time.Second)
	assert.Equal(t, "a", c.Info().Trunk, "the rest goes to trunk a")
	inv = a.Requests(sip.INVITE)[0]
	assert.Nil(t, inv.GetHeader("P-Asserted-Identity"), "trunk a has no identity options")
	assert.Nil(t, inv.GetHeader("Privacy"))
}

func TestFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		aAnswers int
		failover bool
		status   string
	}{
		{"503 fails over", 503, true, record.StatusCompleted},
		{"500 fails over", 500, true, record.StatusCompleted},
		{"408 fails over", 408, true, record.StatusCompleted},
		{"486 does not", 486, false, record.StatusBusy},
		{"404 does not", 404, false, record.StatusFailed},
		{"603 does not", 603, false, record.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := siptest.Start(t, siptest.Script{Final: tc.aAnswers})
			b := siptest.Start(t, siptest.Script{RTPPort: 30002})
			br := newBridge(t, a, twoTrunks(a, b))
			c, st := call(t, br, "+14155550123")
			if tc.failover {
				st.wait(t, bridge.StateAnswered, 5*time.Second)
				c.Hangup()
			}
			end := st.wait(t, bridge.StateEnded, 5*time.Second)
			require.Equal(t, bridge.StateEnded, end.State)
			<-c.Done()
			info := c.Info()
			require.Len(t, a.Requests(sip.INVITE), 1)
			if !tc.failover {
				assert.Empty(t, b.Requests(sip.INVITE), "a final answer is not tried elsewhere")
				require.Len(t, info.Attempts, 1)
				assert.Equal(t, "final", info.Attempts[0].Result)
				assert.Equal(t, tc.aAnswers, end.Cause.SIPCode)
				assert.Equal(t, tc.status, info.Status)
				return
			}
			// One call, two INVITEs: same Call-ID, the next CSeq.
			invB := b.Requests(sip.INVITE)
			require.Len(t, invB, 1)
			invA := a.Requests(sip.INVITE)[0]
			assert.Equal(t, invA.CallID().Value(), invB[0].CallID().Value())
			assert.Greater(t, invB[0].CSeq().SeqNo, invA.CSeq().SeqNo)
			assert.Equal(t, "b", info.Trunk)
			require.Len(t, info.Attempts, 2)
			assert.Equal(t, "a", info.Attempts[0].Trunk)
			assert.Equal(t, "failover", info.Attempts[0].Result)
			assert.Equal(t, tc.aAnswers, info.Attempts[0].Status)
			assert.Equal(t, "b", info.Attempts[1].Trunk)
			assert.Equal(t, "answered", info.Attempts[1].Result)
			assert.Equal(t, tc.status, info.Status)
		})
	}
}

// A trunk over its max_calls is skipped for the next in the route.
func TestFullTrunkIsSkipped(t *testing.T) {
	a := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := siptest.Start(t, siptest.Script{RTPPort: 30002})
	br := newBridge(t, a, func(c *config.Config) {
		twoTrunks(a, b)(c)
		c.Trunks[0].MaxCalls = 1
		c.Seats[0].MaxCalls = 2
	})
	c1, st1 := call(t, br, "+14155550123")
	st1.wait(t, bridge.StateAnswered, 5*time.Second)
	c2, st2 := call(t, br, "+14155550124")
	st2.wait(t, bridge.StateAnswered, 5*time.Second)
	info := c2.Info()
	assert.Equal(t, "b", info.Trunk)
	require.Len(t, info.Attempts, 2)
	assert.Equal(t, record.Attempt{Trunk: "a", Result: "skipped", Reason: "full", StartedAt: info.Attempts[0].StartedAt}, info.Attempts[0])
	c1.Hangup()
	c2.Hangup()
	st1.wait(t, bridge.StateEnded, 5*time.Second)
	st2.wait(t, bridge.StateEnded, 5*time.Second)
}

// A trunk that does not answer OPTIONS is marked down and skipped; the
// call goes to the next trunk of its route at once.
func TestTrunkDownByOptionsIsSkipped(t *testing.T) {
	a := siptest.Silent(t)
	b := siptest.Start(t, siptest.Script{RTPPort: 30002})
	every := 50 * time.Millisecond
	br := newBridge(t, a, func(c *config.Config) {
		twoTrunks(a, b)(c)
		c.Trunks[0].OptionsInterval = &every
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); br.ProbeTrunks(ctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		for _, g := range br.TrunkGates() {
			if g.Name == "a" && g.Down {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "trunk a never marked down")

	c, st := call(t, br, "+14155550123")
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	info := c.Info()
	assert.Equal(t, "b", info.Trunk)
	require.Len(t, info.Attempts, 2)
	assert.Equal(t, "skipped", info.Attempts[0].Result)
	assert.Equal(t, "down", info.Attempts[0].Reason)
	assert.Len(t, b.Requests(sip.INVITE), 1)
	c.Hangup()
	st.wait(t, bridge.StateEnded, 5*time.Second)
}
