package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/demotrunk"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/media/mediatest"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// talking starts a client's 1 kHz Opus tone; it stops with the test.
func talking(t *testing.T, c *sigclient.Client) {
	t.Helper()
	opus := mediatest.OpusPackets(t, "tone1k_silknb.opus")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.StreamOpus(ctx, opus, 20*time.Millisecond) }()
	t.Cleanup(func() { stop(); <-done })
}

// hearsTrunk waits for a second of the trunk's tone at the client, counted
// from now.
func hearsTrunk(t *testing.T, c *sigclient.Client) {
	t.Helper()
	c.ResetReceived()
	require.Eventually(t, func() bool { pcm, _, _ := c.Received(); return len(pcm) >= 8000 }, 10*time.Second, 20*time.Millisecond, "downlink audio at the client")
	pcm, _, _ := c.Received()
	assert.Greater(t, mediatest.ToneAmplitude(pcm[len(pcm)-8000:], 8000, trunkTone), 0.1, "trunk tone at the client")
}

// trunkHears waits for a second of the client's tone at the trunk, counted
// from now.
func (e *env) trunkHears(t *testing.T) demotrunk.CallRecord {
	t.Helper()
	rec, err := e.trunk.WaitCall(ctxT(t, 5*time.Second), func(r demotrunk.CallRecord) bool { return len(r.Received) > 0 })
	require.NoError(t, err)
	from := len(rec.Received)
	rec, err = e.trunk.WaitCall(ctxT(t, 10*time.Second), func(r demotrunk.CallRecord) bool { return len(r.Received) >= from+8000 })
	require.NoError(t, err)
	up := rec.Received[len(rec.Received)-8000:]
	assert.Greater(t, mediatest.ToneAmplitude(up, 8000, uplinkTone), 0.1, "client tone at the trunk")
	return rec
}

// answeredCall places a call to the tone number and waits for answered.
func answeredCall(t *testing.T, c *sigclient.Client) string {
	t.Helper()
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "r1", "to": "+1 555 010 0002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State, "states: %v", names(ss))
	return ss[0].CallID
}

// leave is a page going away: it says so, then its socket and peer
// connection close.
func leave(t *testing.T, c *sigclient.Client) {
	t.Helper()
	require.NoError(t, c.Send(map[string]any{"type": "leaving"}))
	c.Close()
}

// TestReloadReattachesTheCall: a page reloads during an answered call. The
// new page resumes the session with its resume credential, makes a new
// peer connection and gets the call back: tones both ways, the same SIP
// dialog (no BYE, one INVITE transaction), one call.completed at the end
// and the gap on the call's record.
func TestReloadReattachesTheCall(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.WebRTC.PageGrace = 20 * time.Second })
	first := e.client(t)
	talking(t, first)
	callID := answeredCall(t, first)
	hearsTrunk(t, first)
	before := e.trunkHears(t)
	invites := len(before.Invites)

	require.NoError(t, first.Send(map[string]any{"type": "hold", "request_id": "h1", "call_id": callID, "hold": true}))
	_, err := first.Next(ctxT(t, 5*time.Second), "held")
	require.NoError(t, err)
	require.NoError(t, first.Send(map[string]any{"type": "hold", "request_id": "h2", "call_id": callID, "hold": false}))
	_, err = first.Next(ctxT(t, 5*time.Second), "held")
	require.NoError(t, err)

	sessionID, cred := first.Ready.SessionID, first.ResumeToken()
	leave(t, first)

	second, resumed, err := sigclient.Resume(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sessionID, cred, true, sigclient.Options{ICEIPs: []string{"127.0.0.1"}})
	require.NoError(t, err)
	t.Cleanup(second.Close)
	assert.Equal(t, []string{callID}, resumed.Calls)
	require.Len(t, resumed.CallStates, 1)
	assert.Equal(t, "answered", resumed.CallStates[0].State)
	require.NotNil(t, resumed.CallStates[0].AnsweredAt, "the page restarts its timer from answered_at")
	assert.NotEmpty(t, resumed.ResumeToken)
	assert.NotEqual(t, cred, resumed.ResumeToken, "a fresh credential for the next resume")

	require.NoError(t, second.Connect(ctxT(t, 10*time.Second)))
	talking(t, second)
	hearsTrunk(t, second)
	after := e.trunkHears(t)
	assert.Empty(t, after.ByeFrom, "the call was never ended upstream")
	assert.Len(t, after.Invites, invites, "no new INVITE toward the trunk")

	call, ok := e.bridge.Call(callID)
	require.True(t, ok)
	info := call.Info()
	require.Len(t, info.Reattaches, 1)
	// The old page's "leaving" and the new page's resume race on two
	// sockets: whichever the session reads first detaches the leg.
	assert.Contains(t, []string{"page left", "page reloaded"}, info.Reattaches[0].Reason)
	assert.False(t, info.Reattaches[0].AttachedAt.IsZero())
	var browserEvents []string
	for _, ev := range info.Timeline {
		if ev.Kind == "browser" {
			browserEvents = append(browserEvents, ev.Text)
		}
	}
	require.Len(t, browserEvents, 2, "the stats page's timeline shows the leg leaving and coming back: %v", info.Timeline)
	assert.Contains(t, browserEvents[0], info.Reattaches[0].Reason)
	assert.Contains(t, browserEvents[1], "attached again after")

	require.NoError(t, second.Send(map[string]any{"type": "hangup", "call_id": callID}))
	end := states(t, second, "ended")
	assert.Equal(t, "agent", end[len(end)-1].Cause.By)
	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	require.NoError(t, h.sigErr)
	var body struct {
		Call struct {
			CallID string `json:"call_id"`
			Status string `json:"status"`
		} `json:"call"`
	}
	require.NoError(t, json.Unmarshal(h.body, &body))
	assert.Equal(t, callID, body.Call.CallID)
	assert.Equal(t, "completed", body.Call.Status)
	e.hooks.mu.Lock()
	completed := 0
	for _, ev := range e.hooks.events {
		if ev.event.Type == record.TypeCompleted {
			completed++
		}
	}
	e.hooks.mu.Unlock()
	assert.Equal(t, 1, completed, "one call, one record")
}

// TestResumeCredential: the credential is single use and bound to the
// session's seat; another seat's token cannot resume the session.
func TestResumeCredential(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Seats = append(c.Seats, config.Seat{ID: "agent-8", SIPUsername: "agent8", SIPPassword: "x", CallerIDs: []string{"+14155550199"}, Country: "US"})
	})
	c, err := sigclient.Dial(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sigclient.Options{})
	require.NoError(t, err)
	sessionID, cred := c.Ready.SessionID, c.ResumeToken()
	require.NotEmpty(t, cred, "ready carries a resume credential")
	c.Close()

	other, err := auth.Mint([]byte(e.cfg.Auth.TokenSecret), "agent-8", time.Hour, nil)
	require.NoError(t, err)
	_, _, err = sigclient.Resume(ctxT(t, 5*time.Second), e.wsURL, other, sessionID, cred, false, sigclient.Options{})
	var re *sigclient.ResumeError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "session_not_found", re.Code, "another seat's token is refused")

	_, _, err = sigclient.Resume(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sessionID, "", false, sigclient.Options{})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "unauthorized", re.Code, "no credential, no resume")

	back, _, err := sigclient.Resume(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sessionID, cred, false, sigclient.Options{})
	require.NoError(t, err)
	back.Close()

	_, _, err = sigclient.Resume(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sessionID, cred, false, sigclient.Options{})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "unauthorized", re.Code, "a credential is spent by its first use")
}

// TestPageGoneEndsTheCall: a page that does not come back within the page
// grace ends its call, at the grace on the session's clock and not
// before: BYE upstream, cause "Browser page gone".
func TestPageGoneEndsTheCall(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnvClock(t, func(c *config.Config) { c.WebRTC.PageGrace = 30 * time.Second }, clk)
	c := e.client(t)
	talking(t, c)
	callID := answeredCall(t, c)
	leave(t, c)
	require.Eventually(t, func() bool { return clk.Timers() == 1 }, 10*time.Second, 10*time.Millisecond, "the page grace runs")
	clk.Advance(29 * time.Second)
	_, err := e.trunk.WaitCall(ctxT(t, 500*time.Millisecond), func(r demotrunk.CallRecord) bool { return r.ByeFrom != "" })
	require.Error(t, err, "no BYE before the page grace ends")
	clk.Advance(time.Second)
	rec, err := e.trunk.WaitCall(ctxT(t, 10*time.Second), func(r demotrunk.CallRecord) bool { return r.ByeFrom != "" })
	require.NoError(t, err)
	assert.Equal(t, demotrunk.ByeCaller, rec.ByeFrom)
	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	var body struct {
		Call struct {
			CallID string       `json:"call_id"`
			Hangup record.Cause `json:"hangup"`
		} `json:"call"`
	}
	require.NoError(t, json.Unmarshal(h.body, &body))
	assert.Equal(t, callID, body.Call.CallID)
	assert.Contains(t, body.Call.Hangup.Reason, "page gone")
}

// TestTakeMovesTheCall: a second tab of the same seat moves the call to
// itself; the tones follow, the first tab is told, and the second can hang
// up.
func TestTakeMovesTheCall(t *testing.T) {
	e := newEnv(t, nil)
	first := e.client(t)
	talking(t, first)
	callID := answeredCall(t, first)
	hearsTrunk(t, first)

	second := e.client(t)
	talking(t, second)
	require.NoError(t, second.Send(map[string]any{"type": "take", "call_id": callID}))
	_, err := first.Next(ctxT(t, 5*time.Second), "call_moved")
	require.NoError(t, err)
	cs, err := second.NextState(ctxT(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "answered", cs.State)
	hearsTrunk(t, second)
	rec := e.trunkHears(t)
	assert.Empty(t, rec.ByeFrom)

	require.NoError(t, second.Send(map[string]any{"type": "hangup", "call_id": callID}))
	end := states(t, second, "ended")
	assert.Equal(t, "ended", end[len(end)-1].State)
}

// TestOtherTabControlsTheCall: another session of the seat (another tab)
// may hang up a call it does not own.
func TestOtherTabControlsTheCall(t *testing.T) {
	e := newEnv(t, nil)
	first := e.client(t)
	callID := answeredCall(t, first)
	second, err := sigclient.Dial(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sigclient.Options{})
	require.NoError(t, err)
	t.Cleanup(second.Close)
	require.NoError(t, second.Send(map[string]any{"type": "hangup", "call_id": callID}))
	end := states(t, first, "ended")
	assert.Equal(t, "agent", end[len(end)-1].Cause.By)
}

// TestICERestartKeepsTheCall: a network change restarts ICE on the same
// session and peer connection; the call and its audio go on.
func TestICERestartKeepsTheCall(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	talking(t, c)
	callID := answeredCall(t, c)
	hearsTrunk(t, c)
	before := e.trunkHears(t)
	oldUfrag := iceUfrag(c.AnswerSDP())

	require.NoError(t, c.RestartICE(ctxT(t, 10*time.Second)))
	require.NotEqual(t, oldUfrag, iceUfrag(c.AnswerSDP()), "the answer has new ICE credentials")
	hearsTrunk(t, c)
	after := e.trunkHears(t)
	assert.Empty(t, after.ByeFrom)
	assert.Len(t, after.Invites, len(before.Invites), "no new INVITE toward the trunk")
	call, ok := e.bridge.Call(callID)
	require.True(t, ok)
	assert.Equal(t, "answered", call.State())
}

func iceUfrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
