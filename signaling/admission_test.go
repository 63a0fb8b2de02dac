package signaling_test

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/admission"
	"github.com/callbridge/callbridge/bridge"
)

// A bridge without headroom refuses new calls with too_busy before any
// INVITE, and takes them again once it has recovered.
func TestCallRefusedWhenBusy(t *testing.T) {
	var cpu time.Duration
	at := time.Unix(1000, 0)
	src := func() admission.Sample {
		return admission.Sample{At: at, CPU: cpu, Lats: &metrics.Float64Histogram{}}
	}
	mon := admission.New(admission.Config{MaxCPU: 0.8}, src)
	load := func(cores float64) admission.Headroom { // one second at this load
		at = at.Add(time.Second)
		cpu += time.Duration(cores * float64(time.Second) * float64(runtime.GOMAXPROCS(0)))
		return mon.Update()
	}
	e := newEnv(t, nil, bridge.WithAdmission(mon.Admit))
	c := e.client(t)

	load(0.95)
	require.True(t, load(0.95).Busy)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "busy", "to": "+15550100002"}))
	er, err := c.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "too_busy", er.Code, er.Message)
	assert.Equal(t, "busy", er.RequestID)
	assert.Empty(t, e.trunk.Calls(), "a refused call sends no INVITE")

	require.False(t, load(0.2).Busy)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "ok", "to": "+15550100002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": ss[0].CallID}))
	states(t, c, "ended")
	assert.Len(t, e.trunk.Calls(), 1)
}
