package admission

import (
	"errors"
	"math"
	"runtime/metrics"
	"testing"
	"time"
)

// fake is a process whose CPU use and scheduling latencies the test sets.
type fake struct {
	at   time.Time
	cpu  time.Duration
	lats *metrics.Float64Histogram
}

var buckets = []float64{0, 0.001, 0.005, 0.010, 0.020, 0.050, math.Inf(1)}

func newFake() *fake {
	return &fake{at: time.Unix(1000, 0), lats: &metrics.Float64Histogram{Counts: make([]uint64, len(buckets)-1), Buckets: buckets}}
}

func (f *fake) sample() Sample {
	c := *f.lats
	c.Counts = append([]uint64(nil), f.lats.Counts...)
	return Sample{At: f.at, CPU: f.cpu, Lats: &c}
}

// step advances one second during which the process used cores of CPU
// and its goroutines waited n times in bucket b.
func (f *fake) step(m *Monitor, cores float64, b int, n uint64) Headroom {
	f.at = f.at.Add(time.Second)
	f.cpu += time.Duration(cores * float64(time.Second))
	f.lats.Counts[b] += n
	return m.Update()
}

func TestAdmission(t *testing.T) {
	f := newFake()
	m := New(Config{MaxCPU: 0.8, MaxSchedLag: 10 * time.Millisecond}, f.sample)
	m.cores = 2

	h := f.step(m, 0.4, 1, 1000) // 20 % of two cores, waits ≤ 1 ms
	if h.Busy || m.Admit() != nil {
		t.Fatalf("idle bridge refuses calls: %+v", h)
	}
	if _, _, _, refuse := m.SIPRefusal(); refuse {
		t.Fatal("idle bridge refuses INVITEs")
	}

	h = f.step(m, 1.8, 1, 1000) // 90 % of two cores, once: a burst
	if h.Busy || m.Admit() != nil {
		t.Fatalf("one sample over the limit refuses calls: %+v", h)
	}
	h = f.step(m, 1.8, 1, 1000) // and again: sustained
	if !h.Busy || math.Abs(h.CPU-0.9) > 1e-9 {
		t.Fatalf("at 90 %% CPU: %+v", h)
	}
	err := m.Admit()
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Admit at 90 %% CPU = %v", err)
	}
	status, _, retry, refuse := m.SIPRefusal()
	if !refuse || status != 503 || retry != 5 {
		t.Fatalf("SIPRefusal = %d, retry %d, %v", status, retry, refuse)
	}

	// 75 %: under the limit but not under 90 % of it: still busy.
	if h = f.step(m, 1.5, 1, 1000); !h.Busy {
		t.Fatalf("admission flaps at the edge: %+v", h)
	}
	if h = f.step(m, 1.0, 1, 1000); h.Busy || m.Admit() != nil {
		t.Fatalf("at 50 %% CPU still busy: %+v", h)
	}

	// Low CPU but goroutines waiting 10-20 ms, twice: busy.
	f.step(m, 0.4, 3, 50)
	h = f.step(m, 0.4, 3, 50)
	if !h.Busy || h.SchedLag != 20*time.Millisecond {
		t.Fatalf("scheduling lag: %+v", h)
	}
	if got := m.Headroom().Refused; got != 2 {
		t.Fatalf("refused %d calls, want 2", got)
	}
}

func TestP99Delta(t *testing.T) {
	prev := &metrics.Float64Histogram{Counts: []uint64{100, 0, 0}, Buckets: []float64{0, 0.001, 0.01, math.Inf(1)}}
	cur := &metrics.Float64Histogram{Counts: []uint64{198, 0, 2}, Buckets: prev.Buckets}
	// New: 98 under 1 ms, 2 over 10 ms: p99 is in the last bucket, whose
	// upper bound is infinite; its lower bound stands for it.
	if got := p99Delta(prev, cur); got != 10*time.Millisecond {
		t.Fatalf("p99 = %s", got)
	}
	if got := p99Delta(cur, cur); got != 0 {
		t.Fatalf("no new observations: p99 = %s", got)
	}
}

func TestProcessSample(t *testing.T) {
	s := ProcessSample()
	if s.Lats == nil || len(s.Lats.Buckets) != len(s.Lats.Counts)+1 {
		t.Fatalf("no scheduling histogram: %+v", s.Lats)
	}
	m := New(Config{}, nil)
	for i := 0; i < 1e6; i++ { // some CPU to see
		_ = math.Sqrt(float64(i))
	}
	if h := m.Update(); h.CPU < 0 || h.Busy && h.CPU <= 0.85 && h.SchedLag <= 10*time.Millisecond {
		t.Fatalf("headroom %+v", h)
	}
}
