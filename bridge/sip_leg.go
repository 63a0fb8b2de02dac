package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// legOwner is what a SIP leg tells the call that joins it.
type legOwner interface {
	// progress is a provisional response: ringing, or early media when
	// media.ok (the leg's media is then joined).
	progress(early bool)
	// remoteMedia is a new or changed SDP from the far end; the owner
	// (re)joins the media. An error refuses the SDP.
	remoteMedia(rm remoteMedia) error
	// directionChanged is a hold or resume by the far end's SDP.
	directionChanged()
	// digit is a DTMF digit the far end sent by SIP INFO.
	digit(d rune)
	// hungUp is the far end's BYE.
	hungUp(cause record.Cause)
}

// sipDialog is what a SIP leg does with its dialog, whichever side sent
// the INVITE: sipgo's DialogClientSession (the bridge called out) and
// DialogServerSession (the trunk called in) both are one.
type sipDialog interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
	Bye(ctx context.Context) error
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
	Context() context.Context
}

// sipLeg is the SIP side of a call: one dialog toward the trunk and its
// own media session. The bridge is the dialog's UAC when it placed the
// call (dialog) and its UAS when the trunk called in (uas).
type sipLeg struct {
	b     *Bridge
	owner legOwner
	log   *slog.Logger

	callID  string // SIP Call-ID, fixed before the call is visible
	fromTag string // our tag: the From tag of our INVITE, or the To tag of our responses

	gotResponse atomic.Bool   // any response to the INVITE arrived
	refreshed   chan struct{} // the trunk refreshed the session (RFC 4028)
	tl          *timeline     // the call's timeline; set before open

	mu              sync.Mutex
	media           *mediaSession              // guarded by mu; nil until open
	dialog          *sipgo.DialogClientSession // the UAC dialog; guarded by mu
	uas             *sipgo.DialogServerSession // the UAS dialog of an inbound call; guarded by mu
	remoteTag       string                     // the trunk's tag of a UAS dialog; guarded by mu
	remote          remoteMedia                // the far end's current SDP; guarded by mu
	localSDP        []byte                     // our current SDP; guarded by mu
	sdpVer          uint64                     // o= version of our last SDP; guarded by mu
	timer           sessionTimer               // negotiated session timer; guarded by mu
	pendingReinvite bool                       // an offerless re-INVITE awaits its ACK's answer; guarded by mu
	cseq            uint32                     // CSeq of the last INVITE outside the dialog; guarded by mu
	firstProgress   time.Time                  // first provisional response of the current attempt; guarded by mu
}

func newSIPLeg(b *Bridge, owner legOwner, log *slog.Logger) *sipLeg {
	return &sipLeg{
		b: b, owner: owner, log: log,
		callID:    newSIPCallID(),
		fromTag:   sip.GenerateTagN(16),
		refreshed: make(chan struct{}, 1),
	}
}

// open binds the leg's RTP and RTCP ports and writes our SDP offer.
func (l *sipLeg) open() error {
	rc, cc, err := l.b.ports.listen()
	if err != nil {
		return err
	}
	ms := newMediaSession(rc, cc, l.b.trustedSource, l.b.rtcpInterval, l.tl, l.log)
	ver := uint64(time.Now().Unix())
	offer := sdpOffer(ver, netip.AddrPortFrom(l.b.sdpIP, ms.localAddr().Port()), l.b.codecs)
	l.mu.Lock()
	l.media, l.localSDP, l.sdpVer = ms, offer, ver
	l.mu.Unlock()
	return nil
}

func (l *sipLeg) mediaSession() *mediaSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.media
}

// close frees the leg's media; the read loops have ended when it returns.
func (l *sipLeg) close() {
	if ms := l.mediaSession(); ms != nil {
		ms.setAudio(0, nil)
		ms.setDTMF(0, nil)
		_ = ms.Close()
	}
}

// dial sends the INVITE, retrying once after 422 (RFC 4028 §7.4), and
// waits for its final response. ringCause says which of our timers, if
// any, cut the wait short; dialog is nil when the INVITE was never sent.
//
// Each trunk a call tries is one dial: the same Call-ID and From tag with
// the next CSeq, as for any retry of the request to another server (RFC
// 3261 §8.1.3.4, §21.5.4).
func (l *sipLeg) dial(ctx context.Context, from, to string, seat sipCredentials, target *trunkTarget, data TrunkHeaderData) (dialog *sipgo.DialogClientSession, ringCause, err error) {
	l.mu.Lock()
	offer := l.localSDP
	l.cseq++
	cseq := l.cseq
	l.mu.Unlock()
	l.gotResponse.Store(false)
	if target != nil && target.cred != nil {
		seat = *target.cred
	}
	p := inviteParams{
		from: from, to: to, callID: l.callID, fromTag: l.fromTag, cseq: cseq, sdp: offer,
		se: l.b.cfg.SIP.SessionExpires, minSE: l.b.cfg.SIP.MinSE, target: target, headerData: data,
	}
	defer func() {
		l.mu.Lock()
		l.cseq = max(l.cseq, p.cseq)
		if dialog != nil && dialog.InviteRequest != nil {
			if h := dialog.InviteRequest.CSeq(); h != nil {
				l.cseq = max(l.cseq, h.SeqNo) // digest retries count too
			}
		}
		l.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		dialog, ringCause, err = l.invite(ctx, p, seat)
		if err == nil {
			return dialog, nil, nil
		}
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) && dr.Res.StatusCode == 422 && p.se > 0 && attempt == 0 {
			if minSE, perr := parseMinSE(dr.Res); perr == nil {
				l.log.Info("trunk asks for a longer session interval", "min_se", minSE)
				p.se, p.minSE = max(p.se, minSE), minSE
				p.cseq = dr.Res.CSeq().SeqNo + 1
				continue
			}
		}
		return dialog, ringCause, err
	}
}

// sipCredentials are the digest credentials of the seat placing the call.
type sipCredentials struct{ username, password string }

// invite sends one INVITE and waits for its final response.
func (l *sipLeg) invite(ctx context.Context, p inviteParams, cred sipCredentials) (dialog *sipgo.DialogClientSession, ringCause, err error) {
	req, err := l.b.newInvite(p)
	if err != nil {
		return nil, nil, err
	}
	dialog, err = l.b.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	l.dialog = dialog
	l.mu.Unlock()

	ringTimeout := l.b.cfg.SIP.RingTimeout
	if ringTimeout <= 0 {
		ringTimeout = 60 * time.Second
	}
	waitCtx, cancelWait := context.WithCancelCause(ctx)
	defer cancelWait(nil)
	ring := l.b.clock.AfterFunc(ringTimeout, func() { cancelWait(ErrRingTimeout) })
	defer ring.Stop()
	// No response at all within sip.invite_timeout: give up without
	// CANCEL, which needs a provisional response (RFC 3261 §9.1).
	var answered atomic.Bool
	if d := l.b.cfg.SIP.InviteTimeout; d > 0 {
		t := l.b.clock.AfterFunc(d, func() {
			if !answered.Load() {
				cancelWait(sipgo.WaitAnswerForceCancelErr)
			}
		})
		defer t.Stop()
	}
	err = dialog.WaitAnswer(waitCtx, sipgo.AnswerOptions{
		Username: cred.username,
		Password: cred.password,
		OnResponse: func(res *sip.Response) error {
			answered.Store(true)
			l.gotResponse.Store(true)
			l.b.learnTrunkSource(res)
			l.onProvisional(res)
			return nil
		},
	})
	if res := dialog.InviteResponse; res != nil {
		l.b.learnTrunkSource(res)
	}
	return dialog, context.Cause(waitCtx), err
}

// onProvisional handles 180 and 183 (RFC 3261 §13.2.2.1); with SDP they
// start early media (RFC 3960).
func (l *sipLeg) onProvisional(res *sip.Response) {
	if res.StatusCode != sip.StatusRinging && res.StatusCode != sip.StatusSessionInProgress {
		return
	}
	l.mu.Lock()
	if l.firstProgress.IsZero() {
		l.firstProgress = l.b.clock.Now()
	}
	l.mu.Unlock()
	if len(res.Body()) == 0 {
		l.owner.progress(false)
		return
	}
	rm, err := parseAnswer(res.Body(), l.b.codecs)
	if err != nil {
		l.log.Warn("early media SDP not usable", "error", err)
		l.owner.progress(false)
		return
	}
	if err := l.setRemote(rm); err != nil {
		l.log.Warn("early media not started", "error", err)
		return
	}
	l.owner.progress(true)
}

// setRemote takes the far end's SDP: the media session's address, then the
// owner joins (or re-joins) the media on it.
func (l *sipLeg) setRemote(rm remoteMedia) error {
	if err := l.owner.remoteMedia(rm); err != nil {
		return err
	}
	l.mu.Lock()
	prev := l.remote
	l.remote = rm
	ms := l.media
	l.mu.Unlock()
	switch {
	case prev.Codec.Name == "":
		l.tl.note("sdp", fmt.Sprintf("the trunk's SDP: %s %s, %s", rm.Addr, rm.Codec.Name, rm.Direction))
	case rm.HoldForm != prev.HoldForm && rm.HoldForm != "":
		l.tl.note("hold", "the far end put the call on hold ("+rm.HoldForm+")")
	case rm.HoldForm != prev.HoldForm:
		l.tl.note("hold", "the far end resumed the call")
	}
	if prev.Addr.IsValid() && rm.Addr != prev.Addr {
		l.tl.note("sdp", fmt.Sprintf("the trunk's SDP moved its media from %s to %s", prev.Addr, rm.Addr))
	}
	ms.setSDP(rm)
	return nil
}

// remoteSDP is the far end's current SDP.
func (l *sipLeg) remoteSDP() remoteMedia {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

// answered handles the 2xx: final SDP, ACK (RFC 3261 §13.2.2.4), session
// timer.
func (l *sipLeg) answered(ctx context.Context, dialog *sipgo.DialogClientSession) error {
	res := dialog.InviteResponse
	rm, perr := parseAnswer(res.Body(), l.b.codecs)
	if perr != nil {
		joined := l.remoteSDP().Codec.Name != ""
		if !joined || len(res.Body()) > 0 {
			_ = dialog.Ack(ctx)
			return perr
		}
	} else if err := l.setRemote(rm); err != nil {
		_ = dialog.Ack(ctx)
		return err
	}
	if err := dialog.Ack(ctx); err != nil {
		l.log.Warn("ACK failed", "error", err)
	}
	if st, ok := parseSessionExpires(res); ok {
		if st.refresher == "" {
			st.refresher = "uac" // RFC 4028 §7.2: absent = the UAC refreshes
		}
		l.mu.Lock()
		l.timer = st
		l.mu.Unlock()
		l.log.Info("session timer", "interval", st.interval, "refresher", st.refresher)
	}
	return nil
}

// bye sends BYE (RFC 3261 §15.1.1) and waits briefly for its 200.
func (l *sipLeg) bye(dialog sipDialog) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dialog.Bye(ctx); err != nil {
		l.log.Warn("BYE failed", "error", err)
	}
}

// onHold says whether the far end's SDP holds the stream in any of its
// forms (RFC 3264 §8.4; c=0.0.0.0; port 0).
func (l *sipLeg) onHold() bool { return l.remoteSDP().Held() }

// matches says whether an in-dialog request belongs to this leg's dialog
// (RFC 3261 §12.2.2): the Call-ID matched already; the request's To tag
// must be ours and its From tag the trunk's.
func (l *sipLeg) matches(req *sip.Request) bool {
	to, from := req.To(), req.From()
	if to == nil || from == nil {
		return false
	}
	if tag, _ := to.Params.Get("tag"); tag != l.fromTag {
		return false
	}
	l.mu.Lock()
	dialog, uas, remoteTag := l.dialog, l.uas, l.remoteTag
	l.mu.Unlock()
	if uas != nil {
		got, _ := from.Params.Get("tag")
		return remoteTag != "" && got == remoteTag
	}
	if dialog == nil || dialog.InviteResponse == nil {
		return false
	}
	remoteTo := dialog.InviteResponse.To()
	if remoteTo == nil {
		return false
	}
	want, _ := remoteTo.Params.Get("tag")
	got, _ := from.Params.Get("tag")
	return want != "" && got == want
}

// remoteBye is the trunk hanging up (RFC 3261 §15.1.2); the cause comes
// from a Reason header (RFC 3326) or is normal clearing.
func (l *sipLeg) remoteBye(req *sip.Request, tx sip.ServerTransaction) {
	cause := record.Cause{SIPCode: 200, Q850: record.Q850NormalClearing, Reason: "Normal call clearing", By: record.ByRemote}
	if q, text, ok := ReasonQ850(req); ok {
		cause.Q850, cause.Reason = q, text
	}
	// The cause first: answering the BYE ends the dialog's context, which
	// the call would otherwise take for a plain remote hang-up.
	l.owner.hungUp(cause)
	if dialog := l.current(); dialog != nil {
		if err := dialog.ReadBye(req, tx); err != nil {
			l.log.Warn("BYE response failed", "error", err)
		}
	} else {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	}
}

// In-dialog requests from the trunk: re-INVITE, UPDATE, INFO, ACK with an
// answer; and the session timer (RFC 4028) in both directions.

// reinvite answers a re-INVITE (RFC 3261 §14.2): new media address, codec
// or direction (hold and unhold, RFC 3264 §8.4), or an offerless re-INVITE
// whose answer comes in the ACK; and a session refresh (RFC 4028 §9).
func (l *sipLeg) reinvite(req *sip.Request, tx sip.ServerTransaction, answered bool) {
	if l.current() == nil || !answered {
		// Glare or a re-INVITE before our ACK (RFC 3261 §14.2).
		_ = tx.Respond(sip.NewResponseFromRequest(req, 491, "Request Pending", nil))
		return
	}
	var body []byte
	if len(req.Body()) > 0 {
		b, code := l.applyOffer(req.Body())
		if code != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Not Acceptable Here", nil))
			return
		}
		body = b
	} else {
		// Offerless: our 200 carries an offer, the ACK the answer.
		l.mu.Lock()
		body = l.localSDP
		l.pendingReinvite = true
		l.mu.Unlock()
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	l.addDialogHeaders(req, res)
	_ = tx.Respond(res)
}

// update answers UPDATE (RFC 3311): with SDP it changes media like a
// re-INVITE; without, it is a session refresh.
func (l *sipLeg) update(req *sip.Request, tx sip.ServerTransaction) {
	var body []byte
	if len(req.Body()) > 0 {
		b, code := l.applyOffer(req.Body())
		if code != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Not Acceptable Here", nil))
			return
		}
		body = b
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	l.addDialogHeaders(req, res)
	_ = tx.Respond(res)
}

// addDialogHeaders puts Contact and, for a session refresh, the session
// timer's headers on a 2xx to an in-dialog request (RFC 4028 §9).
func (l *sipLeg) addDialogHeaders(req *sip.Request, res *sip.Response) {
	res.AppendHeader(&sip.ContactHeader{Address: l.b.dialogUA.ContactHDR.Address})
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	st, ok := parseSessionExpires(req)
	if !ok {
		return
	}
	// The requester refreshes unless it said otherwise: it is the UAC of
	// this transaction, so "uac" names the trunk.
	if st.refresher == "" {
		st.refresher = "uac"
	}
	res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(st.interval/time.Second))+";refresher="+st.refresher))
	res.AppendHeader(sip.NewHeader("Require", "timer"))
	// In the dialog's terms the bridge is the UAC (it sent the INVITE):
	// refresher=uac of the trunk's request means the trunk refreshes.
	refresher := "uas"
	if st.refresher == "uas" {
		refresher = "uac"
	}
	l.mu.Lock()
	l.timer = sessionTimer{interval: st.interval, refresher: refresher}
	l.mu.Unlock()
	l.sessionRefreshed()
}

func (l *sipLeg) sessionRefreshed() {
	select {
	case l.refreshed <- struct{}{}:
	default:
	}
}

// applyOffer takes an SDP offer from the trunk and returns our answer, or
// a status code to refuse it with.
func (l *sipLeg) applyOffer(body []byte) ([]byte, int) {
	rm, err := parseReoffer(body, l.b.codecs, l.remoteSDP())
	if err != nil {
		l.log.Warn("re-offer refused", "error", err)
		return nil, sip.StatusNotAcceptableHere
	}
	if err := l.setRemote(rm); err != nil {
		l.log.Warn("re-offer not applied", "error", err)
		return nil, sip.StatusNotAcceptableHere
	}
	l.owner.directionChanged()
	cur := l.remoteSDP()
	l.log.Info("media renegotiated", "direction", rm.Direction, "hold", rm.HoldForm, "codec", cur.Codec.Name, "remote", rm.Addr.String())
	return l.answerSDP(cur), 0
}

// answerSDP is our answer to the far end's offer rm, with a new o=
// version (RFC 3264 §8); a disabled stream is answered disabled.
func (l *sipLeg) answerSDP(rm remoteMedia) []byte {
	l.mu.Lock()
	l.sdpVer++
	ver, port := l.sdpVer, l.media.localAddr().Port()
	l.mu.Unlock()
	if rm.HoldForm == "port 0" {
		port = 0
	}
	return sdpAnswerFor(ver, netip.AddrPortFrom(l.b.sdpIP, port), rm.Codec, rm.Direction, rm.DTMFType, rm.RTCPMux)
}

// ackAnswer takes the answer to the offer of our 200 to an offerless
// re-INVITE.
func (l *sipLeg) ackAnswer(req *sip.Request) {
	l.mu.Lock()
	pending := l.pendingReinvite
	l.pendingReinvite = false
	l.mu.Unlock()
	if !pending {
		return
	}
	rm, err := parseReoffer(req.Body(), l.b.codecs, l.remoteSDP())
	if err != nil {
		l.log.Warn("answer in ACK not usable", "error", err)
		return
	}
	if err := l.setRemote(rm); err != nil {
		l.log.Warn("answer in ACK not applied", "error", err)
		return
	}
	l.owner.directionChanged()
}

// info answers INFO (RFC 6086): DTMF relay (application/dtmf-relay or
// application/dtmf) goes to the agent; an empty INFO is a keepalive.
func (l *sipLeg) info(req *sip.Request, tx sip.ServerTransaction) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	body := req.Body()
	switch {
	case len(body) == 0:
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for _, line := range bytes.Split(body, []byte("\n")) {
			k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte("="))
			if ok && strings.EqualFold(string(bytes.TrimSpace(k)), "signal") {
				l.remoteDigit(strings.TrimSpace(string(v)))
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		l.remoteDigit(strings.TrimSpace(string(body)))
	default:
		res := sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
		res.AppendHeader(sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		_ = tx.Respond(res)
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

func (l *sipLeg) remoteDigit(s string) {
	if len(s) != 1 {
		// RFC 4733 event numbers in INFO bodies: 10 = *, 11 = #.
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 15 {
			return
		}
		l.owner.digit(media.DTMFDigit(uint8(n)))
		return
	}
	d := rune(strings.ToUpper(s)[0])
	if strings.ContainsRune("0123456789*#ABCD", d) {
		l.owner.digit(d)
	}
}

// errSessionTimer is why the session timer ended a call.
type errSessionTimer struct{ cause record.Cause }

func (e errSessionTimer) Error() string { return e.cause.Reason }
func (e errSessionTimer) Unwrap() error { return ErrSessionExpired }

// sessionTimer runs the negotiated session timer of an answered call
// (RFC 4028 §10): refresh at half the interval when the bridge is the
// refresher; otherwise give up when the trunk has not refreshed by the
// interval minus min(32 s, interval/3). It returns when ctx ends (nil) or
// the session is lost (an errSessionTimer).
func (l *sipLeg) sessionTimer(ctx context.Context, dialog sipDialog) error {
	for {
		l.mu.Lock()
		st := l.timer
		l.mu.Unlock()
		if st.interval <= 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-l.refreshed:
				continue
			}
		}
		var wait time.Duration
		if st.refresher == "uac" {
			wait = st.interval / 2
		} else {
			wait = st.interval - min(32*time.Second, st.interval/3)
		}
		t := l.b.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-l.refreshed:
			t.Stop()
			continue
		case <-t.C():
		}
		if st.refresher != "uac" {
			l.log.Warn("session expired: the trunk did not refresh", "interval", st.interval)
			return errSessionTimer{record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "Session timer expired", By: record.ByBridge}}
		}
		if err := l.refresh(ctx, dialog, st); err != nil {
			l.log.Warn("session refresh failed", "error", err)
			return errSessionTimer{record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "Session refresh failed: " + err.Error(), By: record.ByBridge}}
		}
	}
}

// refresh sends a session refresh: UPDATE without SDP when the trunk
// allows UPDATE, else a re-INVITE with our unchanged SDP (RFC 4028 §7.4).
func (l *sipLeg) refresh(ctx context.Context, dialog sipDialog, st sessionTimer) error {
	useUpdate := l.peerAllows("UPDATE")
	method := sip.INVITE
	if useUpdate {
		method = sip.UPDATE
	}
	hdrs := []sip.Header{
		sip.NewHeader("Supported", "timer"),
		sip.NewHeader("Session-Expires", strconv.Itoa(int(st.interval/time.Second))+";refresher=uac"),
	}
	var res *sip.Response
	var err error
	if method == sip.INVITE {
		l.mu.Lock()
		body := l.localSDP
		l.mu.Unlock()
		res, err = l.sendReinvite(ctx, dialog, body, hdrs...)
	} else {
		res, err = l.sendInDialog(ctx, dialog, sip.UPDATE, nil, hdrs...)
	}
	if err != nil {
		return err
	}
	switch {
	case res.IsSuccess():
		if nst, ok := parseSessionExpires(res); ok && nst.interval > 0 {
			l.mu.Lock()
			l.timer.interval = nst.interval
			if nst.refresher != "" {
				l.timer.refresher = nst.refresher
			}
			l.mu.Unlock()
		}
		l.log.Debug("session refreshed", "method", method.String())
		return nil
	case res.StatusCode == sip.StatusRequestTimeout || res.StatusCode == sip.StatusCallTransactionDoesNotExists:
		return &sipgo.ErrDialogResponse{Res: res}
	default:
		// Any other final response keeps the session (RFC 4028 §10).
		l.log.Info("session refresh answered", "code", res.StatusCode)
		return nil
	}
}

func (l *sipLeg) uasDialog() *sipgo.DialogServerSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.uas
}

// current is the leg's dialog, nil before there is one.
func (l *sipLeg) current() sipDialog {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.uas != nil:
		return l.uas
	case l.dialog != nil:
		return l.dialog
	}
	return nil
}

// peerMessage is the trunk's message that set up the dialog: its 2xx to
// our INVITE, or its INVITE.
func (l *sipLeg) peerMessage() sip.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.uas != nil:
		return l.uas.InviteRequest
	case l.dialog != nil && l.dialog.InviteResponse != nil:
		return l.dialog.InviteResponse
	}
	return nil
}

// peerAllows says whether the trunk listed method in its Allow.
func (l *sipLeg) peerAllows(method string) bool {
	msg := l.peerMessage()
	if msg == nil {
		return false
	}
	for _, h := range msg.GetHeaders("Allow") {
		if strings.Contains(strings.ToUpper(h.Value()), method) {
			return true
		}
	}
	return false
}

// remoteTarget is where in-dialog requests go: the trunk's Contact
// (RFC 3261 §12.2.1.1); sipgo adds the route set.
func (l *sipLeg) remoteTarget() sip.Uri {
	l.mu.Lock()
	dialog, uas := l.dialog, l.uas
	l.mu.Unlock()
	if uas != nil {
		// sipgo's ReadInvite refuses an INVITE without Contact.
		return *uas.InviteRequest.Contact().Address.Clone()
	}
	target := dialog.InviteRequest.Recipient
	if res := dialog.InviteResponse; res != nil && res.Contact() != nil {
		target = res.Contact().Address
	}
	return *target.Clone()
}

// sendInDialog sends a request within the dialog and waits for its final
// response.
func (l *sipLeg) sendInDialog(ctx context.Context, dialog sipDialog, method sip.RequestMethod, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	req := sip.NewRequest(method, l.remoteTarget())
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != nil {
		ct := "application/sdp"
		if method == sip.INFO {
			ct = "application/dtmf-relay"
		}
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	return dialog.Do(ctx, req)
}

// sendReinvite sends a re-INVITE with our SDP and ACKs its 2xx
// (RFC 3261 §14.1).
func (l *sipLeg) sendReinvite(ctx context.Context, dialog sipDialog, sdp []byte, hdrs ...sip.Header) (*sip.Response, error) {
	res, err := l.sendInDialog(ctx, dialog, sip.INVITE, sdp, hdrs...)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, l.remoteTarget())
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: sip.ACK})
		if err := dialog.WriteRequest(ack); err != nil {
			l.log.Warn("ACK of re-INVITE failed", "error", err)
		}
	}
	return res, nil
}

// hold offers sendonly (hold) or sendrecv (resume) in a re-INVITE
// (RFC 3264 §8.4); the answerer mirrors it.
func (l *sipLeg) hold(ctx context.Context, on bool) error {
	dialog, rm := l.current(), l.remoteSDP()
	offerDir := "sendrecv"
	if on {
		offerDir = "recvonly" // the answerer's view of our sendonly
	}
	offer := rm
	offer.Direction, offer.HoldForm = offerDir, ""
	body := l.answerSDP(offer)
	res, err := l.sendReinvite(ctx, dialog, body)
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: the trunk answered the hold re-INVITE with %d %s", errBadRequest, res.StatusCode, res.Reason)
	}
	l.mu.Lock()
	l.localSDP = body
	l.mu.Unlock()
	return nil
}

// sendINFO sends digits as SIP INFO with application/dtmf-relay, one
// after the other, each dur long.
func (l *sipLeg) sendINFO(ctx context.Context, digits string, dur time.Duration) {
	dialog := l.current()
	for _, d := range digits {
		body := fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", d, dur.Milliseconds())
		res, err := l.sendInDialog(ctx, dialog, sip.INFO, []byte(body))
		if err != nil || res.StatusCode >= 300 {
			l.log.Warn("SIP INFO DTMF failed", "digit", string(d), "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(dur):
		}
	}
}
