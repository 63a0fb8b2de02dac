package bridge

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
)

func TestMetricsObserveEnd(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	start := time.Now().Add(-10 * time.Second)
	answered := start.Add(2 * time.Second)
	m.observeEnd(CallInfo{StartedAt: start, AnsweredAt: &answered, Media: MediaInfo{
		Uplink:   &media.StreamSnapshot{Packets: 400, Lost: 4},
		Downlink: &media.StreamSnapshot{Packets: 399, Lost: 1},
	}})
	m.observeEnd(CallInfo{StartedAt: start}) // never answered: no media figures
	assert.Equal(t, 400.0, testutil.ToFloat64(m.packets.WithLabelValues("uplink")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.lost.WithLabelValues("downlink")))
	n, err := testutil.GatherAndCount(reg, "callbridge_call_setup_seconds", "callbridge_call_mos")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.trunkUp))
}
