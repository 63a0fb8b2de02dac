package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// Call is one outbound call: a SIP dialog toward the trunk joined to the
// browser leg of the signaling session that placed it.
type Call struct {
	ID        string
	RequestID string
	From, To  string // E.164
	Metadata  json.RawMessage

	b       *Bridge
	seat    *config.Seat
	leg     BrowserLeg
	onState func(CallState)
	log     *slog.Logger

	ctx    context.Context // detached from the request; cancelled with the end cause
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu         sync.Mutex
	state      string                      // guarded by mu
	startedAt  time.Time                   // guarded by mu
	answeredAt time.Time                   // guarded by mu
	endedAt    time.Time                   // guarded by mu
	cause      *record.Cause               // guarded by mu; set once, when the end is known
	dialog     *sipgo.DialogClientSession  // guarded by mu
	remote     remoteMedia                 // guarded by mu
	uplink     media.RTPHandler            // guarded by mu
	downlink   *media.Downlink             // guarded by mu
	uplinkStat func() media.StreamSnapshot // guarded by mu
	dtmfOut    dtmfSender                  // RFC 4733 sender on the uplink, nil for G.711 uplinks; guarded by mu

	localSDP        []byte        // our current SDP; guarded by mu
	sdpVer          uint64        // o= version of our last SDP; guarded by mu
	timer           sessionTimer  // negotiated session timer; guarded by mu
	refreshed       chan struct{} // the trunk refreshed the session (RFC 4028)
	pendingReinvite bool          // an offerless re-INVITE awaits its ACK's answer; guarded by mu
	held            bool          // the agent put the far end on hold; guarded by mu
	toBrowser       *gate         // the downlink's exit, closed while held; set once under mu
	toTrunk         *gate         // the uplink's exit, closed while held; set once under mu
	legBase         LegCounters   // the browser leg's counters when this call joined it; guarded by mu
	onDTMF          func(callID string, digit rune)

	gotResponse atomic.Bool // any response to the INVITE arrived

	sipCallID string // set before the INVITE is sent, read-only after
	rtp       *rtpSession
}

func newCall(b *Bridge, req CallRequest, id, from, to string) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{
		ID:        id,
		RequestID: req.RequestID,
		From:      from,
		To:        to,
		Metadata:  req.Metadata,
		b:         b,
		seat:      req.Auth.Seat,
		leg:       req.Leg,
		onState:   req.OnState,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		refreshed: make(chan struct{}, 1),
		onDTMF:    req.OnDTMF,
		startedAt: time.Now(),
	}
	c.log = b.log.With("call_id", id, "seat", c.seat.ID)
	if c.onState == nil {
		c.onState = func(CallState) {}
	}
	return c
}

// Seat is the seat that placed the call.
func (c *Call) Seat() *config.Seat { return c.seat }

// Done is closed when the call has ended and its resources are freed.
func (c *Call) Done() <-chan struct{} { return c.done }

// State is the call's current state.
func (c *Call) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Hangup ends the call on the agent's behalf: CANCEL before answer, BYE after.
//
// Before the trunk has answered the INVITE at all, CANCEL must wait for a
// provisional response (RFC 3261 §9.1), which may take until Timer B; the
// agent is told the call ended at once and the SIP side finishes behind.
func (c *Call) Hangup() {
	c.end(ErrAgentHangup)
	if c.State() == StateDialing && !c.gotResponse.Load() {
		c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: "Canceled by the agent", By: record.ByAgent})
		c.emit(StateEnded)
	}
}

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
	c.log.Info("call state", "state", state)
	c.onState(cs)
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

// run drives the call from INVITE to its end. It runs on its own goroutine.
func (c *Call) run() {
	defer c.finish()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("call panicked", "panic", r, "stack", string(debug.Stack()))
			c.setCause(record.Cause{Q850: record.Q850TemporaryFailure, Reason: "internal error", By: record.ByBridge})
			c.cancel(fmt.Errorf("panic: %v", r))
		}
	}()
	c.b.publish(c, eventInitiated)

	conn, err := c.b.ports.listen()
	if err != nil {
		c.log.Error("no RTP port", "error", err)
		c.setCause(record.Cause{Q850: record.Q850TemporaryFailure, Reason: "no RTP port available", By: record.ByBridge})
		return
	}
	c.rtp = newRTPSession(conn, c.log)
	go c.rtp.readLoop()

	local := c.rtp.localAddr()
	sdpAddr := netip.AddrPortFrom(c.b.sdpIP, local.Port())
	ver := uint64(time.Now().Unix())
	offer := sdpOffer(ver, sdpAddr, c.b.codecs)
	c.mu.Lock()
	c.localSDP = offer
	c.sdpVer = ver
	c.mu.Unlock()
	p := inviteParams{
		from: c.From, to: c.To, callID: uuid.NewString(), fromTag: sip.GenerateTagN(16), cseq: 1, sdp: offer,
		se: c.b.cfg.SIP.SessionExpires, minSE: c.b.cfg.SIP.MinSE,
	}
	c.sipCallID = p.callID
	c.b.registerSIPCallID(c.sipCallID, c)
	c.emit(StateDialing)

	var dialog *sipgo.DialogClientSession
	for attempt := 0; ; attempt++ {
		var ringCause error
		var err error
		dialog, ringCause, err = c.invite(p)
		if err == nil {
			break
		}
		// 422 Session Interval Too Small (RFC 4028 §7.4): retry once
		// with the trunk's Min-SE.
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) && dr.Res.StatusCode == 422 && p.se > 0 && attempt == 0 {
			if minSE, perr := parseMinSE(dr.Res); perr == nil {
				c.log.Info("trunk asks for a longer session interval", "min_se", minSE)
				p.se, p.minSE = max(p.se, minSE), minSE
				p.cseq = dr.Res.CSeq().SeqNo + 1
				continue
			}
		}
		if dialog == nil {
			c.log.Warn("INVITE not sent", "error", err)
			c.setCause(record.Cause{SIPCode: 503, Q850: record.Q850NetworkOutOfOrdr, Reason: "trunk unreachable: " + err.Error(), By: record.ByBridge})
			return
		}
		c.unanswered(dialog, err, ringCause)
		return
	}

	if err := c.answered(dialog); err != nil {
		c.log.Warn("answer not usable", "error", err)
		c.setCause(record.Cause{SIPCode: 488, Q850: 127, Reason: err.Error(), By: record.ByBridge})
		c.bye(dialog)
		return
	}
	c.talk(dialog)
}

// invite sends one INVITE and waits for its final response. ringCause
// says which of our timers, if any, cut the wait short. dialog is nil when
// the INVITE could not be sent.
func (c *Call) invite(p inviteParams) (dialog *sipgo.DialogClientSession, ringCause, err error) {
	dialog, err = c.b.dialogUA.WriteInvite(c.ctx, c.b.newInvite(p))
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	c.dialog = dialog
	c.mu.Unlock()

	ringTimeout := c.b.cfg.SIP.RingTimeout
	if ringTimeout <= 0 {
		ringTimeout = 60 * time.Second
	}
	waitCtx, cancelWait := context.WithCancelCause(c.ctx)
	defer cancelWait(nil)
	ring := time.AfterFunc(ringTimeout, func() { cancelWait(ErrRingTimeout) })
	defer ring.Stop()
	// No response at all within sip.invite_timeout: give up without
	// CANCEL, which needs a provisional response (RFC 3261 §9.1).
	var answered atomic.Bool
	if d := c.b.cfg.SIP.InviteTimeout; d > 0 {
		t := time.AfterFunc(d, func() {
			if !answered.Load() {
				cancelWait(sipgo.WaitAnswerForceCancelErr)
			}
		})
		defer t.Stop()
	}
	err = dialog.WaitAnswer(waitCtx, sipgo.AnswerOptions{
		Username: c.seat.SIPUsername,
		Password: c.seat.SIPPassword,
		OnResponse: func(res *sip.Response) error {
			answered.Store(true)
			c.gotResponse.Store(true)
			return c.onResponse(res)
		},
	})
	return dialog, context.Cause(waitCtx), err
}

// onResponse handles provisional responses (RFC 3261 §13.2.2.1).
func (c *Call) onResponse(res *sip.Response) error {
	switch {
	case res.StatusCode == sip.StatusRinging:
		if len(res.Body()) > 0 {
			c.earlyMedia(res)
			return nil
		}
		c.ringing()
	case res.StatusCode == sip.StatusSessionInProgress:
		if len(res.Body()) > 0 {
			c.earlyMedia(res)
			return nil
		}
		c.ringing()
	}
	return nil
}

// ringing emits ringing and its event once. Events are committed before
// the agent is told, so a crash in between never leaves a state the agent
// saw without its record.
func (c *Call) ringing() {
	if c.State() == StateDialing {
		c.b.publish(c, eventRinging)
		c.emit(StateRinging)
	}
}

// earlyMedia starts media on a provisional response with SDP (RFC 3960).
func (c *Call) earlyMedia(res *sip.Response) {
	rm, err := parseAnswer(res.Body(), c.b.codecs)
	if err != nil {
		c.log.Warn("early media SDP not usable", "error", err)
		c.ringing()
		return
	}
	if err := c.setupMedia(rm); err != nil {
		c.log.Warn("early media not started", "error", err)
		return
	}
	if c.State() == StateDialing {
		c.b.publish(c, eventRinging)
	}
	c.emit(StateEarlyMedia)
}

// setupMedia joins the legs on the trunk's SDP, or re-targets them when a
// later SDP (the 200 after a 183) differs.
func (c *Call) setupMedia(rm remoteMedia) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.downlink != nil {
		if rm.Addr != c.remote.Addr {
			c.rtp.relatch(rm.Addr, !rm.PrivateAddr)
		}
		if rm.Codec == c.remote.Codec {
			c.remote = rm
			return nil
		}
	}
	if c.toBrowser == nil {
		// Holding gates what leaves each pipeline, not what enters it, so
		// the counters keep running and a hold is not counted as loss.
		c.toBrowser = &gate{next: c.leg.Downlink()}
		c.toTrunk = &gate{next: c.rtp}
		c.legBase = c.leg.Counters()
	}
	down, err := media.NewDownlink(media.DownlinkConfig{In: rm.Codec, Out: c.leg.DownlinkCodec(), SSRC: rand.Uint32()}, c.toBrowser)
	if err != nil {
		return err
	}
	var up media.RTPHandler
	var upStats func() media.StreamSnapshot
	if in := c.leg.UplinkCodec(); in.Name == "opus" {
		u, err := media.NewUplink(media.UplinkConfig{Codec: rm.Codec, SSRC: rand.Uint32(), OpusPayloadType: in.PayloadType}, c.toTrunk)
		if err != nil {
			return err
		}
		up, upStats = u, u.Stats
		c.dtmfOut = u
	} else {
		u, err := media.NewDownlink(media.DownlinkConfig{In: in, Out: rm.Codec, SSRC: rand.Uint32()}, c.toTrunk)
		if err != nil {
			return err
		}
		up, upStats = u, u.Stats
	}
	c.remote = rm
	c.downlink = down
	c.uplink = up
	c.uplinkStat = upStats
	c.rtp.audioPT.Store(uint32(rm.Codec.PayloadType))
	c.rtp.dtmfPT.Store(uint32(rm.DTMFType))
	if rm.DTMFType != 0 && c.rtp.dtmf.Load() == nil {
		rx := media.NewDTMFReceiver(8000, func(d rune, _ time.Duration) { c.deliverDigit(d) })
		c.rtp.dtmf.Store(&handlerBox{rx})
	}
	c.rtp.setRemote(rm.Addr, !rm.PrivateAddr)
	c.rtp.setHandler(down)
	c.leg.AttachUplink(up)
	c.log.Info("media joined", "uplink", up.String(), "downlink", down.String(), "remote", rm.Addr.String())
	return nil
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
		c.bye(dialog)
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
	switch {
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

// answered handles the 2xx: final SDP, ACK (RFC 3261 §13.2.2.4), state.
func (c *Call) answered(dialog *sipgo.DialogClientSession) error {
	res := dialog.InviteResponse
	rm, perr := parseAnswer(res.Body(), c.b.codecs)
	if perr != nil {
		c.mu.Lock()
		joined := c.downlink != nil
		c.mu.Unlock()
		if !joined || len(res.Body()) > 0 {
			_ = dialog.Ack(c.ctx)
			return perr
		}
	} else if err := c.setupMedia(rm); err != nil {
		_ = dialog.Ack(c.ctx)
		return err
	}
	if err := dialog.Ack(c.ctx); err != nil {
		c.log.Warn("ACK failed", "error", err)
	}
	c.mu.Lock()
	c.answeredAt = time.Now()
	if st, ok := parseSessionExpires(res); ok {
		if st.refresher == "" {
			st.refresher = "uac" // RFC 4028 §7.2: absent = the UAC refreshes
		}
		c.timer = st
		c.log.Info("session timer", "interval", st.interval, "refresher", st.refresher)
	}
	c.mu.Unlock()
	c.b.publish(c, eventAnswered)
	c.emit(StateAnswered)
	return nil
}

// talk waits for the answered call to end and hangs up on our side.
func (c *Call) talk(dialog *sipgo.DialogClientSession) {
	var maxDur <-chan time.Time
	if d := c.b.cfg.SIP.MaxCallDuration; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		maxDur = t.C
	}
	mediaTimeout := c.b.cfg.SIP.MediaTimeout
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	answeredAt := time.Now()
	go c.sessionTimerLoop(dialog)
	for {
		select {
		case <-c.ctx.Done():
			cause := context.Cause(c.ctx)
			switch {
			case errors.Is(cause, ErrRemoteHangup):
				// cause set by remoteBye
			case errors.Is(cause, ErrAgentHangup):
				c.setCause(record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByAgent})
				c.bye(dialog)
			default:
				c.setCause(c.bridgeCause(cause))
				c.bye(dialog)
			}
			return
		case <-dialog.Context().Done():
			c.setCause(record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByRemote})
			return
		case <-maxDur:
			c.end(ErrMaxDuration)
		case <-tick.C:
			if mediaTimeout > 0 {
				last := c.rtp.lastRecv.Load()
				since := time.Since(answeredAt)
				if last > 0 {
					since = time.Since(time.Unix(0, last))
				}
				if since > mediaTimeout && !c.onHold() {
					c.log.Warn("media timeout", "since", since)
					c.end(ErrMediaTimeout)
				}
			}
		}
	}
}

func (c *Call) onHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held || c.remote.Direction == "sendonly" || c.remote.Direction == "inactive"
}

// bye sends BYE (RFC 3261 §15.1.1) and waits briefly for its 200.
func (c *Call) bye(dialog *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dialog.Bye(ctx); err != nil {
		c.log.Warn("BYE failed", "error", err)
	}
}

// remoteBye is the trunk hanging up (RFC 3261 §15.1.2); the cause comes
// from a Reason header (RFC 3326) or is normal clearing.
func (c *Call) remoteBye(req *sip.Request, tx sip.ServerTransaction) {
	cause := record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByRemote}
	if q, text, ok := ReasonQ850(req); ok {
		cause.Q850, cause.Reason = q, text
	}
	c.setCause(cause)
	c.mu.Lock()
	dialog := c.dialog
	c.mu.Unlock()
	if dialog != nil {
		if err := dialog.ReadBye(req, tx); err != nil {
			c.log.Warn("BYE response failed", "error", err)
		}
	} else {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	}
	c.end(ErrRemoteHangup)
}

// finish frees the call's resources, sends ended and the completed event.
func (c *Call) finish() {
	c.leg.AttachUplink(nil)
	if c.rtp != nil {
		c.rtp.setHandler(nil)
		_ = c.rtp.close()
	}
	c.mu.Lock()
	if c.cause == nil {
		c.cause = &record.Cause{Q850: record.Q850TemporaryFailure, Reason: "call failed", By: record.ByBridge}
	}
	c.endedAt = time.Now()
	c.mu.Unlock()
	c.emit(StateEnded)
	c.b.publish(c, eventCompleted)
	c.b.forget(c)
	c.cancel(context.Canceled)
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

// Abandon ends the call because its browser session is gone for good
// (the socket dropped and was not resumed within the grace period).
func (c *Call) Abandon() { c.end(ErrBrowserGone) }

// dtmfSender is the uplink's RFC 4733 event sender.
type dtmfSender interface {
	SendDTMF(digit rune, dur time.Duration, pt uint8) error
}

// SendDTMF sends digits upstream: RFC 4733 events in the audio stream when
// the trunk negotiated telephone-event, else SIP INFO with
// application/dtmf-relay.
func (c *Call) SendDTMF(digits string, dur time.Duration) error {
	c.mu.Lock()
	out, pt, dialog, state := c.dtmfOut, c.remote.DTMFType, c.dialog, c.state
	c.mu.Unlock()
	if state != StateAnswered && state != StateEarlyMedia {
		return fmt.Errorf("%w: the call is not connected", errBadRequest)
	}
	if out != nil && pt != 0 {
		for _, d := range digits {
			if err := out.SendDTMF(d, dur, pt); err != nil {
				return fmt.Errorf("dtmf %q: %w", d, err)
			}
		}
		return nil
	}
	if dialog == nil || state != StateAnswered {
		return fmt.Errorf("%w: the trunk has no telephone-event and SIP INFO needs an answered call", errBadRequest)
	}
	go func() {
		for _, d := range digits {
			body := fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", d, dur.Milliseconds())
			req := sip.NewRequest(sip.INFO, dialog.InviteRequest.Contact().Address)
			if res := dialog.InviteResponse; res != nil && res.Contact() != nil {
				req = sip.NewRequest(sip.INFO, res.Contact().Address)
			}
			req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
			req.SetBody([]byte(body))
			ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
			res, err := dialog.Do(ctx, req)
			cancel()
			if err != nil || res.StatusCode >= 300 {
				c.log.Warn("SIP INFO DTMF failed", "digit", string(d), "error", err)
				return
			}
			time.Sleep(dur)
		}
	}()
	return nil
}

// gate passes packets on while open; Hold closes it.
type gate struct {
	next   media.RTPHandler
	closed atomic.Bool
}

func (g *gate) HandleRTP(h *rtp.Header, payload []byte) error {
	if g.closed.Load() {
		return nil
	}
	return g.next.HandleRTP(h, payload)
}

func (g *gate) String() string { return g.next.String() }
