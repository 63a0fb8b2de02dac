package bridge

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// In-dialog requests from the trunk: re-INVITE, UPDATE, INFO, ACK with an
// answer; and the session timer (RFC 4028) in both directions.

// reinvite answers a re-INVITE (RFC 3261 §14.2): new media address, codec
// or direction (hold and unhold, RFC 3264 §8.4), or an offerless re-INVITE
// whose answer comes in the ACK; and a session refresh (RFC 4028 §9).
func (c *Call) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	dialog := c.dialog
	c.mu.Unlock()
	if dialog == nil || c.State() != StateAnswered {
		// Glare or a re-INVITE before our ACK (RFC 3261 §14.2).
		_ = tx.Respond(sip.NewResponseFromRequest(req, 491, "Request Pending", nil))
		return
	}
	var body []byte
	if len(req.Body()) > 0 {
		b, code := c.applyOffer(req.Body())
		if code != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Not Acceptable Here", nil))
			return
		}
		body = b
	} else {
		// Offerless: our 200 carries an offer, the ACK the answer.
		c.mu.Lock()
		body = c.localSDP
		c.pendingReinvite = true
		c.mu.Unlock()
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	c.addDialogHeaders(req, res)
	_ = tx.Respond(res)
}

// update answers UPDATE (RFC 3311): with SDP it changes media like a
// re-INVITE; without, it is a session refresh.
func (c *Call) update(req *sip.Request, tx sip.ServerTransaction) {
	var body []byte
	if len(req.Body()) > 0 {
		b, code := c.applyOffer(req.Body())
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
	c.addDialogHeaders(req, res)
	_ = tx.Respond(res)
}

// addDialogHeaders puts Contact and, for a session refresh, the session
// timer's headers on a 2xx to an in-dialog request (RFC 4028 §9).
func (c *Call) addDialogHeaders(req *sip.Request, res *sip.Response) {
	res.AppendHeader(&sip.ContactHeader{Address: c.b.dialogUA.ContactHDR.Address})
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
	c.mu.Lock()
	c.timer = sessionTimer{interval: st.interval, refresher: refresher}
	c.mu.Unlock()
	c.sessionRefreshed()
}

func (c *Call) sessionRefreshed() {
	select {
	case c.refreshed <- struct{}{}:
	default:
	}
}

// applyOffer takes an SDP offer from the trunk and returns our answer, or
// a status code to refuse it with.
func (c *Call) applyOffer(body []byte) ([]byte, int) {
	rm, err := parseAnswer(body, c.b.codecs)
	if err != nil {
		c.log.Warn("re-offer refused", "error", err)
		return nil, sip.StatusNotAcceptableHere
	}
	if err := c.setupMedia(rm); err != nil {
		c.log.Warn("re-offer not applied", "error", err)
		return nil, sip.StatusNotAcceptableHere
	}
	c.mu.Lock()
	c.remote.Direction = rm.Direction
	codec := c.remote.Codec
	c.applyGatesLocked()
	c.mu.Unlock()
	c.log.Info("media renegotiated", "direction", rm.Direction, "codec", codec.Name, "remote", rm.Addr.String())
	local := c.rtp.localAddr()
	return sdpAnswerFor(c.sdpVersion(), netip.AddrPortFrom(c.b.sdpIP, local.Port()), codec, rm.Direction, c.dtmfPT()), 0
}

func (c *Call) dtmfPT() uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote.DTMFType
}

// sdpVersion is the o= session id and version of our SDP; each new answer
// has a higher one (RFC 3264 §8).
func (c *Call) sdpVersion() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sdpVer++
	return c.sdpVer
}

// ackAnswer takes the answer to the offer of our 200 to an offerless
// re-INVITE.
func (c *Call) ackAnswer(req *sip.Request) {
	c.mu.Lock()
	pending := c.pendingReinvite
	c.pendingReinvite = false
	c.mu.Unlock()
	if !pending {
		return
	}
	rm, err := parseAnswer(req.Body(), c.b.codecs)
	if err != nil {
		c.log.Warn("answer in ACK not usable", "error", err)
		return
	}
	if err := c.setupMedia(rm); err != nil {
		c.log.Warn("answer in ACK not applied", "error", err)
		return
	}
	c.mu.Lock()
	c.remote.Direction = rm.Direction
	c.applyGatesLocked()
	c.mu.Unlock()
}

// info answers INFO (RFC 6086): DTMF relay (application/dtmf-relay or
// application/dtmf) goes to the agent; an empty INFO is a keepalive.
func (c *Call) info(req *sip.Request, tx sip.ServerTransaction) {
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
				c.remoteDigit(strings.TrimSpace(string(v)))
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		c.remoteDigit(strings.TrimSpace(string(body)))
	default:
		res := sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
		res.AppendHeader(sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		_ = tx.Respond(res)
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

func (c *Call) remoteDigit(s string) {
	if len(s) != 1 {
		// RFC 4733 event numbers in INFO bodies: 10 = *, 11 = #.
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 15 {
			return
		}
		c.deliverDigit(media.DTMFDigit(uint8(n)))
		return
	}
	d := rune(strings.ToUpper(s)[0])
	if strings.ContainsRune("0123456789*#ABCD", d) {
		c.deliverDigit(d)
	}
}

func (c *Call) deliverDigit(d rune) {
	if d == 0 {
		return
	}
	c.log.Info("digit from the far end", "digit", string(d))
	if c.onDTMF != nil {
		c.onDTMF(c.ID, d)
	}
}

// sessionTimerLoop runs the negotiated session timer of an answered call
// (RFC 4028 §10): refresh at half the interval when the bridge is the
// refresher; otherwise BYE when the trunk has not refreshed by the
// interval minus min(32 s, interval/3).
func (c *Call) sessionTimerLoop(dialog *sipgo.DialogClientSession) {
	for {
		c.mu.Lock()
		st := c.timer
		c.mu.Unlock()
		if st.interval <= 0 {
			select {
			case <-c.ctx.Done():
				return
			case <-c.refreshed:
				continue
			}
		}
		var wait time.Duration
		if st.refresher == "uac" {
			wait = st.interval / 2
		} else {
			wait = st.interval - min(32*time.Second, st.interval/3)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-c.refreshed:
			t.Stop()
			continue
		case <-t.C:
		}
		if st.refresher != "uac" {
			c.log.Warn("session expired: the trunk did not refresh", "interval", st.interval)
			c.setCause(record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "Session timer expired", By: record.ByBridge})
			c.end(ErrSessionExpired)
			return
		}
		if err := c.refresh(dialog, st); err != nil {
			c.log.Warn("session refresh failed", "error", err)
			c.setCause(record.Cause{Q850: record.Q850RecoveryOnTimer, Reason: "Session refresh failed: " + err.Error(), By: record.ByBridge})
			c.end(ErrSessionExpired)
			return
		}
	}
}

// refresh sends a session refresh: UPDATE without SDP when the trunk
// allows UPDATE, else a re-INVITE with our unchanged SDP (RFC 4028 §7.4).
func (c *Call) refresh(dialog *sipgo.DialogClientSession, st sessionTimer) error {
	useUpdate := false
	if res := dialog.InviteResponse; res != nil {
		for _, h := range res.GetHeaders("Allow") {
			if strings.Contains(strings.ToUpper(h.Value()), "UPDATE") {
				useUpdate = true
			}
		}
	}
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
		c.mu.Lock()
		body := c.localSDP
		c.mu.Unlock()
		res, err = c.sendReinvite(dialog, body, hdrs...)
	} else {
		res, err = c.sendInDialog(dialog, sip.UPDATE, nil, hdrs...)
	}
	if err != nil {
		return err
	}
	switch {
	case res.IsSuccess():
		if nst, ok := parseSessionExpires(res); ok && nst.interval > 0 {
			c.mu.Lock()
			c.timer.interval = nst.interval
			if nst.refresher != "" {
				c.timer.refresher = nst.refresher
			}
			c.mu.Unlock()
		}
		c.log.Debug("session refreshed", "method", method.String())
		return nil
	case res.StatusCode == sip.StatusRequestTimeout || res.StatusCode == sip.StatusCallTransactionDoesNotExists:
		return &sipgo.ErrDialogResponse{Res: res}
	default:
		// Any other final response keeps the session (RFC 4028 §10).
		c.log.Info("session refresh answered", "code", res.StatusCode)
		return nil
	}
}

// remoteTarget is where in-dialog requests go: the trunk's Contact
// (RFC 3261 §12.2.1.1); sipgo adds the route set.
func remoteTarget(dialog *sipgo.DialogClientSession) sip.Uri {
	target := dialog.InviteRequest.Recipient
	if res := dialog.InviteResponse; res != nil && res.Contact() != nil {
		target = res.Contact().Address
	}
	return *target.Clone()
}

// sendInDialog sends a request within the dialog and waits for its final
// response.
func (c *Call) sendInDialog(dialog *sipgo.DialogClientSession, method sip.RequestMethod, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	req := sip.NewRequest(method, remoteTarget(dialog))
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 32*time.Second)
	defer cancel()
	return dialog.Do(ctx, req)
}

// sendReinvite sends a re-INVITE with our SDP and ACKs its 2xx
// (RFC 3261 §14.1).
func (c *Call) sendReinvite(dialog *sipgo.DialogClientSession, sdp []byte, hdrs ...sip.Header) (*sip.Response, error) {
	res, err := c.sendInDialog(dialog, sip.INVITE, sdp, hdrs...)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, remoteTarget(dialog))
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: sip.ACK})
		if err := dialog.WriteRequest(ack); err != nil {
			c.log.Warn("ACK of re-INVITE failed", "error", err)
		}
	}
	return res, nil
}

// Hold puts the far end on hold (true) or takes it off (false) with a
// re-INVITE whose SDP is sendonly or sendrecv (RFC 3264 §8.4). While held,
// neither side's audio is forwarded and the media timeout is suspended.
func (c *Call) Hold(on bool) error {
	c.mu.Lock()
	dialog, state, codec := c.dialog, c.state, c.remote.Codec
	c.mu.Unlock()
	if dialog == nil || state != StateAnswered {
		return fmt.Errorf("%w: only an answered call can be held", errBadRequest)
	}
	dir := "sendrecv"
	if on {
		dir = "sendonly"
	}
	local := c.rtp.localAddr()
	// Our offer: the direction we want; the answerer mirrors it.
	offerDir := map[string]string{"sendonly": "recvonly", "sendrecv": "sendrecv"}[dir]
	body := sdpAnswerFor(c.sdpVersion(), netip.AddrPortFrom(c.b.sdpIP, local.Port()), codec, offerDir, c.dtmfPT())
	res, err := c.sendReinvite(dialog, body)
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: the trunk answered the hold re-INVITE with %d %s", errBadRequest, res.StatusCode, res.Reason)
	}
	c.mu.Lock()
	c.localSDP = body
	c.held = on
	c.applyGatesLocked()
	c.mu.Unlock()
	c.log.Info("hold", "on", on)
	return nil
}

// applyGatesLocked opens or closes the exits of both pipelines from the
// agent's hold and the trunk's SDP direction (RFC 3264 §6.1): nothing is
// sent to the trunk when it offered sendonly or inactive (our answer said
// recvonly or inactive), nothing reaches the browser when the stream is
// inactive, and neither while the agent holds. c.mu must be held.
func (c *Call) applyGatesLocked() {
	if c.toBrowser == nil {
		return
	}
	dir := c.remote.Direction
	c.toTrunk.closed.Store(c.held || dir == "sendonly" || dir == "inactive")
	c.toBrowser.closed.Store(c.held || dir == "inactive")
}
