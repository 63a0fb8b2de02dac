package bridge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bridge's Prometheus series. Media code never touches
// them; calls update them at state changes.
type Metrics struct {
	callsStarted prometheus.Counter
	callsActive  prometheus.Gauge
	callsEnded   *prometheus.CounterVec
	trunkUp      prometheus.Gauge
}

// NewMetrics creates the series and registers them with reg (nil = none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		callsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "calls_started_total", Help: "Calls whose INVITE was attempted.",
		}),
		callsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "callbridge", Name: "calls_active", Help: "Calls in progress.",
		}),
		callsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "calls_ended_total", Help: "Calls ended, by webhook status.",
		}, []string{"status"}),
		trunkUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "callbridge", Name: "trunk_up", Help: "1 while the trunk answers OPTIONS probes (or is not probed).",
		}),
	}
	m.trunkUp.Set(1)
	if reg != nil {
		reg.MustRegister(m.callsStarted, m.callsActive, m.callsEnded, m.trunkUp)
	}
	return m
}
