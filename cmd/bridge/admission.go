package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/admission"
	"github.com/callbridge/callbridge/config"
)

// newAdmission builds the headroom monitor from admission.* (0 = that
// limit off) and exports its figures.
func newAdmission(c config.Admission, reg prometheus.Registerer) *admission.Monitor {
	cfg := admission.Config{MaxCPU: float64(c.MaxCPUPercent) / 100, MaxSchedLag: c.MaxSchedLag, RetryAfter: c.RetryAfter}
	if c.MaxCPUPercent == 0 {
		cfg.MaxCPU = -1
	}
	if c.MaxSchedLag == 0 {
		cfg.MaxSchedLag = -1
	}
	m := admission.New(cfg, nil)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "callbridge", Name: "admission_busy",
			Help: "1 while new calls are refused for lack of headroom (admission.*)."},
			func() float64 {
				if m.Headroom().Busy {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "callbridge", Name: "admission_refused_total",
			Help: "Calls refused for lack of headroom."},
			func() float64 { return float64(m.Headroom().Refused) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "callbridge", Name: "admission_cpu_ratio",
			Help: "The process's CPU use as a share of the cores it may use, last sample."},
			func() float64 { return m.Headroom().CPU }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "callbridge", Name: "admission_sched_lag_seconds",
			Help: "p99 goroutine scheduling latency over the last sample interval."},
			func() float64 { return m.Headroom().SchedLag.Seconds() }),
	)
	return m
}
