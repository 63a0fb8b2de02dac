package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/phone"
	"github.com/callbridge/callbridge/record"
)

// Inbound calls (docs/TRUNKS.md, "Inbound calls"): the trunk sends an
// INVITE to a DID of a seat; the bridge answers it as the UAS, rings every
// live session of the seat, and joins the SIP leg to the browser leg of the
// session that accepts first. Nobody answering applies the seat's fallback.

// Ringer finds the live signaling sessions of a seat. signaling implements
// it and registers itself with SetRinger, so the bridge never imports
// signaling.
type Ringer interface {
	// SessionsOf returns the sessions of seat that may ring now.
	SessionsOf(seat string) []RingTarget
}

// RingTarget is one signaling session an inbound call rings.
type RingTarget interface {
	SessionID() string
	// Incoming tells the session about the call; it must not block.
	Incoming(in Incoming)
	// State sends a call_state of the call to the session; it must not block.
	State(cs CallState)
}

// Incoming is an inbound call as the sessions it rings see it
// (signaling.md, "Inbound calls").
type Incoming struct {
	CallID      string
	From        string // E.164 when it normalizes, else as presented
	FromRaw     string // the From user as the trunk presented it
	To          string // the DID, E.164
	DisplayName string // the From display name, if any
	Seat        string // the seat the DID belongs to
}

// AnswerRequest is a session accepting a ringing inbound call.
type AnswerRequest struct {
	SessionID string
	Seat      string
	Leg       BrowserLeg
	// OnState receives every call_state from now on; it must not block.
	OnState func(CallState)
	// OnDTMF receives digits the far end sent; it must not block.
	OnDTMF func(callID string, digit rune)
}

// ErrUnknownCall refuses an accept or reject for a call that is not
// ringing the session (unknown, ended or answered).
var ErrUnknownCall = &Error{"unknown_call", "no such ringing call for this session"}

// errForwardHangup ends a forwarded call whose forward leg hung up.
var errForwardHangup = errors.New("the forwarded party hung up")

// Causes of the sessions an inbound call stops ringing.
const (
	ReasonAnsweredElsewhere = "answered_elsewhere"
	ReasonDeclined          = "declined"
	q850NonSelectedUser     = 26 // Q.850 "non-selected user clearing"
)

// SetRinger registers the signaling side that rings a seat's sessions.
func (b *Bridge) SetRinger(r Ringer) {
	b.mu.Lock()
	b.ringer = r
	b.mu.Unlock()
}

func (b *Bridge) sessionsOf(seat string) []RingTarget {
	b.mu.Lock()
	r := b.ringer
	b.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.SessionsOf(seat)
}

// seatForDID is the seat a DID (E.164) belongs to: the one lookup of
// inbound routing.
func (b *Bridge) seatForDID(did string) (*config.Seat, bool) {
	if b.dids != nil {
		return b.dids(did)
	}
	for i := range b.cfg.Seats {
		for _, id := range b.cfg.Seats[i].CallerIDs {
			if id == did {
				return &b.cfg.Seats[i], true
			}
		}
	}
	return nil, false
}

// seatByID is a seat by its id (hunt groups).
func (b *Bridge) seatByID(id string) (*config.Seat, bool) {
	if b.seats != nil {
		return b.seats(id)
	}
	return b.cfg.Seat(id)
}

// defaultRegion normalizes numbers the trunk sends without a country code.
func (b *Bridge) defaultRegion() string {
	if len(b.cfg.Seats) > 0 {
		return b.cfg.Seats[0].Country
	}
	return ""
}

// routeInbound reads the called number from where inbound.called_number
// says, in order, and returns the first that is a seat's DID.
func (b *Bridge) routeInbound(req *sip.Request) (did string, seat *config.Seat, ok bool) {
	for _, where := range b.cfg.Inbound.CalledNumber {
		var user string
		switch where {
		case config.CalledRequestURI:
			user = req.Recipient.User
		case config.CalledTo:
			if to := req.To(); to != nil {
				user = to.Address.User
			}
		case config.CalledDiversion:
			if h := req.GetHeader("Diversion"); h != nil {
				user = uriUser(h.Value())
			}
		case config.CalledPCalled:
			if h := req.GetHeader("P-Called-Party-ID"); h != nil {
				user = uriUser(h.Value())
			}
		}
		if user == "" {
			continue
		}
		n, err := phone.Normalize(user, b.defaultRegion())
		if err != nil {
			continue
		}
		if s, found := b.seatForDID(n); found {
			return n, s, true
		}
	}
	return "", nil, false
}

// uriUser is the user part of a name-addr or addr-spec header value
// (`"Name" <sip:+1555@host>;reason=x`, `<tel:+1555>`).
func uriUser(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.TrimSpace(v)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
			v = v[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(v, "@;?"); i >= 0 {
		v = v[:i]
	}
	return v
}

// inbound is the ringing state of an inbound call.
type inbound struct {
	offer   []byte        // the INVITE's SDP; nil = delayed offer (RFC 3261 §13.2.1)
	fromRaw string        // the From user as presented
	display string        // the From display name
	final   chan struct{} // closed once the INVITE has its final response
	once    sync.Once
	changed chan struct{} // an accept or a decline; buffered 1

	mu       sync.Mutex
	targets  map[string]RingTarget // sessions ringing now, by id; guarded by mu
	declined int                   // sessions of this stage that declined; guarded by mu
	ringing  bool                  // sessions may accept; guarded by mu
	winner   *AnswerRequest        // guarded by mu
}

func (in *inbound) finalSent() { in.once.Do(func() { close(in.final) }) }

func (in *inbound) signal() {
	select {
	case in.changed <- struct{}{}:
	default:
	}
}

// onNewInvite takes an INVITE outside any dialog: a call from the trunk to
// a DID. It returns once the INVITE has its final response: sipgo ends the
// server transaction when the handler returns.
func (b *Bridge) onNewInvite(req *sip.Request, tx sip.ServerTransaction) {
	did, seat, ok := b.routeInbound(req)
	if !ok {
		b.metrics.inboundRefused.WithLabelValues("unknown_did").Inc()
		b.respond(req, tx, sip.StatusNotFound, "Not Found")
		return
	}
	var offer []byte
	if len(req.Body()) > 0 {
		if _, err := parseAnswer(req.Body(), b.codecs); err != nil {
			b.log.Info("inbound INVITE with an unusable offer", "error", err)
			b.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		offer = req.Body()
	}
	dialog, err := b.dialogUA.ReadInvite(req, tx)
	if err != nil {
		b.respond(req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	c := newInboundCall(b, seat, req, did, dialog, offer)
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		_ = dialog.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	b.calls[c.ID] = c
	b.bySIPID[c.sip.callID] = c
	b.wg.Add(1)
	b.mu.Unlock()
	b.metrics.callsStarted.Inc()
	b.metrics.callsActive.Inc()
	go func() {
		defer b.wg.Done()
		c.runInbound()
	}()
	<-c.inb.final
}

func newInboundCall(b *Bridge, seat *config.Seat, req *sip.Request, did string, dialog *sipgo.DialogServerSession, offer []byte) *Call {
	from := req.From()
	raw, display := "", ""
	if from != nil {
		raw, display = from.Address.User, strings.Trim(from.DisplayName, `"`)
	}
	norm, err := phone.Normalize(raw, seat.Country)
	if err != nil {
		norm = raw
	}
	c := newCall(b, CallRequest{Auth: &SeatAuth{Seat: seat}}, norm, did)
	c.direction = record.DirectionInbound
	c.inb = &inbound{offer: offer, fromRaw: raw, display: display, final: make(chan struct{}), changed: make(chan struct{}, 1)}
	c.onState = c.fanOut
	l := c.sip
	l.callID = req.CallID().Value()
	l.uas = dialog
	l.fromTag, _ = dialog.InviteRequest.To().Params.Get("tag")
	l.remoteTag, _ = from.Params.Get("tag")
	return c
}

// fanOut sends a call_state to every session the call rings.
func (c *Call) fanOut(cs CallState) {
	c.inb.mu.Lock()
	targets := make([]RingTarget, 0, len(c.inb.targets))
	for _, t := range c.inb.targets {
		targets = append(targets, t)
	}
	c.inb.mu.Unlock()
	for _, t := range targets {
		t.State(cs)
	}
}

// respondInvite sends a final response to the INVITE that is not a 2xx.
func (c *Call) respondInvite(code int, reason string) {
	defer c.inb.finalSent()
	if err := c.sip.uas.Respond(code, reason, nil); err != nil {
		c.log.Info("final response not sent", "code", code, "error", err)
	}
}

// runInbound drives an inbound call from its INVITE to its end.
func (c *Call) runInbound() {
	defer c.finish()
	defer c.inb.finalSent()
	defer c.recoverPanic("run")
	c.b.publish(c, eventInitiated)
	if err := c.sip.open(); err != nil {
		c.log.Error("no RTP port", "error", err)
		c.setCause(record.Cause{SIPCode: 503, Q850: record.Q850TemporaryFailure, Reason: "no RTP port available", By: record.ByBridge})
		c.respondInvite(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if c.inb.offer != nil {
		rm, err := parseAnswer(c.inb.offer, c.b.codecs)
		if err == nil {
			err = c.sip.setRemote(rm)
		}
		if err != nil {
			c.setCause(record.Cause{SIPCode: 488, Q850: record.Q850Interworking, Reason: err.Error(), By: record.ByBridge})
			c.respondInvite(sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
	}
	// RFC 3261 §13.3.1.1: ringing at once; the CRM gets its screen-pop.
	if err := c.sip.uas.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		c.log.Info("180 not sent", "error", err)
	}
	c.b.publish(c, eventRinging)

	stages := [][]*config.Seat{{c.seat}}
	fallback := c.seat.InboundFallback
	if fallback == "" {
		fallback = c.b.cfg.Inbound.Fallback
	}
	if fallback == config.FallbackSeats {
		var hunt []*config.Seat
		for _, id := range c.seat.InboundHunt {
			if s, ok := c.b.seatByID(id); ok {
				hunt = append(hunt, s)
			}
		}
		stages = append(stages, hunt)
		fallback = c.b.cfg.Inbound.Fallback
	}
	var winner *AnswerRequest
	var missed string
	for _, seats := range stages {
		winner, missed = c.ring(seats)
		if winner != nil || missed == record.MissedCallerHungUp || missed == "" {
			break
		}
	}
	switch {
	case winner != nil:
		c.answerInbound(winner)
		return
	case missed == record.MissedCallerHungUp:
		c.setMissed(missed)
		c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: "The caller hung up while it rang", By: record.ByRemote})
		return
	case missed == "":
		// The call's context ended (shutdown).
		c.setCause(c.bridgeCause(context.Cause(c.ctx)))
		c.respondInvite(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	c.setMissed(missed)
	c.log.Info("inbound call missed", "reason", missed, "fallback", fallback)
	switch fallback {
	case config.FallbackForward:
		c.forward(c.seat.InboundForwardTo)
	case config.FallbackUnavailable:
		c.setCause(record.Cause{SIPCode: 480, Q850: record.Q850FromSIP(480), Reason: "Temporarily Unavailable (" + missed + ")", By: record.ByBridge})
		c.respondInvite(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
	default:
		c.setCause(record.Cause{SIPCode: 486, Q850: record.Q850UserBusy, Reason: "Busy Here (" + missed + ")", By: record.ByBridge})
		c.respondInvite(sip.StatusBusyHere, "Busy Here")
	}
}

func (c *Call) setMissed(reason string) {
	c.mu.Lock()
	c.missed = reason
	c.mu.Unlock()
}

// ring rings the live sessions of seats until one accepts, all decline,
// inbound.ring_timeout passes or the caller hangs up. missed is "" when
// the call's own context ended.
func (c *Call) ring(seats []*config.Seat) (winner *AnswerRequest, missed string) {
	in := c.inb
	targets := map[string]RingTarget{}
	for _, s := range seats {
		for _, t := range c.b.sessionsOf(s.ID) {
			targets[t.SessionID()] = t
		}
	}
	if len(targets) == 0 {
		return nil, record.MissedNoSession
	}
	in.mu.Lock()
	in.targets, in.declined, in.ringing, in.winner = maps.Clone(targets), 0, true, nil
	in.mu.Unlock()
	c.mu.Lock()
	c.state = StateRinging
	c.mu.Unlock()
	inc := Incoming{CallID: c.ID, From: c.From, FromRaw: in.fromRaw, To: c.To, DisplayName: in.display, Seat: c.seat.ID}
	ringing := CallState{CallID: c.ID, State: StateRinging, To: c.To, From: c.From}
	for _, t := range targets {
		t.Incoming(inc)
		t.State(ringing)
	}
	c.log.Info("ringing", "sessions", len(targets))

	timer := c.clock.NewTimer(c.b.cfg.Inbound.RingTimeout)
	defer timer.Stop()
	defer func() {
		in.mu.Lock()
		left := in.targets
		in.targets, in.ringing = nil, false
		in.mu.Unlock()
		if winner != nil {
			c.stopRinging(left, record.Cause{Q850: q850NonSelectedUser, Reason: ReasonAnsweredElsewhere, By: record.ByBridge})
			return
		}
		reason := "missed: " + missed
		by := record.ByBridge
		if missed == record.MissedCallerHungUp {
			by = record.ByRemote
		}
		c.stopRinging(left, record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: reason, By: by})
	}()
	for {
		select {
		case <-in.changed:
			in.mu.Lock()
			w, none := in.winner, len(in.targets) == 0 && in.declined > 0
			in.mu.Unlock()
			if w != nil {
				return w, ""
			}
			if none {
				return nil, record.MissedDeclined
			}
		case <-timer.C():
			return nil, record.MissedTimeout
		case <-c.sip.uas.Context().Done():
			return nil, record.MissedCallerHungUp // CANCEL (RFC 3261 §9.2)
		case <-c.ctx.Done():
			return nil, ""
		}
	}
}

// stopRinging ends the call for sessions that no longer ring.
func (c *Call) stopRinging(targets map[string]RingTarget, cause record.Cause) {
	for _, t := range targets {
		cause := cause
		t.State(CallState{CallID: c.ID, State: StateEnded, To: c.To, From: c.From, Cause: &cause})
	}
}

// Accept answers a ringing inbound call on the session's browser leg; the
// first accept wins (signaling.md, "Inbound calls").
func (b *Bridge) Accept(ctx context.Context, callID string, req AnswerRequest) (CallControl, error) {
	c, ok := b.Call(callID)
	if !ok || c.inb == nil {
		return nil, ErrUnknownCall
	}
	if !c.rings(req.SessionID) {
		return nil, ErrUnknownCall
	}
	wctx, cancel := context.WithTimeout(ctx, DefaultMediaWait)
	err := req.Leg.WaitMedia(wctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMedia, err)
	}
	in := c.inb
	in.mu.Lock()
	if !in.ringing || in.winner != nil || in.targets[req.SessionID] == nil {
		in.mu.Unlock()
		return nil, ErrUnknownCall
	}
	in.winner = &req
	delete(in.targets, req.SessionID)
	in.mu.Unlock()
	in.signal()
	return c, nil
}

// rings says whether the call rings the session now.
func (c *Call) rings(sessionID string) bool {
	c.inb.mu.Lock()
	defer c.inb.mu.Unlock()
	return c.inb.ringing && c.inb.winner == nil && c.inb.targets[sessionID] != nil
}

// Reject declines a ringing inbound call for one session; the call rings
// on elsewhere, and the seat's fallback applies once every session
// declined. reason is busy or decline.
func (b *Bridge) Reject(callID, sessionID, reason string) error {
	c, ok := b.Call(callID)
	if !ok || c.inb == nil {
		return ErrUnknownCall
	}
	in := c.inb
	in.mu.Lock()
	t := in.targets[sessionID]
	if !in.ringing || in.winner != nil || t == nil {
		in.mu.Unlock()
		return ErrUnknownCall
	}
	delete(in.targets, sessionID)
	in.declined++
	in.mu.Unlock()
	c.log.Info("declined", "session_id", sessionID, "reason", reason)
	cause := record.Cause{Q850: record.Q850CallRejected, Reason: ReasonDeclined, By: record.ByAgent}
	if reason == "busy" {
		cause.Q850 = record.Q850UserBusy
	}
	t.State(CallState{CallID: c.ID, State: StateEnded, To: c.To, From: c.From, Cause: &cause})
	in.signal()
	return nil
}

// answerInbound connects the accepting session: the joint to its browser
// leg, then 200 with our answer (or, for a delayed offer, our offer; the
// answer comes in the ACK, RFC 3264 §5).
func (c *Call) answerInbound(w *AnswerRequest) {
	c.mu.Lock()
	c.onState, c.onDTMF = w.OnState, w.OnDTMF
	c.answeredBy = &record.AnsweredBy{Seat: w.Seat, SessionID: w.SessionID}
	c.mu.Unlock()
	c.log = c.log.With("session_id", w.SessionID)
	c.joint.setLeg(w.Leg)
	if !c.answerInvite() {
		return
	}
	c.connected()
	c.talk(c.sip.uas)
}

// answerInvite sends the 200 and waits for its ACK. false when the call
// could not be answered (its cause is set).
func (c *Call) answerInvite() bool {
	defer c.inb.finalSent()
	var body []byte
	if c.inb.offer != nil {
		rm := c.sip.remoteSDP()
		if err := c.remoteMedia(rm); err != nil {
			c.setCause(record.Cause{SIPCode: 488, Q850: record.Q850Interworking, Reason: err.Error(), By: record.ByBridge})
			c.respondInvite(sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return false
		}
		body = c.sip.answerSDP(rm)
		c.sip.mu.Lock()
		c.sip.localSDP = body
		c.sip.mu.Unlock()
	} else {
		c.sip.mu.Lock()
		body = c.sip.localSDP
		c.sip.pendingReinvite = true
		c.sip.mu.Unlock()
	}
	res := sip.NewResponseFromRequest(c.sip.uas.InviteRequest, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	// The INVITE's handler waits until here: sipgo ends a server
	// transaction without a final response when its handler returns.
	if err := c.sip.uas.WriteResponse(res); err != nil {
		c.log.Warn("200 to the INVITE not acknowledged", "error", err)
		c.setCause(record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "no ACK for the answer: " + err.Error(), By: record.ByBridge})
		return false
	}
	return true
}

// connected marks the inbound call answered.
func (c *Call) connected() {
	c.mu.Lock()
	c.answeredAt = c.clock.Now()
	c.mu.Unlock()
	c.b.publish(c, eventAnswered)
	c.emit(StateAnswered)
}

// forward places a new call to number with the seat's caller id (the DID
// that was called) and joins it to the caller: SIP leg to SIP leg.
func (c *Call) forward(number string) {
	if err := c.sip.uas.Respond(181, "Call Is Being Forwarded", nil); err != nil {
		c.log.Info("181 not sent", "error", err)
	}
	fwd := newSIPLeg(c.b, forwardOwner{c}, c.log.With("leg", "forward"))
	if err := fwd.open(); err != nil {
		c.setCause(record.Cause{SIPCode: 503, Q850: record.Q850TemporaryFailure, Reason: "no RTP port available", By: record.ByBridge})
		c.respondInvite(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	c.mu.Lock()
	c.fwd = fwd
	c.mu.Unlock()
	c.b.mu.Lock()
	c.b.bySIPID[fwd.callID] = c
	c.b.mu.Unlock()

	// The caller's CANCEL cancels the forward.
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stop := context.AfterFunc(c.sip.uas.Context(), cancel)
	defer stop()
	c.log.Info("forwarding", "to", number)
	dialog, _, err := fwd.dial(ctx, c.To, number, sipCredentials{c.seat.SIPUsername, c.seat.SIPPassword}, nil,
		TrunkHeaderData{Seat: c.seat.ID, CallerID: c.To, To: number, CallID: c.ID})
	if err != nil {
		if c.sip.uas.Context().Err() != nil {
			c.setCause(record.Cause{SIPCode: 487, Q850: record.Q850NormalClearing, Reason: "The caller hung up while it was forwarded", By: record.ByRemote})
			if dialog != nil && dialog.InviteResponse != nil && dialog.InviteResponse.IsSuccess() {
				_ = dialog.Ack(context.Background())
				fwd.bye(dialog)
			}
			return
		}
		code, reason := 480, "Temporarily Unavailable"
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) && dr.Res.StatusCode >= 400 {
			code, reason = dr.Res.StatusCode, dr.Res.Reason
		}
		c.log.Info("forward not answered", "error", err)
		c.setCause(record.Cause{SIPCode: code, Q850: record.Q850FromSIP(code), Reason: "forward to " + number + ": " + reason, By: record.ByRemote})
		c.respondInvite(code, reason)
		return
	}
	if err := fwd.answered(ctx, dialog); err != nil {
		c.setCause(record.Cause{SIPCode: 488, Q850: record.Q850Interworking, Reason: err.Error(), By: record.ByBridge})
		fwd.bye(dialog)
		c.respondInvite(sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	c.joint.setLeg(forwardLeg{fwd})
	if !c.answerInvite() {
		fwd.bye(dialog)
		return
	}
	c.connected()
	c.talk(c.sip.uas)
	if !errors.Is(context.Cause(c.ctx), errForwardHangup) {
		fwd.bye(dialog)
	}
}

// forwardOwner is the call as the forward leg's owner: the forward leg's
// media is joined by the call's joint once it answers.
type forwardOwner struct{ c *Call }

func (forwardOwner) progress(bool)                 {}
func (forwardOwner) remoteMedia(remoteMedia) error { return nil }
func (forwardOwner) directionChanged()             {}
func (o forwardOwner) digit(d rune) {
	o.c.log.Info("digit from the forwarded party", "digit", string(d))
}
func (o forwardOwner) hungUp(cause record.Cause) {
	o.c.setCause(cause)
	o.c.end(errForwardHangup)
}

// forwardLeg is a SIP leg in the place of a browser leg: the joint joins
// the caller's SIP leg to it, G.711 to G.711.
type forwardLeg struct{ l *sipLeg }

func (f forwardLeg) InCodec() media.Codec  { return f.l.remoteSDP().Codec }
func (f forwardLeg) OutCodec() media.Codec { return f.l.remoteSDP().Codec }
func (f forwardLeg) Out() media.RTPHandler { return f.l.mediaSession() }
func (f forwardLeg) SetIn(h media.RTPHandler) {
	if ms := f.l.mediaSession(); ms != nil {
		ms.setAudio(f.l.remoteSDP().Codec.PayloadType, h)
	}
}
func (f forwardLeg) WaitMedia(context.Context) error { return nil }
func (f forwardLeg) Counters() LegCounters {
	ms := f.l.mediaSession()
	lc := LegCounters{ICEState: "sip"}
	if ms != nil {
		lc.FromBrowser, lc.ToBrowser, lc.FromBrowserBad = ms.recv.Load(), ms.sent.Load(), ms.bad.Load()
		if n := ms.lastRecv.Load(); n > 0 {
			lc.LastToBrowserAt = time.Unix(0, n)
		}
	}
	return lc
}
