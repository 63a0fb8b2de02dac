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
	setup        prometheus.Histogram
	packets      *prometheus.CounterVec
	lost         *prometheus.CounterVec
	mos          prometheus.Histogram
	sipDropped   prometheus.Counter
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
	m.setup = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "callbridge", Name: "call_setup_seconds", Help: "From the agent's click to the answer, for answered calls.",
		Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60},
	})
	m.packets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "callbridge", Name: "rtp_packets_total", Help: "RTP packets received per direction (uplink = browser to bridge, downlink = trunk to bridge), counted at call end.",
	}, []string{"direction"})
	m.lost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "callbridge", Name: "rtp_lost_total", Help: "RTP packets lost per direction (RFC 3550 §6.4.1), counted at call end.",
	}, []string{"direction"})
	m.mos = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "callbridge", Name: "call_mos", Help: "Estimated MOS (E-model, G.711 with PLC) of answered calls.",
		Buckets: []float64{1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4},
	})
	m.sipDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "callbridge", Name: "sip_requests_dropped_total", Help: "SIP requests dropped unanswered because their source is neither the trunk nor in sip.allowed_sources.",
	})
	m.trunkUp.Set(1)
	if reg != nil {
		reg.MustRegister(m.callsStarted, m.callsActive, m.callsEnded, m.trunkUp, m.setup, m.packets, m.lost, m.mos, m.sipDropped)
	}
	return m
}

// observeEnd records an ended call's media figures.
func (m *Metrics) observeEnd(ci CallInfo) {
	if ci.AnsweredAt == nil {
		return
	}
	m.setup.Observe(ci.AnsweredAt.Sub(ci.StartedAt).Seconds())
	if u := ci.Media.Uplink; u != nil {
		m.packets.WithLabelValues("uplink").Add(float64(u.Packets))
		m.lost.WithLabelValues("uplink").Add(float64(max(u.Lost, 0)))
	}
	if d := ci.Media.Downlink; d != nil {
		m.packets.WithLabelValues("downlink").Add(float64(d.Packets))
		m.lost.WithLabelValues("downlink").Add(float64(max(d.Lost, 0)))
	}
	if q := ci.Quality(); q.MOS > 0 {
		m.mos.Observe(q.MOS)
	}
}
