package signaling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
)

// A seat's calls on other nodes count toward its max_calls (2 here); when
// they cannot be counted, this node's own calls still are.
func TestSeatCallsOnOtherNodesCount(t *testing.T) {
	var elsewhere atomic.Int64
	var broken atomic.Bool
	count := func(_ context.Context, seat string) (int, error) {
		if broken.Load() {
			return 0, errors.New("store unreachable")
		}
		return int(elsewhere.Load()), nil
	}
	e := newEnv(t, nil, bridge.WithSeatCallsElsewhere(count))
	c := e.client(t)

	elsewhere.Store(2)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "full", "to": "+15550100002"}))
	er, err := c.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "too_many_calls", er.Code, er.Message)
	assert.Empty(t, e.trunk.Calls(), "a refused call sends no INVITE")

	broken.Store(true) // still 2 elsewhere, but unknown: this node's 0 count
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "ok", "to": "+15550100002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": ss[0].CallID}))
	states(t, c, "ended")
}
