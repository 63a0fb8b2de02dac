package routing

import (
	"slices"
	"sync"
	"time"
)

// Skip reasons: why an attempt did not go to a trunk.
const (
	SkipDown    = "down"    // the trunk does not answer OPTIONS
	SkipOpen    = "open"    // its circuit breaker is open
	SkipFull    = "full"    // it carries max_calls calls
	SkipUnknown = "unknown" // no trunk of that name (removed since the route was made)
)

// Gates holds the live state of every trunk: OPTIONS health, circuit
// breaker, calls in progress. It is safe for concurrent use.
type Gates struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu     sync.Mutex
	trunks map[string]*gate // guarded by mu
}

type gate struct {
	maxCalls int // 0 = unlimited; guarded by Gates.mu
	active   int // guarded by Gates.mu
	down     bool
	breaker  *Breaker
}

// NewGates returns an empty set; the breaker settings are NewBreaker's.
func NewGates(failures int, cooldown time.Duration, now func() time.Time) *Gates {
	return &Gates{failures: failures, cooldown: cooldown, now: now, trunks: map[string]*gate{}}
}

// Sync makes the set hold exactly the named trunks with their max_calls;
// a trunk kept keeps its breaker, health and calls.
func (g *Gates) Sync(maxCalls map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name := range g.trunks {
		if _, ok := maxCalls[name]; !ok {
			delete(g.trunks, name)
		}
	}
	for name, n := range maxCalls {
		t, ok := g.trunks[name]
		if !ok {
			t = &gate{breaker: NewBreaker(g.failures, g.cooldown, g.now)}
			g.trunks[name] = t
		}
		t.maxCalls = n
	}
}

// Ensure adds a trunk the set does not hold yet (a trunk provisioned
// since the last Sync), or updates its max_calls.
func (g *Gates) Ensure(name string, maxCalls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.trunks[name]
	if !ok {
		t = &gate{breaker: NewBreaker(g.failures, g.cooldown, g.now)}
		g.trunks[name] = t
	}
	t.maxCalls = maxCalls
}

// SetDown marks a trunk down (no answer to OPTIONS) or up again.
func (g *Gates) SetDown(name string, down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.trunks[name]; ok {
		t.down = down
	}
}

// Acquire takes a call slot on the trunk for one attempt, or says why
// not (Skip*). release reports the attempt's outcome to the breaker and
// gives the slot back; an answered call keeps its slot until done is
// called.
func (g *Gates) Acquire(name string) (release func(Outcome) (done func()), skip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.trunks[name]
	switch {
	case !ok:
		return nil, SkipUnknown
	case t.down:
		return nil, SkipDown
	case t.maxCalls > 0 && t.active >= t.maxCalls:
		return nil, SkipFull
	case !t.breaker.Allow():
		return nil, SkipOpen
	}
	t.active++
	free := sync.OnceFunc(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		t.active--
	})
	return func(o Outcome) func() {
		t.breaker.Report(o)
		if v, _ := Classify(o); v == Answered {
			return free
		}
		free()
		return func() {}
	}, ""
}

// GateStatus is a trunk's live state, for the stats page.
type GateStatus struct {
	Name     string        `json:"name"`
	Down     bool          `json:"down"`
	Active   int           `json:"active_calls"`
	MaxCalls int           `json:"max_calls,omitempty"`
	Breaker  BreakerStatus `json:"breaker"`
}

// Status returns every trunk's state, by name.
func (g *Gates) Status() []GateStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GateStatus, 0, len(g.trunks))
	for name, t := range g.trunks {
		out = append(out, GateStatus{Name: name, Down: t.down, Active: t.active, MaxCalls: t.maxCalls, Breaker: t.breaker.Status()})
	}
	slices.SortFunc(out, func(a, b GateStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
