package signaling_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// A seat's sessions are capped; the refused hello says why.
func TestSessionsPerSeat(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Limits.SessionsPerSeat = 2 })
	for i := 0; i < 2; i++ {
		c, err := sigclient.Dial(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sigclient.Options{})
		require.NoError(t, err, "session %d", i)
		t.Cleanup(c.Close)
	}
	ws, _, err := dialRaw(t, e.wsURL, "")
	require.NoError(t, err)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "hello", "token": e.token(t)}))
	var m map[string]any
	require.NoError(t, ws.ReadJSON(&m))
	assert.Equal(t, "too_many_sessions", m["code"], m["message"])
	assert.Equal(t, 4429, closeCode(t, ws))
}

// A session's trickled candidates are capped, and addresses the bridge
// must not send STUN to are refused.
func TestCandidateLimits(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Limits.CandidatesPerSession = 6 })
	c, err := sigclient.Dial(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sigclient.Options{})
	require.NoError(t, err)
	defer c.Close()
	send := func(addr string, port int) {
		t.Helper()
		cand := fmt.Sprintf("candidate:1 1 udp 2130706431 %s %d typ host", addr, port)
		require.NoError(t, c.Send(map[string]any{"type": "candidate", "candidate": map[string]any{"candidate": cand, "sdpMid": "0"}}))
	}
	for _, bad := range []string{"169.254.10.1", "fe80::1", "224.0.0.1", "0.0.0.0", "evil.example.com"} {
		send(bad, 9)
		er, err := c.NextError(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, "candidate_refused", er.Code, "%s: %s", bad, er.Message)
	}
	// Loopback is allowed with ice_interfaces on loopback only (tests);
	// the refused candidates counted toward the cap, so the 7th is over it.
	send("127.0.0.1", 9)
	send("127.0.0.1", 10)
	er, err := c.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "too_many_candidates", er.Code, er.Message)
}

// In-call requests (hold, dtmf) are rate limited per session, and a
// session may attach stats only to its own calls, within size and rate.
func TestInCallLimits(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Limits.RequestsPerSecond = 2
		c.Limits.StatsPerMinute = 4
		c.Limits.StatsMaxBytes = 2048
	})
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "r", "to": "+15550100002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State)
	callID := ss[0].CallID

	t.Run("another session cannot attach stats to the call", func(t *testing.T) {
		other, err := sigclient.Dial(ctxT(t, 5*time.Second), e.wsURL, e.token(t), sigclient.Options{})
		require.NoError(t, err)
		defer other.Close()
		require.NoError(t, other.Send(map[string]any{"type": "stats", "call_id": callID, "inbound": map[string]any{"packetsReceived": 666}}))
		er, err := other.NextError(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, "unknown_call", er.Code)
	})
	t.Run("stats too large", func(t *testing.T) {
		require.NoError(t, c.Send(map[string]any{"type": "stats", "call_id": callID, "pad": strings.Repeat("x", 4096)}))
		er, err := c.NextError(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, "stats_too_large", er.Code)
	})
	t.Run("stats rate", func(t *testing.T) {
		// A burst of a quarter minute's uploads (one), then refused.
		for i := 0; i < 3; i++ {
			require.NoError(t, c.Send(map[string]any{"type": "stats", "call_id": callID, "inbound": map[string]any{"packetsReceived": i}}))
		}
		for i := 0; i < 2; i++ {
			er, err := c.NextError(ctxT(t, 5*time.Second))
			require.NoError(t, err)
			assert.Equal(t, "stats_rate_limited", er.Code)
		}
	})
	t.Run("dtmf and hold rate", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			require.NoError(t, c.Send(map[string]any{"type": "dtmf", "call_id": callID, "digits": "1", "request_id": fmt.Sprint(i)}))
		}
		er, err := c.NextError(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, "request_rate_limited", er.Code, er.Message)
	})
}
