package routing

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count attempts per trunk and per route, for Prometheus and the
// stats page. The answer-seizure ratio (ASR) is answers / attempts.
type Metrics struct {
	attempts  *prometheus.CounterVec
	answers   *prometheus.CounterVec
	failovers *prometheus.CounterVec
	pdd       *prometheus.HistogramVec
	routes    *prometheus.CounterVec

	mu      sync.Mutex
	trunks  map[string]*Counts // guarded by mu
	byRoute map[string]*Counts // guarded by mu
}

// Counts are one trunk's or route's figures since start.
type Counts struct {
	Name      string  `json:"name"`
	Attempts  int     `json:"attempts"`
	Answers   int     `json:"answers"`
	Failovers int     `json:"failovers"`
	ASR       float64 `json:"asr"`
	// PDDMean is the mean post-dial delay (INVITE to first ringing or
	// final response) in seconds.
	PDDMean float64 `json:"pdd_mean_seconds"`
	pddSum  time.Duration
	pddN    int
}

// NewMetrics creates the series and registers them with reg (nil = none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "trunk_attempts_total", Help: "INVITE attempts per trunk and route.",
		}, []string{"trunk", "route"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "trunk_answers_total", Help: "Answered attempts per trunk and route (ASR = answers / attempts).",
		}, []string{"trunk", "route"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "trunk_failovers_total", Help: "Attempts that moved the call on to the next trunk, per trunk left and route.",
		}, []string{"trunk", "route"}),
		pdd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "callbridge", Name: "trunk_post_dial_delay_seconds", Help: "From INVITE to the first ringing or final response, per trunk.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 5, 8, 13, 20},
		}, []string{"trunk"}),
		routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbridge", Name: "route_calls_total", Help: "Calls routed, per route and result (answered, final, exhausted).",
		}, []string{"route", "result"}),
		trunks:  map[string]*Counts{},
		byRoute: map[string]*Counts{},
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.answers, m.failovers, m.pdd, m.routes)
	}
	return m
}

func (m *Metrics) counts(in map[string]*Counts, name string) *Counts {
	c, ok := in[name]
	if !ok {
		c = &Counts{Name: name}
		in[name] = c
	}
	return c
}

// ObserveAttempt records one attempt on trunk for route; pdd <= 0 when
// no response came.
func (m *Metrics) ObserveAttempt(route, trunk string, o Outcome, pdd time.Duration) {
	v, _ := Classify(o)
	m.attempts.WithLabelValues(trunk, route).Inc()
	if pdd > 0 {
		m.pdd.WithLabelValues(trunk).Observe(pdd.Seconds())
	}
	switch v {
	case Answered:
		m.answers.WithLabelValues(trunk, route).Inc()
	case Failover:
		m.failovers.WithLabelValues(trunk, route).Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range []*Counts{m.counts(m.trunks, trunk), m.counts(m.byRoute, route)} {
		c.Attempts++
		switch v {
		case Answered:
			c.Answers++
		case Failover:
			c.Failovers++
		}
		if pdd > 0 {
			c.pddSum += pdd
			c.pddN++
		}
	}
}

// ObserveCall records how a routed call ended: answered, final (a final
// response ended it) or exhausted (every trunk failed or was skipped).
func (m *Metrics) ObserveCall(route, result string) {
	m.routes.WithLabelValues(route, result).Inc()
}

// Snapshot returns the per-trunk and per-route figures, by name.
func (m *Metrics) Snapshot() (trunks, routes []Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return snapshot(m.trunks), snapshot(m.byRoute)
}

func snapshot(in map[string]*Counts) []Counts {
	out := make([]Counts, 0, len(in))
	for _, c := range in {
		x := *c
		if x.Attempts > 0 {
			x.ASR = float64(x.Answers) / float64(x.Attempts)
		}
		if x.pddN > 0 {
			x.PDDMean = (x.pddSum / time.Duration(x.pddN)).Seconds()
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Counts) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}
