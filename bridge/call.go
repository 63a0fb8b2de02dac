package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/google/uuid"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/record"
)

// Call joins two legs: the browser leg of the signaling session that placed
// it and a SIP leg toward the trunk. The call owns the state the agent and
// the CRM see (call_state, the record, the cause) and the media joint
// between the legs; each leg owns its own signalling and sockets.
//
// Every goroutine of a call runs under its group, and finish waits for
// the group before the call is reported ended: nothing outlives a call.
type Call struct {
	ID        string
	RequestID string
	From, To  string // E.164
	Metadata  json.RawMessage

	b     *Bridge
	seat  *config.Seat
	log   *slog.Logger
	clock clock.Clock
	// held and resumedAt time the media timeout around holds: it counts
	// from the last resume (unix nanos on the call's clock).
	held      atomic.Bool
	resumedAt atomic.Int64

	sip   *sipLeg // the SIP leg; set at creation, never replaced
	joint joint   // the media between the legs

	direction string   // record.DirectionOutbound or record.DirectionInbound
	inb       *inbound // the ringing state of an inbound call; nil for outbound

	ctx    context.Context // detached from the request; cancelled with the end cause
	cancel context.CancelCauseFunc
	group  sync.WaitGroup // the call's goroutines, other than run
	done   chan struct{}

	mu         sync.Mutex
	onState    func(CallState)                 // guarded by mu; replaced when the call moves to another session
	onDTMF     func(callID string, digit rune) // guarded by mu; likewise
	noiseStop  chan struct{}                   // closed to stop the comfort noise; nil when none runs; guarded by mu
	noiseDone  chan struct{}                   // closed when the comfort noise has stopped; guarded by mu
	finishing  bool                            // finish waits for the group: no goroutine may join it; guarded by mu
	state      string                          // guarded by mu
	startedAt  time.Time                       // guarded by mu
	answeredAt time.Time                       // guarded by mu
	endedAt    time.Time                       // guarded by mu
	cause      *record.Cause                   // guarded by mu; set once, when the end is known
	answeredBy *record.AnsweredBy              // the session that answered an inbound call; guarded by mu
	missed     string                          // why an inbound call was missed; guarded by mu
	fwd        *sipLeg                         // the forward leg of a forwarded inbound call; guarded by mu
	routing    routeState                      // guarded by mu
	intervals  []record.Interval               // one per answered second; guarded by mu

	tl timeline // what happened, for the stats page
}

func newCall(b *Bridge, req CallRequest, from, to string) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{
		ID:        uuid.NewString(),
		RequestID: req.RequestID,
		From:      from,
		To:        to,
		Metadata:  req.Metadata,
		b:         b,
		seat:      req.Auth.Seat,
		onState:   req.OnState,
		onDTMF:    req.OnDTMF,
		clock:     b.clock,
		direction: record.DirectionOutbound,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	c.startedAt = c.clock.Now()
	c.log = b.log.With("call_id", c.ID, "seat", c.seat.ID)
	if c.onState == nil {
		c.onState = func(CallState) {}
	}
	c.joint.browser = req.Leg
	c.joint.log = c.log
	c.sip = newSIPLeg(b, c, c.log)
	c.sip.tl = &c.tl
	return c
}

// CallID is the call's id (CallControl).
func (c *Call) CallID() string { return c.ID }

// Seat is the seat that placed the call.
func (c *Call) Seat() *config.Seat { return c.seat }

// SIPCallID is the Call-ID of the SIP leg's dialog.
func (c *Call) SIPCallID() string { return c.sip.callID }

// Done is closed when the call has ended and its resources are freed.
func (c *Call) Done() <-chan struct{} { return c.done }

// State is the call's current state.
func (c *Call) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// goSafe runs f on a goroutine of the call's group; a panic in it ends
// this call only.
func (c *Call) goSafe(name string, f func()) {
	c.group.Add(1)
	go func() {
		defer c.group.Done()
		defer c.recoverPanic(name)
		f()
	}()
}

func (c *Call) recoverPanic(where string) {
	if r := recover(); r != nil {
		c.log.Error("call panicked", "where", where, "panic", r, "stack", string(debug.Stack()))
		c.setCause(record.Cause{Q850: record.Q850TemporaryFailure, Reason: "internal error", By: record.ByBridge})
		c.cancel(fmt.Errorf("panic: %v", r))
	}
}

// Hangup ends the call on the agent's behalf: CANCEL before answer, BYE after.
//
// Before the trunk has answered the INVITE at all, CANCEL must wait for a
// provisional response (RFC 3261 §9.1), which may take until Timer B; the
// agent is told the call ended at once and the SIP side finishes behind.
func (c *Call) Hangup() {
	c.end(ErrAgentHangup)
	if c.State() == StateDialing && !c.sip.gotResponse.Load() {
		c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: "Canceled by the agent", By: record.ByAgent})
		c.emit(StateEnded)
	}
}

// Abandon ends the call because its browser session is gone for good
// (the socket dropped and was not resumed within the grace period).
func (c *Call) Abandon() { c.end(ErrBrowserGone) }

// end cancels the call's context with cause; the first cause wins.
func (c *Call) end(cause error) { c.cancel(cause) }

// emit sends a call_state in order; states never go backwards and ended
// is sent once.
func (c *Call) emit(state string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == StateEnded, c.state == state:
		return
	case state != StateEnded && stateRank(state) < stateRank(c.state):
		return
	case state == StateRinging && c.state == StateEarlyMedia:
		return
	}
	c.state = state
	cs := CallState{CallID: c.ID, RequestID: c.RequestID, State: state, To: c.To, From: c.From}
	if state == StateEnded && c.cause != nil {
		cause := *c.cause
		cs.Cause = &cause
	}
	if !c.answeredAt.IsZero() {
		t := c.answeredAt.UTC()
		cs.AnsweredAt = &t
	}
	c.log.Info("call state", "state", state)
	text := state
	if cs.Cause != nil {
		text += ": " + cs.Cause.Reason + " (by " + cs.Cause.By + ")"
	}
	c.tl.note("state", text)
	c.onState(cs)
}

// Current is the call's state as a call_state message, with the agent's
// hold: what a page that re-attached to the call needs to show it.
func (c *Call) Current() CallState {
	held := c.joint.agentHold()
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := CallState{CallID: c.ID, RequestID: c.RequestID, State: c.state, To: c.To, From: c.From, Hold: held}
	if !c.answeredAt.IsZero() {
		t := c.answeredAt.UTC()
		cs.AnsweredAt = &t
	}
	if c.state == StateEnded && c.cause != nil {
		cause := *c.cause
		cs.Cause = &cause
	}
	return cs
}

// DetachBrowser takes the browser leg out of the call because the page
// went away (reloaded, navigated, closed) or its peer connection did. The
// call and its SIP dialog go on: the far end hears comfort noise, one
// 20 ms frame at a time in the uplink's own RTP stream, until
// AttachBrowser. Ending the call if no page comes back is the caller's
// business (Abandon after its grace period).
func (c *Call) DetachBrowser(reason string) {
	if !c.joint.detach(c.clock.Now(), reason) {
		return
	}
	c.tl.note("browser", "the browser leg left ("+reason+"); the far end hears comfort noise")
	c.startComfortNoise()
}

// AttachBrowser makes leg the call's browser leg, in place of the one
// detached or still attached, and sends the call's states and digits to
// onState and onDTMF from now on (a call moved to another session). The
// leg's media must be up (WaitMedia). The SIP dialog is untouched: no
// re-INVITE, and the stream toward the trunk keeps its SSRC, sequence
// numbers and timestamps.
func (c *Call) AttachBrowser(leg BrowserLeg, onState func(CallState), onDTMF func(callID string, digit rune)) error {
	if leg == nil {
		return fmt.Errorf("%w: no browser leg", errBadRequest)
	}
	select {
	case <-c.ctx.Done():
		return fmt.Errorf("%w: the call has ended", errBadRequest)
	default:
	}
	c.stopComfortNoise()
	c.mu.Lock()
	if onState != nil {
		c.onState = onState
	}
	if onDTMF != nil {
		c.onDTMF = onDTMF
	}
	c.mu.Unlock()
	if err := c.joint.attach(c.sip, leg, c.clock.Now()); err != nil {
		return err
	}
	if r, ok := c.joint.lastReattach(); ok && !r.AttachedAt.IsZero() {
		c.tl.note("browser", fmt.Sprintf("a browser leg attached again after %d ms (%s)", r.GapMS, r.Reason))
	}
	return nil
}

// ComfortNoiseFrame is the comfort noise's packet time: the uplink's ptime.
const ComfortNoiseFrame = 20 * time.Millisecond

// startComfortNoise runs the comfort noise on the call's group until
// stopComfortNoise or the end of the call.
func (c *Call) startComfortNoise() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.noiseStop != nil || c.finishing {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	c.noiseStop, c.noiseDone = stop, done
	c.goSafe("comfort noise", func() {
		defer close(done)
		t := c.clock.NewTicker(ComfortNoiseFrame)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-c.ctx.Done():
				return
			case <-t.C():
				c.joint.comfortNoise(int(ComfortNoiseFrame / (time.Second / 8000)))
			}
		}
	})
}

// stopComfortNoise stops the comfort noise and waits until its last frame
// is out, so the browser's audio never interleaves with it.
func (c *Call) stopComfortNoise() {
	c.mu.Lock()
	stop, done := c.noiseStop, c.noiseDone
	c.noiseStop, c.noiseDone = nil, nil
	c.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

func stateRank(s string) int {
	switch s {
	case StateDialing:
		return 1
	case StateRinging, StateEarlyMedia:
		return 2
	case StateAnswered:
		return 3
	case StateEnded:
		return 4
	}
	return 0
}

// setCause records why the call ended, if nothing did before.
func (c *Call) setCause(cause record.Cause) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = &cause
	}
	c.mu.Unlock()
}

// run drives the call from INVITE to its end. It runs on its own goroutine,
// owned by the bridge.
func (c *Call) run() {
	defer c.finish()
	defer c.recoverPanic("run")
	c.b.publish(c, eventInitiated)

	if err := c.sip.open(); err != nil {
		c.log.Error("no RTP port", "error", err)
		c.setCause(record.Cause{Q850: record.Q850TemporaryFailure, Reason: "no RTP port available", By: record.ByBridge})
		return
	}
	c.emit(StateDialing)

	dialog, ringCause, err := c.dialTrunks()
	if err != nil {
		if dialog == nil {
			c.log.Warn("INVITE not sent", "error", err)
			c.setCause(record.Cause{SIPCode: 503, Q850: record.Q850NetworkOutOfOrdr, Reason: "trunk unreachable: " + err.Error(), By: record.ByBridge})
			return
		}
		c.unanswered(dialog, err, ringCause)
		return
	}
	if err := c.sip.answered(c.ctx, dialog); err != nil {
		c.log.Warn("answer not usable", "error", err)
		c.setCause(record.Cause{SIPCode: 488, Q850: 127, Reason: err.Error(), By: record.ByBridge})
		c.sip.bye(dialog)
		return
	}
	c.mu.Lock()
	c.answeredAt = c.clock.Now()
	c.mu.Unlock()
	c.b.publish(c, eventAnswered)
	c.emit(StateAnswered)
	c.talk(dialog)
}

// progress is the SIP leg's provisional response. Events are committed
// before the agent is told, so a crash in between never leaves a state the
// agent saw without its record.
func (c *Call) progress(early bool) {
	if c.State() == StateDialing {
		c.b.publish(c, eventRinging)
	}
	if early {
		c.emit(StateEarlyMedia)
	} else {
		c.emit(StateRinging)
	}
}

// remoteMedia joins (or re-joins) the legs on the far end's SDP.
func (c *Call) remoteMedia(rm remoteMedia) error {
	if !c.joint.attached() && !c.joint.detached() {
		return nil // an inbound call that rings: joined when answered
	}
	if err := c.joint.join(c.sip, rm, c.deliverDigit); err != nil {
		return err
	}
	if c.joint.detached() {
		c.startComfortNoise() // joined while the page was away
	}
	return nil
}

// directionChanged applies a hold or resume by the far end.
func (c *Call) directionChanged() {
	c.joint.applyGates(c.sip.remoteSDP().Direction)
	c.holdChanged()
}

// holdChanged notes a resume, from which the media timeout counts again.
func (c *Call) holdChanged() {
	on := c.onHold()
	if c.held.Swap(on) && !on {
		c.resumedAt.Store(c.clock.Now().UnixNano())
	}
}

// hungUp is the far end's BYE.
func (c *Call) hungUp(cause record.Cause) {
	c.setCause(cause)
	c.end(ErrRemoteHangup)
}

func (c *Call) digit(d rune) { c.deliverDigit(d) }

func (c *Call) deliverDigit(d rune) {
	if d == 0 {
		return
	}
	c.log.Info("digit from the far end", "digit", string(d))
	c.mu.Lock()
	onDTMF := c.onDTMF
	c.mu.Unlock()
	if onDTMF != nil {
		onDTMF(c.ID, d)
	}
}

// unanswered ends a call whose INVITE got no 2xx.
func (c *Call) unanswered(dialog *sipgo.DialogClientSession, err error, ringCause error) {
	var dr *sipgo.ErrDialogResponse
	var drv sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		c.setCause(causeFromResponse(dr.Res, record.ByRemote))
		return
	case errors.As(err, &drv):
		c.setCause(causeFromResponse(drv.Res, record.ByRemote))
		return
	}
	// A 2xx that crossed our CANCEL (RFC 3261 §9.1): take it and hang up.
	if res := dialog.InviteResponse; res != nil && res.IsSuccess() {
		_ = dialog.Ack(context.Background())
		c.sip.bye(dialog)
	}
	cause := context.Cause(c.ctx)
	switch {
	case errors.Is(cause, ErrAgentHangup):
		c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: "Canceled by the agent", By: record.ByAgent})
	case errors.Is(ringCause, ErrRingTimeout):
		c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NoAnswer, Reason: "No answer", By: record.ByBridge})
	case errors.Is(ringCause, sipgo.WaitAnswerForceCancelErr):
		c.setCause(record.Cause{SIPCode: 408, Q850: record.Q850RecoveryOnTimer, Reason: "No response from the trunk", By: record.ByBridge})
	case cause != nil:
		c.setCause(c.bridgeCause(cause))
	default:
		// Timer B fired or the transport failed (RFC 3261 §17.1.1.2).
		c.setCause(record.Cause{SIPCode: 408, Q850: record.Q850RecoveryOnTimer, Reason: "No response from the trunk: " + err.Error(), By: record.ByBridge})
	}
}

func (c *Call) bridgeCause(cause error) record.Cause {
	var st errSessionTimer
	switch {
	case errors.As(cause, &st):
		return st.cause
	case errors.Is(cause, ErrBrowserGone) && c.joint.detached():
		return record.Cause{SIPCode: 0, Q850: record.Q850NormalClearing, Reason: "Browser page gone: not back within the grace period", By: record.ByAgent}
	case errors.Is(cause, ErrBrowserGone):
		return record.Cause{SIPCode: 0, Q850: record.Q850NormalClearing, Reason: "Browser disconnected", By: record.ByAgent}
	case errors.Is(cause, ErrMediaTimeout):
		return record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "No audio from the trunk", By: record.ByBridge}
	case errors.Is(cause, ErrMaxDuration):
		return record.Cause{Q850: record.Q850NormalClearing, Reason: "Maximum call duration reached", By: record.ByBridge}
	case errors.Is(cause, ErrBridgeShutdown):
		return record.Cause{Q850: record.Q850NormalClearing, Reason: "Bridge shutting down", By: record.ByBridge}
	}
	return record.Cause{Q850: record.Q850TemporaryFailure, Reason: cause.Error(), By: record.ByBridge}
}

// talk waits for the answered call to end and hangs up on our side. The
// session timer runs beside it; the call's timers (max duration, media
// timeout) run here on the call's clock.
func (c *Call) talk(dialog sipDialog) {
	c.goSafe("session timer", func() {
		if err := c.sip.sessionTimer(c.ctx, dialog); err != nil {
			c.end(err)
		}
	})
	var maxDur <-chan time.Time
	if d := c.b.cfg.SIP.MaxCallDuration; d > 0 {
		t := c.clock.NewTimer(d)
		defer t.Stop()
		maxDur = t.C()
	}
	mediaTimeout := c.b.cfg.SIP.MediaTimeout
	tick := c.clock.NewTicker(time.Second)
	defer tick.Stop()
	answeredAt := c.clock.Now()
	ms := c.sip.mediaSession()
	var m meter
	for {
		select {
		case <-c.ctx.Done():
			cause := context.Cause(c.ctx)
			switch {
			case errors.Is(cause, ErrRemoteHangup):
				// cause set by hungUp
			case errors.Is(cause, ErrAgentHangup):
				c.setCause(record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByAgent})
				c.sip.bye(dialog)
			default:
				c.setCause(c.bridgeCause(cause))
				c.sip.bye(dialog)
			}
			return
		case <-dialog.Context().Done():
			c.setCause(record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByRemote})
			return
		case <-maxDur:
			c.end(ErrMaxDuration)
		case now := <-tick.C():
			c.addInterval(m.sample(c, now))
			if mediaTimeout <= 0 {
				continue
			}
			if c.onHold() {
				continue
			}
			// From the answer, the last packet or the last resume,
			// whichever came last.
			since := now.Sub(answeredAt)
			if last := ms.lastRecv.Load(); last > 0 {
				since = min(since, now.Sub(time.Unix(0, last)))
			}
			if r := c.resumedAt.Load(); r > 0 {
				since = min(since, now.Sub(time.Unix(0, r)))
			}
			if since > mediaTimeout {
				c.log.Warn("media timeout", "since", since)
				c.end(ErrMediaTimeout)
			}
		}
	}
}

// onHold says whether either side holds the call: the media timeout waits.
func (c *Call) onHold() bool { return c.joint.agentHold() || c.sip.onHold() }

// finish frees the call's resources, waits for its goroutines, sends
// ended and the completed event.
func (c *Call) finish() {
	c.cancel(context.Canceled)
	c.mu.Lock()
	c.finishing = true
	c.mu.Unlock()
	c.group.Wait()
	c.joint.leave()
	c.sip.close()
	if fwd := c.forwardLeg(); fwd != nil {
		fwd.close()
	}
	c.releaseTrunk()
	c.mu.Lock()
	if c.cause == nil {
		c.cause = &record.Cause{Q850: record.Q850TemporaryFailure, Reason: "call failed", By: record.ByBridge}
	}
	c.endedAt = c.clock.Now()
	c.mu.Unlock()
	c.emit(StateEnded)
	c.b.publish(c, eventCompleted)
	c.b.forget(c)
	close(c.done)
	c.b.metrics.callsEnded.WithLabelValues(c.Status()).Inc()
}

// Status is the webhook status of an ended call (webhook.md).
func (c *Call) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *Call) statusLocked() string {
	if !c.answeredAt.IsZero() {
		return record.StatusCompleted
	}
	if c.missed != "" {
		return record.StatusMissed
	}
	if c.cause == nil {
		return record.StatusFailed
	}
	switch {
	case c.cause.By == record.ByAgent && c.cause.SIPCode == 487:
		return record.StatusCanceled
	case c.cause.Q850 == record.Q850UserBusy || c.cause.SIPCode == 486 || c.cause.SIPCode == 600:
		return record.StatusBusy
	case c.cause.Q850 == record.Q850NoAnswer || c.cause.Q850 == record.Q850NoUserResponding || c.cause.SIPCode == 480:
		return record.StatusNoAnswer
	}
	return record.StatusFailed
}

// SendDTMF sends digits upstream: RFC 4733 events in the audio stream when
// the trunk negotiated telephone-event, else SIP INFO with
// application/dtmf-relay.
func (c *Call) SendDTMF(digits string, dur time.Duration) error {
	state := c.State()
	if state != StateAnswered && state != StateEarlyMedia {
		return fmt.Errorf("%w: the call is not connected", errBadRequest)
	}
	rm := c.sip.remoteSDP()
	if out := c.joint.dtmfOut(); out != nil && rm.DTMFType != 0 {
		for _, d := range digits {
			if err := out.SendDTMF(d, dur, rm.DTMFType); err != nil {
				return fmt.Errorf("dtmf %q: %w", d, err)
			}
		}
		return nil
	}
	if state != StateAnswered {
		return fmt.Errorf("%w: the trunk has no telephone-event and SIP INFO needs an answered call", errBadRequest)
	}
	c.goSafe("SIP INFO", func() { c.sip.sendINFO(c.ctx, digits, dur) })
	return nil
}

// Hold puts the far end on hold (true) or takes it off (false) with a
// re-INVITE whose SDP is sendonly or sendrecv (RFC 3264 §8.4). While held,
// neither side's audio is forwarded and the media timeout is suspended.
func (c *Call) Hold(on bool) error {
	if c.State() != StateAnswered {
		return fmt.Errorf("%w: only an answered call can be held", errBadRequest)
	}
	if err := c.sip.hold(c.ctx, on); err != nil {
		return err
	}
	c.joint.setAgentHold(on, c.sip.remoteSDP().Direction)
	c.holdChanged()
	if on {
		c.tl.note("hold", "the agent put the call on hold")
	} else {
		c.tl.note("hold", "the agent resumed the call")
	}
	c.log.Info("hold", "on", on)
	return nil
}

// newSIPCallID is a fresh SIP Call-ID (RFC 3261 §8.1.1.4).
func newSIPCallID() string { return uuid.NewString() }

func (c *Call) forwardLeg() *sipLeg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fwd
}

// Direction is record.DirectionOutbound or record.DirectionInbound.
func (c *Call) Direction() string { return c.direction }
