// Package clock is the time source of the bridge's call timers (ring,
// session refresh, media timeout, maximum duration, grace periods), so
// tests can move time instead of sleeping through it.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a time.Timer: C is nil for one made by AfterFunc.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Ticker is a time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time                   { return time.Now() }
func (Real) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
func (Real) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a clock that moves only when Advance is called. Timers fire in
// order of their deadline; a ticker fires once per period passed.
type Fake struct {
	mu      sync.Mutex
	now     time.Time    // guarded by mu
	waiters []*fakeTimer // guarded by mu
}

// NewFake returns a fake clock at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) NewTimer(d time.Duration) Timer { return f.add(d, 0, nil) }

func (f *Fake) NewTicker(d time.Duration) Ticker { return fakeTicker{f.add(d, d, nil)} }

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer { return f.add(d, 0, fn) }

// Timers returns how many timers and tickers are pending.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Advance moves the clock by d, firing what falls due in deadline order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		sort.Slice(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
		if len(f.waiters) == 0 || f.waiters[0].at.After(end) {
			break
		}
		t := f.waiters[0]
		f.now = t.at
		if t.period > 0 {
			t.at = t.at.Add(t.period)
		} else {
			f.waiters = f.waiters[1:]
		}
		fn, ch, now := t.fn, t.ch, f.now
		f.mu.Unlock()
		if fn != nil {
			fn()
		} else {
			select {
			case ch <- now:
			default: // like time.Ticker: a slow reader misses ticks
			}
		}
		f.mu.Lock()
	}
	f.now = end
	f.mu.Unlock()
}

func (f *Fake) add(d, period time.Duration, fn func()) *fakeTimer {
	f.mu.Lock()
	t := &fakeTimer{f: f, at: f.now.Add(d), period: period, fn: fn}
	if fn == nil {
		t.ch = make(chan time.Time, 1)
	}
	f.waiters = append(f.waiters, t)
	f.mu.Unlock()
	return t
}

type fakeTimer struct {
	f      *Fake
	at     time.Time
	period time.Duration
	fn     func()
	ch     chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	for i, w := range t.f.waiters {
		if w == t {
			t.f.waiters = append(t.f.waiters[:i], t.f.waiters[i+1:]...)
			return true
		}
	}
	return false
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k fakeTicker) Stop()               { k.t.Stop() }
