package signaling_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/signaling"
)

// A seat disabled or deleted while its agent is on a call loses the
// session: an error names why, the call ends on the trunk, the socket
// closes.
func TestCloseSeat(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	other := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "r1", "to": "+1 555 010 0001"}))
	states(t, c, "answered")
	require.Len(t, e.sig.Sessions(), 2)

	assert.Equal(t, 0, e.sig.CloseSeat("someone-else", "disabled"))
	assert.Equal(t, 2, e.sig.CloseSeat(seatID, "disabled"), "both of the seat's sessions")

	em, err := c.NextError(ctxT(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, signaling.CodeSeatUnavailable, em.Code)
	assert.Contains(t, em.Message, "disabled")
	for {
		if _, err := c.Next(ctxT(t, 10*time.Second), "no-such-type"); err != nil {
			assert.ErrorContains(t, err, "socket closed")
			break
		}
	}
	_, err = other.NextError(ctxT(t, 10*time.Second))
	require.NoError(t, err)

	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	require.NoError(t, h.sigErr)
	assert.Empty(t, e.sig.Sessions())
}

// Local presence: without a `from`, a UK number is called from the seat's
// UK DID and anything else from its default; caller_id previews the
// choice and says why.
func TestLocalPresence(t *testing.T) {
	const ukDID = "+442071838750"
	e := newEnv(t, func(c *config.Config) {
		c.Seats[0].CallerIDs = []string{callerID, ukDID}
		c.Dialing.AllowedCountries = nil
	})
	c := e.client(t)
	ask := func(to string) map[string]any {
		t.Helper()
		require.NoError(t, c.Send(map[string]any{"type": "caller_id", "request_id": "q", "to": to}))
		m, err := c.Next(ctxT(t, 10*time.Second), "caller_id", "error")
		require.NoError(t, err)
		require.Equal(t, "caller_id", m.Type, "%s", m.Raw)
		var out map[string]any
		require.NoError(t, m.Decode(&out))
		return out
	}
	uk := ask("+44 20 7946 0000")
	assert.Equal(t, ukDID, uk["from"])
	assert.Equal(t, "same_area", uk["why"])
	assert.Equal(t, "+442079460000", uk["to"])
	assert.Equal(t, "q", uk["request_id"])
	mobile := ask("+44 7700 900123")
	assert.Equal(t, ukDID, mobile["from"])
	assert.Equal(t, "same_country", mobile["why"])
	fr := ask("+33 1 42 68 53 00")
	assert.Equal(t, callerID, fr["from"])
	assert.Equal(t, "default", fr["why"])

	require.NoError(t, c.Send(map[string]any{"type": "caller_id", "to": "not a number"}))
	em, err := c.NextError(ctxT(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "invalid_number", em.Code)

	// The call itself presents the same choice in its INVITE's From.
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "uk", "to": "+44 20 7946 0000"}))
	ss := states(t, c, "dialing")
	assert.Equal(t, ukDID, ss[0].From)
	states(t, c, "ended")
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "us", "to": "+1 555 010 0003"}))
	ss = states(t, c, "dialing")
	assert.Equal(t, callerID, ss[0].From)
	states(t, c, "ended")
	var froms []string
	for _, r := range e.trunk.Calls() {
		froms = append(froms, r.FromUser)
	}
	assert.Equal(t, []string{ukDID, callerID}, froms, "From users of the INVITEs the trunk got")
}
