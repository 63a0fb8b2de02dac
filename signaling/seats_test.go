package signaling_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
