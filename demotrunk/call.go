package demotrunk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// byeTimeout bounds the wait for the 200 to a BYE the trunk sends.
const byeTimeout = 2 * time.Second

// call is one accepted INVITE: its dialog, its RTP session and its script.
type call struct {
	t      *Trunk
	log    *slog.Logger
	callID string
	dlg    *sipgo.DialogServerSession
	media  *media
	offer  offer // the accepted initial offer; read-only after creation
	sessID uint64

	mu      sync.Mutex
	answer  []byte // guarded by mu; the last SDP answer sent
	version uint64 // guarded by mu; its o= session version

	byeFrom atomic.Pointer[string] // first writer wins: ByeCaller, ByeRemote or ByeCancel
}

// onInvite handles an INVITE outside a dialog (RFC 3261 §13.3); it runs for
// the whole call, which keeps the INVITE server transaction alive.
func (t *Trunk) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		t.onReInvite(req, tx)
		return
	}
	cid := req.CallID()
	if cid == nil || req.From() == nil || req.To() == nil {
		t.respond(tx, sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	callID := cid.Value()
	t.rec.update(callID, func(r *CallRecord) {
		r.Invites = append(r.Invites, req.Clone())
		r.From, r.FromUser = req.From().Address.String(), req.From().Address.User
		r.To, r.ToUser = req.To().Address.String(), req.To().Address.User
		r.RequestURI = req.Recipient.String()
		r.Ended = false
	})
	log := t.log.With("call_id", callID, "to", req.Recipient.User)

	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		t.final(tx, req, callID, 503, "Service Unavailable")
		return
	}
	t.calls.Add(1)
	dialogUA := t.dialogUA
	t.mu.Unlock()
	defer t.calls.Done()

	// RFC 3261 §8.2.6.1: 100 Trying at once.
	t.reply(tx, sip.NewResponseFromRequest(req, 100, "Trying", nil), callID)

	if t.auth != nil {
		user, err := t.auth.check(req)
		switch {
		case errors.Is(err, ErrAuthMissing), errors.Is(err, ErrAuthStale):
			// RFC 3261 §22.3: challenge as a proxy would.
			res := sip.NewResponseFromRequest(req, 407, "Proxy Authentication Required", nil)
			res.AppendHeader(sip.NewHeader("Proxy-Authenticate", t.auth.challenge(errors.Is(err, ErrAuthStale))))
			t.reply(tx, res, callID)
			return
		case err != nil:
			log.Info("invite rejected", "error", err)
			t.final(tx, req, callID, 403, "Forbidden")
			return
		}
		t.rec.update(callID, func(r *CallRecord) { r.AuthUser = user })
	}

	num := number(req.Recipient.User)
	if num == "" {
		log.Info("unknown number")
		t.final(tx, req, callID, 404, "Not Found")
		return
	}
	if req.Contact() == nil {
		t.final(tx, req, callID, 400, "Missing Contact")
		return
	}
	if ct := req.ContentType(); ct != nil && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct.Value())), "application/sdp") {
		// RFC 3261 §21.4.13.
		res := sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		t.reply(tx, res, callID)
		return
	}
	o, err := parseOffer(req.Body())
	if err != nil {
		code, reason := sipStatus(err)
		log.Info("offer rejected", "error", err, "status", code)
		t.final(tx, req, callID, code, reason)
		return
	}
	conn, err := listenRTP(t.rtpHost, t.opts.RTPPorts)
	if err != nil {
		log.Error("rtp socket", "error", err)
		t.final(tx, req, callID, 503, "Service Unavailable")
		return
	}
	dlg, err := dialogUA.ReadInvite(req, tx)
	if err != nil {
		_ = conn.Close()
		log.Info("invite not usable for a dialog", "error", err)
		t.final(tx, req, callID, 400, "Bad Request")
		return
	}

	c := &call{
		t:      t,
		log:    log,
		callID: callID,
		dlg:    dlg,
		offer:  o,
		sessID: randUint64(),
	}
	c.media = newMedia(log, conn, o)
	c.media.onAudio = func(pcm []int16) {
		t.rec.update(callID, func(r *CallRecord) {
			if room := maxReceived - len(r.Received); room > 0 {
				r.Received = append(r.Received, pcm[:min(room, len(pcm))]...)
			}
		})
	}
	c.media.onDigit = func(d byte) {
		t.rec.update(callID, func(r *CallRecord) { r.Digits += string(d) })
	}
	if _, err := c.currentAnswer(); err != nil {
		_ = conn.Close()
		log.Error("sdp answer", "error", err)
		t.final(tx, req, callID, 500, "Server Internal Error")
		return
	}
	t.rec.update(callID, func(r *CallRecord) { r.Codec = o.codec })

	t.mu.Lock()
	t.dialogs[dlg.ID] = c
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.dialogs, dlg.ID)
		t.mu.Unlock()
		_ = dlg.Close()
	}()
	log.Info("call", "number", num, "codec", o.codec, "rtp", conn.LocalAddr().String(), "remote_rtp", o.addr)
	c.run(num)
}

// provisionalGap spaces a provisional response from the next response.
// sipgo, like other UAs, handles each received message on its own goroutine:
// a 180 and a 200 sent back to back over loopback can be processed in the
// wrong order, and a 1xx arriving after the 2xx is dropped.
const provisionalGap = 20 * time.Millisecond

// reply sends a response outside the dialog layer and records its status.
// The status is recorded before it is sent: the caller may react to it
// (retry with credentials) faster than this goroutine runs on.
func (t *Trunk) reply(tx sip.ServerTransaction, res *sip.Response, callID string) {
	t.recordResponse(callID, res.StatusCode)
	if err := tx.Respond(res); err != nil {
		t.log.Debug("respond", "call_id", callID, "status", res.StatusCode, "error", err)
		t.unrecordResponse(callID, res.StatusCode)
		return
	}
	if res.IsProvisional() {
		time.Sleep(provisionalGap)
	}
}

func (t *Trunk) recordResponse(callID string, code int) {
	t.rec.update(callID, func(r *CallRecord) {
		r.Responses = append(r.Responses, code)
		if code >= 300 {
			r.Ended = true
		}
	})
}

// unrecordResponse takes back a status that could not be sent.
func (t *Trunk) unrecordResponse(callID string, code int) {
	t.rec.update(callID, func(r *CallRecord) {
		for i := len(r.Responses) - 1; i >= 0; i-- {
			if r.Responses[i] == code {
				r.Responses = append(r.Responses[:i], r.Responses[i+1:]...)
				break
			}
		}
		if code >= 300 {
			r.Ended = false
		}
	})
}

func (t *Trunk) final(tx sip.ServerTransaction, req *sip.Request, callID string, code int, reason string) {
	t.reply(tx, sip.NewResponseFromRequest(req, code, reason, nil), callID)
}

// run plays the script of the dialed test number.
func (c *call) run(num string) {
	mediaCtx, stopMedia := context.WithCancel(context.Background())
	var mediaDone chan struct{}
	startMedia := func(s source, hz float64) {
		c.media.play(s, hz)
		if mediaDone == nil {
			mediaDone = make(chan struct{})
			go func() {
				defer close(mediaDone)
				c.media.run(mediaCtx)
			}()
		}
	}
	defer func() {
		stopMedia()
		if mediaDone != nil {
			<-mediaDone
		} else {
			_ = c.media.conn.Close()
		}
	}()

	opts := c.t.opts
	switch num {
	case NumberEcho:
		if !c.ring() || !c.pause(opts.RingFor) {
			c.unanswered()
			return
		}
		startMedia(sourceEcho, 0)
		if c.answerCall() {
			c.talk(0)
		}
	case NumberTone:
		if !c.ring() {
			c.unanswered()
			return
		}
		startMedia(sourceTone, opts.ToneHz)
		if c.answerCall() {
			c.talk(0)
		}
	case NumberBusy:
		if !c.ring() {
			c.unanswered()
			return
		}
		c.respond(486, "Busy Here", nil)
		c.ended("")
	case NumberNoAnswer:
		c.ring()
		c.pause(-1)
		c.unanswered()
	case NumberEarlyMedia:
		startMedia(sourceTone, opts.EarlyToneHz)
		answer, _ := c.currentAnswer()
		// RFC 3261 §13.3.1.1 and RFC 3960: 183 with the answer carries early media.
		if !c.respond(183, "Session Progress", answer, sip.NewHeader("Content-Type", "application/sdp")) || !c.pause(opts.EarlyMediaFor) {
			c.unanswered()
			return
		}
		c.media.play(sourceEcho, 0)
		if c.answerCall() {
			c.talk(0)
		}
	case NumberRemoteHangup:
		if !c.ring() {
			c.unanswered()
			return
		}
		startMedia(sourceTone, opts.ToneHz)
		if c.answerCall() {
			c.talk(opts.HangupAfter)
		}
	}
}

// respond sends a provisional or final response in the dialog and records it.
func (c *call) respond(code int, reason string, body []byte, hdrs ...sip.Header) bool {
	c.t.rec.update(c.callID, func(r *CallRecord) { r.Responses = append(r.Responses, code) })
	if err := c.dlg.Respond(code, reason, body, hdrs...); err != nil {
		c.log.Debug("respond", "status", code, "error", err)
		c.t.unrecordResponse(c.callID, code)
		return false
	}
	if code < 200 {
		time.Sleep(provisionalGap)
	}
	return true
}

func (c *call) ring() bool { return c.respond(180, "Ringing", nil) }

// pause waits d (forever when d < 0); false when the call was cancelled or
// the trunk is closing.
func (c *call) pause(d time.Duration) bool {
	var timer <-chan time.Time
	if d >= 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-timer:
		return true
	case <-c.dlg.Context().Done():
		return false
	case <-c.t.ctx.Done():
		return false
	}
}

// unanswered ends a call that got no 2xx: CANCEL (the transaction layer sent
// 487) or trunk shutdown (480).
func (c *call) unanswered() {
	if errors.Is(context.Cause(c.dlg.Context()), sip.ErrTransactionCanceled) {
		c.t.rec.update(c.callID, func(r *CallRecord) { r.Responses = append(r.Responses, 487) })
		c.ended(ByeCancel)
		return
	}
	if c.dlg.Context().Err() == nil {
		c.respond(480, "Temporarily Unavailable", nil)
	}
	c.ended("")
}

// answerCall sends 200 with the SDP answer and waits for the ACK (RFC 3261 §13.3.1.4).
func (c *call) answerCall() bool {
	answer, _ := c.currentAnswer()
	c.t.rec.update(c.callID, func(r *CallRecord) { r.Responses = append(r.Responses, 200) })
	err := c.dlg.RespondSDP(answer)
	if err != nil && c.dlg.LoadState() < sip.DialogStateEstablished {
		c.log.Info("answer not sent", "error", err)
		c.t.unrecordResponse(c.callID, 200)
		c.unanswered()
		return false
	}
	if err != nil {
		// The 2xx went out but no ACK came: RFC 3261 §13.3.1.4 says end it with BYE.
		c.log.Warn("no ACK for 200", "error", err)
		c.bye()
		return false
	}
	return true
}

// talk holds the answered call until the caller hangs up, the trunk closes
// or, when hangupAfter > 0, the trunk hangs up itself.
func (c *call) talk(hangupAfter time.Duration) {
	var timer <-chan time.Time
	if hangupAfter > 0 {
		tm := time.NewTimer(hangupAfter)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-c.dlg.Context().Done():
		c.ended(ByeCaller)
	case <-c.t.ctx.Done():
		c.bye()
	case <-timer:
		c.bye()
	}
}

// bye ends the dialog from the trunk's side (RFC 3261 §15.1.1).
func (c *call) bye() {
	c.byeFrom.CompareAndSwap(nil, ptr(ByeRemote))
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.dlg.Bye(ctx); err != nil {
		c.log.Info("bye", "error", err)
	}
	c.ended(ByeRemote)
}

// ended marks the record finished; who is used unless a BYE already said.
func (c *call) ended(who string) {
	if who != "" {
		c.byeFrom.CompareAndSwap(nil, ptr(who))
	}
	var from string
	if p := c.byeFrom.Load(); p != nil {
		from = *p
	}
	c.t.rec.update(c.callID, func(r *CallRecord) {
		r.ByeFrom = from
		r.Ended = true
	})
	c.log.Info("call ended", "bye_from", from)
}

// currentAnswer returns the SDP answer of the call, building it on first use.
func (c *call) currentAnswer() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answer != nil {
		return c.answer, nil
	}
	return c.buildAnswerLocked(c.offer)
}

func (c *call) buildAnswerLocked(o offer) ([]byte, error) {
	port := c.media.port()
	sdp, err := buildAnswer(o, c.t.rtpHost, int(port), c.sessID, c.version)
	if err != nil {
		return nil, err
	}
	if c.answer != nil && !bytes.Equal(sdp, c.answer) {
		// RFC 3264 §8: a changed description gets the next version.
		c.version++
		if sdp, err = buildAnswer(o, c.t.rtpHost, int(port), c.sessID, c.version); err != nil {
			return nil, err
		}
	}
	c.answer = sdp
	return sdp, nil
}

// reoffer answers an offer inside the dialog (re-INVITE, UPDATE): new
// address or direction; the codec stays the one agreed first.
func (c *call) reoffer(body []byte) ([]byte, error) {
	o, err := parseOffer(body)
	if err != nil {
		return nil, err
	}
	if o.codec != c.offer.codec {
		return nil, withStatus(488, "Not Acceptable Here", ErrNoCodec)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	answer, err := c.buildAnswerLocked(o)
	if err != nil {
		return nil, err
	}
	c.media.update(o)
	return answer, nil
}

func (c *call) withContact(res *sip.Response) *sip.Response {
	if res.Contact() == nil {
		res.AppendHeader(sip.HeaderClone(&c.t.dialogUA.ContactHDR))
	}
	return res
}

// onReInvite handles an INVITE inside a dialog (RFC 3261 §14.2): hold,
// unhold, new address. A re-INVITE without an offer gets the current SDP.
func (t *Trunk) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := t.lookup(req)
	if c == nil {
		t.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		t.respond(tx, sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	var answer []byte
	var err error
	if len(req.Body()) > 0 {
		answer, err = c.reoffer(req.Body())
	} else {
		answer, err = c.currentAnswer()
	}
	if err != nil {
		code, reason := sipStatus(err)
		t.respond(tx, sip.NewResponseFromRequest(req, code, reason, nil))
		return
	}
	t.respond(tx, c.withContact(sip.NewSDPResponseFromRequest(req, answer)))
}
