package routing

import (
	"sync"
	"time"
)

// Breaker defaults.
const (
	// DefaultBreakerFailures consecutive trunk faults open the breaker.
	DefaultBreakerFailures = 5
	// DefaultBreakerCooldown is how long an open breaker keeps calls away
	// before one trial call may go through (half-open).
	DefaultBreakerCooldown = 30 * time.Second
)

// BreakerState is a breaker's position.
type BreakerState string

// Breaker states.
const (
	Closed   BreakerState = "closed"    // calls go through
	Open     BreakerState = "open"      // calls skip the trunk
	HalfOpen BreakerState = "half_open" // one trial call goes through
)

// Breaker is a trunk's circuit breaker: after Failures consecutive trunk
// faults (TrunkFault), or a 503 with Retry-After, it opens and the trunk is
// skipped; after the cooldown (or the Retry-After) one trial call is let
// through, whose success closes it and whose fault opens it again.
type Breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu        sync.Mutex
	state     BreakerState // guarded by mu
	faults    int          // guarded by mu; consecutive
	openUntil time.Time    // guarded by mu
	trial     bool         // guarded by mu; a half-open trial is in flight
}

// NewBreaker returns a closed breaker; failures <= 0 and cooldown <= 0
// take the defaults; now nil = time.Now.
func NewBreaker(failures int, cooldown time.Duration, now func() time.Time) *Breaker {
	if failures <= 0 {
		failures = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{failures: failures, cooldown: cooldown, now: now, state: Closed}
}

// Allow reports whether a call may be attempted on the trunk now, and
// takes the half-open trial when it is due.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true
	case Open:
		if b.now().Before(b.openUntil) {
			return false
		}
		b.state, b.trial = HalfOpen, true
		return true
	default: // half-open: one trial at a time
		if b.trial {
			return false
		}
		b.trial = true
		return true
	}
}

// Report records an allowed attempt's outcome.
func (b *Breaker) Report(o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if !TrunkFault(o) {
		if !o.Cancelled || b.state == Closed {
			b.state, b.faults = Closed, 0
		}
		return
	}
	b.faults++
	hold := b.cooldown
	if o.RetryAfter > 0 {
		hold = o.RetryAfter
	}
	if b.state == HalfOpen || b.faults >= b.failures || o.RetryAfter > 0 {
		b.state, b.openUntil = Open, b.now().Add(hold)
	}
}

// BreakerStatus is a breaker as the stats page shows it.
type BreakerStatus struct {
	State     BreakerState `json:"state"`
	Faults    int          `json:"consecutive_faults"`
	OpenUntil time.Time    `json:"open_until,omitzero"`
}

// Status returns the breaker's position.
func (b *Breaker) Status() BreakerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BreakerStatus{State: b.state, Faults: b.faults}
	if b.state == Open {
		st.OpenUntil = b.openUntil
	}
	return st
}
