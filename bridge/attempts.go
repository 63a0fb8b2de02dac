package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/routing"
)

// Attempt results in call records.
const (
	attemptAnswered = "answered"
	attemptFailover = "failover"
	attemptFinal    = "final"
	attemptSkipped  = "skipped"
)

// routeState is which route and trunks a call used.
type routeState struct {
	route     string           // guarded by Call.mu
	trunk     string           // guarded by Call.mu
	attempts  []record.Attempt // guarded by Call.mu
	trunkDone func()           // frees the answered trunk's call slot; guarded by Call.mu
}

// dialTrunks sends the call's INVITE through the trunks of its route in
// order, moving on when routing.Classify says failover (no response, 408,
// 5xx) and the call is still wanted, skipping trunks that are down (OPTIONS),
// whose breaker is open or that are full. It returns like sipLeg.dial for
// the attempt that ended the search; dialog is nil when no INVITE was sent.
func (c *Call) dialTrunks() (*sipgo.DialogClientSession, error, error) {
	route, trunks, err := c.b.router(c.To)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	c.routing.route = route
	c.mu.Unlock()
	seat := sipCredentials{c.seat.SIPUsername, c.seat.SIPPassword}
	lastErr := fmt.Errorf("%w for route %s", routing.ErrNoTrunk, route)
	for i, t := range trunks {
		started := c.clock.Now()
		att := record.Attempt{Trunk: t.Name, StartedAt: record.Time{T: started}}
		c.b.gates.Ensure(t.Name, t.MaxCalls)
		release, skip := c.b.gates.Acquire(t.Name)
		var target *trunkTarget
		if skip == "" {
			if target, err = c.b.target(t); err != nil {
				c.log.Error("trunk not usable", "trunk", t.Name, "error", err)
				release(routing.Outcome{Cancelled: true})
				skip = "bad_config"
			}
		}
		if skip != "" {
			att.Result, att.Reason = attemptSkipped, skip
			c.addAttempt(att)
			lastErr = fmt.Errorf("%w: trunk %s is %s", routing.ErrNoTrunk, t.Name, skip)
			continue
		}
		c.sip.resetProgress()
		dialog, ringCause, err := c.sip.dial(c.ctx, c.From, c.To, seat, target,
			TrunkHeaderData{Seat: c.seat.ID, CallerID: c.From, To: c.To, CallID: c.ID, Trunk: t.Name})
		o := c.outcome(err, ringCause)
		pdd := c.sip.postDialDelay(started, o)
		done := release(o)
		c.b.routeMetrics.ObserveAttempt(route, t.Name, o, pdd)
		verdict, why := routing.Classify(o)
		att.Status, att.Reason, att.PDDMS = o.Status, why, pdd.Milliseconds()
		switch {
		case err == nil:
			att.Result = attemptAnswered
			c.addAttempt(att)
			c.setTrunk(t.Name, done)
			c.b.routeMetrics.ObserveCall(route, attemptAnswered)
			return dialog, nil, nil
		case verdict == routing.Failover && i < len(trunks)-1 && c.ctx.Err() == nil:
			att.Result = attemptFailover
			c.addAttempt(att)
			c.log.Info("trunk failed; trying the next", "trunk", t.Name, "why", why, "next", trunks[i+1].Name)
			continue
		}
		att.Result = attemptFinal
		c.addAttempt(att)
		c.setTrunk(t.Name, nil)
		result := attemptFinal
		if verdict == routing.Failover {
			result = "exhausted"
		}
		c.b.routeMetrics.ObserveCall(route, result)
		return dialog, ringCause, err
	}
	c.b.routeMetrics.ObserveCall(route, "exhausted")
	return nil, nil, lastErr
}

// outcome is what an attempt's end means for routing.
func (c *Call) outcome(err, ringCause error) routing.Outcome {
	if err == nil {
		return routing.Outcome{Status: 200}
	}
	if c.ctx.Err() != nil || errors.Is(ringCause, ErrRingTimeout) {
		return routing.Outcome{Cancelled: true}
	}
	var dr *sipgo.ErrDialogResponse
	var drv sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		return outcomeOf(dr.Res.StatusCode, dr.Res.GetHeader("Retry-After"))
	case errors.As(err, &drv):
		return outcomeOf(drv.Res.StatusCode, drv.Res.GetHeader("Retry-After"))
	}
	return routing.Outcome{} // no response: Timer B, sip.invite_timeout, transport
}

func outcomeOf(status int, retryAfter interface{ Value() string }) routing.Outcome {
	o := routing.Outcome{Status: status}
	if retryAfter != nil {
		v, _, _ := strings.Cut(retryAfter.Value(), ";")
		if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 && secs <= 86400 {
			o.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return o
}

func (c *Call) addAttempt(a record.Attempt) {
	c.mu.Lock()
	c.routing.attempts = append(c.routing.attempts, a)
	c.mu.Unlock()
}

func (c *Call) setTrunk(name string, done func()) {
	c.mu.Lock()
	c.routing.trunk, c.routing.trunkDone = name, done
	c.mu.Unlock()
}

// releaseTrunk frees the answered trunk's call slot (max_calls).
func (c *Call) releaseTrunk() {
	c.mu.Lock()
	done := c.routing.trunkDone
	c.routing.trunkDone = nil
	c.mu.Unlock()
	if done != nil {
		done()
	}
}

// resetProgress forgets the previous attempt's provisional response.
func (l *sipLeg) resetProgress() {
	l.mu.Lock()
	l.firstProgress = time.Time{}
	l.mu.Unlock()
}

// postDialDelay is the time from the attempt's INVITE to its first
// provisional response, else to its final response; 0 when none came.
func (l *sipLeg) postDialDelay(started time.Time, o routing.Outcome) time.Duration {
	l.mu.Lock()
	first := l.firstProgress
	l.mu.Unlock()
	switch {
	case !first.IsZero():
		return first.Sub(started)
	case o.Status != 0:
		return l.b.clock.Now().Sub(started)
	}
	return 0
}
