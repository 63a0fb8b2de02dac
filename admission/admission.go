// Package admission tells the bridge whether it has the headroom for one
// more call. A bridge past its capacity does not fail one call: every
// call's media gets late at once. So new calls are refused early and
// cheaply, while the calls already up still sound right.
//
// The monitor samples, every Interval, two figures of the process:
//
//   - CPU: user+system time over wall time, as a share of the cores the Go
//     runtime may use (GOMAXPROCS);
//   - scheduling lag: the 99th percentile of how long goroutines waited to
//     run (the runtime's /sched/latencies:seconds histogram) over the last
//     interval. Media loops wake every 20 ms; when they wait for a core,
//     packets leave late. This is what a caller hears first.
//
// The bridge is busy when either stays over its limit for Sustain samples
// in a row, and stays busy until both are back under Resume times their
// limits (hysteresis, so admission does not flap at the edge).
package admission

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrBusy is what Admit returns when the bridge has no headroom.
var ErrBusy = errors.New("admission: the bridge is at capacity")

// Config sets the limits. Zero values take the defaults.
type Config struct {
	// MaxCPU is the share of the usable cores (0-1] above which new calls
	// are refused. Default 0.85; negative = no CPU limit.
	MaxCPU float64
	// MaxSchedLag is the p99 goroutine scheduling latency above which new
	// calls are refused. Default 10 ms: half a packet time; negative = no
	// limit.
	MaxSchedLag time.Duration
	// Resume is the fraction of the limits both figures must fall under
	// before calls are admitted again. Default 0.9.
	Resume float64
	// Interval between samples. Default 250 ms.
	Interval time.Duration
	// RetryAfter is the delay suggested to refused callers (SIP
	// Retry-After). Default 5 s.
	RetryAfter time.Duration
	// Sustain is how many samples in a row must be over a limit before
	// calls are refused, so that one burst (a batch of DTLS handshakes, a
	// GC cycle) does not refuse calls. Default 2.
	Sustain int
}

func (c Config) withDefaults() Config {
	if c.MaxCPU == 0 || c.MaxCPU > 1 {
		c.MaxCPU = 0.85
	}
	if c.MaxSchedLag == 0 {
		c.MaxSchedLag = 10 * time.Millisecond
	}
	if c.Resume <= 0 || c.Resume > 1 {
		c.Resume = 0.9
	}
	if c.Interval <= 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.Sustain <= 0 {
		c.Sustain = 2
	}
	return c
}

// Headroom is the last sample.
type Headroom struct {
	CPU      float64       `json:"cpu"`       // share of the usable cores, 0-1
	SchedLag time.Duration `json:"sched_lag"` // p99 over the last interval
	Busy     bool          `json:"busy"`
	Refused  uint64        `json:"refused"` // calls refused since start
}

// Sample is one reading of the process: cumulative CPU time and the
// cumulative scheduling-latency histogram.
type Sample struct {
	At   time.Time
	CPU  time.Duration
	Lats *metrics.Float64Histogram // cumulative; nil = unknown
}

// Source reads the process. The default reads getrusage and
// runtime/metrics; tests feed their own.
type Source func() Sample

// Monitor keeps the latest headroom. Admit is cheap and safe for
// concurrent use.
type Monitor struct {
	cfg   Config
	src   Source
	cores float64

	busy    atomic.Bool
	refused atomic.Uint64

	mu   sync.Mutex
	last Headroom // guarded by mu
	prev Sample   // guarded by mu
	over int      // samples in a row over a limit; guarded by mu
}

// New returns a monitor reading src (nil = this process). It samples only
// when Update is called; Run calls it every Interval.
func New(cfg Config, src Source) *Monitor {
	if src == nil {
		src = ProcessSample
	}
	m := &Monitor{cfg: cfg.withDefaults(), src: src, cores: float64(runtime.GOMAXPROCS(0))}
	m.prev = src()
	return m
}

// Run samples every Interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Update()
		}
	}
}

// Update takes one sample and decides whether the bridge is busy.
func (m *Monitor) Update() Headroom {
	s := m.src()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := Headroom{}
	if wall := s.At.Sub(m.prev.At); wall > 0 {
		h.CPU = (s.CPU - m.prev.CPU).Seconds() / wall.Seconds() / m.cores
	}
	h.SchedLag = p99Delta(m.prev.Lats, s.Lats)
	m.prev = s
	cpuOn, lagOn := m.cfg.MaxCPU > 0, m.cfg.MaxSchedLag > 0
	over := cpuOn && h.CPU > m.cfg.MaxCPU || lagOn && h.SchedLag > m.cfg.MaxSchedLag
	under := (!cpuOn || h.CPU < m.cfg.MaxCPU*m.cfg.Resume) &&
		(!lagOn || h.SchedLag < time.Duration(float64(m.cfg.MaxSchedLag)*m.cfg.Resume))
	if over {
		m.over++
	} else {
		m.over = 0
	}
	switch {
	case m.over >= m.cfg.Sustain:
		m.busy.Store(true)
	case under:
		m.busy.Store(false)
	}
	h.Busy = m.busy.Load()
	h.Refused = m.refused.Load()
	m.last = h
	return h
}

// Admit returns nil when a new call may start, or an error wrapping
// ErrBusy that says why not.
func (m *Monitor) Admit() error {
	if !m.busy.Load() {
		return nil
	}
	m.refused.Add(1)
	h := m.Headroom()
	return fmt.Errorf("%w: CPU %.0f %% of %g cores (limit %.0f %%), scheduling lag p99 %s (limit %s)",
		ErrBusy, 100*h.CPU, m.cores, 100*m.cfg.MaxCPU, h.SchedLag.Round(100*time.Microsecond), m.cfg.MaxSchedLag)
}

// Headroom is the last sample.
func (m *Monitor) Headroom() Headroom {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.last
	h.Refused = m.refused.Load()
	return h
}

// SIPRefusal is how inbound INVITE handling answers while the bridge is
// busy: 503 Service Unavailable with a Retry-After in seconds (RFC 3261
// §21.5.4, §20.33). ok is false when the call may be taken.
func (m *Monitor) SIPRefusal() (status int, reason string, retryAfter int, ok bool) {
	if m.Admit() == nil {
		return 0, "", 0, false
	}
	return 503, "Service Unavailable", int(math.Ceil(m.cfg.RetryAfter.Seconds())), true
}

// ProcessSample reads this process's CPU time (getrusage) and the
// runtime's scheduling-latency histogram.
func ProcessSample() Sample {
	s := Sample{At: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	ms := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(ms)
	if ms[0].Value.Kind() == metrics.KindFloat64Histogram {
		s.Lats = ms[0].Value.Float64Histogram()
	}
	return s
}

// p99Delta is the 99th percentile of the observations cur has and prev
// has not (both cumulative, same buckets), as the upper bound of its
// bucket; 0 when there are none.
func p99Delta(prev, cur *metrics.Float64Histogram) time.Duration {
	if cur == nil {
		return 0
	}
	var total uint64
	counts := make([]uint64, len(cur.Counts))
	for i, c := range cur.Counts {
		if prev != nil && i < len(prev.Counts) && len(prev.Counts) == len(cur.Counts) {
			c -= min(c, prev.Counts[i])
		}
		counts[i] = c
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(0.99 * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= want {
			hi := cur.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = cur.Buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}
