package signaling

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/media"
)

// Session is one authenticated browser: its socket (replaced on resume),
// its peer connection and its calls.
type Session struct {
	ID     string
	srv    *Server
	log    *slog.Logger
	seatID string // the seat; a resume keeps it

	ctx    context.Context // ends when the session is terminated
	cancel context.CancelFunc

	mu          sync.Mutex
	auth        *bridge.SeatAuth          // guarded by mu
	conn        *conn                     // current socket, nil while detached; guarded by mu
	peer        *Peer                     // guarded by mu
	calls       map[string]bool           // ids of this session's live calls; guarded by mu
	ringing     map[string]bool           // inbound calls ringing here, not accepted by this session; guarded by mu
	backlog     [][]byte                  // messages queued while detached; guarded by mu
	grace       clock.Timer               // runs while detached; guarded by mu
	terminated  bool                      // guarded by mu
	clientStats map[string]ClientStats    // latest browser getStats per call; guarded by mu
	earlyCands  []webrtc.ICECandidateInit // trickled before the first offer; guarded by mu
	resumeCreds []resumeCred              // the resume credentials still valid, newest last; guarded by mu
	rotate      *time.Timer               // sends the next resume credential; guarded by mu
	leaving     bool                      // the page said it is going away; guarded by mu
	newPeer     bool                      // the next offer is from a new peer connection; guarded by mu
	leg         *lazyLeg                  // the session's browser leg, whatever its peer connection; set at creation
	lim         sessionLimits             // per-seat caps; fields guarded by mu unless noted
}

// resumeCred is a single-use resume credential: 32 random bytes, valid
// until exp (extended to the end of the grace period when the socket drops).
type resumeCred struct {
	value string
	exp   time.Time
}

// maxResumeCreds is how many credentials are valid at once: the newest
// and the one before it, which a page may not have stored yet.
const maxResumeCreds = 2

// ClientStats is the browser's own view of a call, uploaded by the widget.
type ClientStats struct {
	Received time.Time       `json:"received"`
	Raw      json.RawMessage `json:"raw"`
}

const maxBacklog = 256

// maxEarlyCandidates bounds the candidates kept when they arrive before
// the offer they belong to.
const maxEarlyCandidates = 32

func (s *Session) attach(c *conn) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
}

func (s *Session) owns(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == c
}

// send delivers a message to the current socket, or queues it while the
// session waits to be resumed.
func (s *Session) send(v any) {
	s.mu.Lock()
	c := s.conn
	if c == nil && !s.terminated {
		if b, err := json.Marshal(v); err == nil && len(s.backlog) < maxBacklog {
			s.backlog = append(s.backlog, b)
		}
	}
	s.mu.Unlock()
	if c != nil {
		c.send(v)
	}
}

// detach is a dropped socket: the session and its calls live on for the
// resume grace period, then end (BYE/CANCEL upstream).
func (s *Session) detach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c || s.terminated {
		return
	}
	s.conn = nil
	grace := s.srv.opts.ResumeGrace
	if s.leaving {
		grace = s.srv.opts.PageGrace
	}
	until := time.Now().Add(grace)
	for i := range s.resumeCreds {
		if s.resumeCreds[i].exp.Before(until) {
			s.resumeCreds[i].exp = until
		}
	}
	s.log.Info("socket dropped; waiting for resume", "grace", grace, "page_left", s.leaving)
	s.grace = s.srv.opts.Clock.AfterFunc(grace, s.terminate)
}

// issueResumeToken makes a new resume credential and schedules the next.
func (s *Session) issueResumeToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	ttl := s.srv.opts.ResumeTokenTTL
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumeCreds = append(s.resumeCreds, resumeCred{value: v, exp: time.Now().Add(ttl)})
	if n := len(s.resumeCreds); n > maxResumeCreds {
		s.resumeCreds = s.resumeCreds[n-maxResumeCreds:]
	}
	if s.rotate != nil {
		s.rotate.Stop()
	}
	if !s.terminated {
		s.rotate = time.AfterFunc(ttl/2, s.rotateResumeToken)
	}
	return v
}

// rotateResumeToken sends a fresh credential before the last expires,
// while a socket is attached to receive it. A detached session's
// credentials already last its grace period.
func (s *Session) rotateResumeToken() {
	s.mu.Lock()
	c, gone := s.conn, s.terminated
	s.mu.Unlock()
	if gone || c == nil {
		return
	}
	v := s.issueResumeToken()
	c.send(ResumeTokenMessage{Type: TypeResumeToken, ResumeToken: v, ExpiresIn: int(s.srv.opts.ResumeTokenTTL / time.Second)})
}

// redeemResumeToken spends a credential: true if v is one of the
// session's, unexpired. Every credential of the session is spent with it.
func (s *Session) redeemResumeToken(v string) bool {
	if v == "" {
		return false
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := false
	for _, c := range s.resumeCreds {
		if subtle.ConstantTimeCompare([]byte(c.value), []byte(v)) == 1 && now.Before(c.exp) {
			ok = true
		}
	}
	if ok {
		s.resumeCreds = nil
	}
	return ok
}

// resume re-attaches a new socket; false when the session is gone. With
// newPeer the client comes back with a new peer connection (a reloaded or
// navigated page): the session's calls are detached from the old one (the
// far end hears comfort noise) until the new one's media is up.
func (s *Session) resume(c *conn, sa *bridge.SeatAuth, newPeer bool) bool {
	s.mu.Lock()
	if s.terminated {
		s.mu.Unlock()
		return false
	}
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	old := s.conn
	s.conn = c
	s.auth = sa
	s.leaving = false
	if newPeer {
		s.newPeer = true
		s.earlyCands = nil
	}
	backlog := s.backlog
	s.backlog = nil
	calls := s.callIDsLocked()
	s.mu.Unlock()
	if old != nil {
		old.closeWith(CloseReplaced, "resumed elsewhere")
	}
	if newPeer {
		s.detachCalls("page reloaded")
	}
	s.log.Info("session resumed", "calls", len(calls), "new_peer", newPeer)
	states := make([]bridge.CallState, 0, len(calls))
	for _, id := range calls {
		if call, ok := s.srv.opts.Bridge.Control(id); ok {
			states = append(states, call.Current())
		}
	}
	c.send(Resumed{Type: TypeResumed, SessionID: s.ID, Calls: calls, CallStates: states, ResumeToken: s.issueResumeToken()})
	for _, b := range backlog {
		select {
		case c.out <- b:
		default:
		}
	}
	return true
}

// terminate ends the session: its calls, its peer connection.
func (s *Session) terminate() { s.terminateWith(1000, "session ended") }

// terminateWith ends the session, closing its socket with code.
func (s *Session) terminateWith(code int, reason string) {
	s.mu.Lock()
	if s.terminated {
		s.mu.Unlock()
		return
	}
	s.terminated = true
	calls := s.callIDsLocked()
	if s.rotate != nil {
		s.rotate.Stop()
	}
	s.resumeCreds = nil
	peer := s.peer
	c := s.conn
	s.mu.Unlock()
	s.cancel()
	for _, id := range calls {
		if s.isRinging(id) {
			if ib, ok := s.srv.opts.Bridge.(InboundBridge); ok {
				_ = ib.Reject(id, s.ID, "decline")
			}
			continue
		}
		if call, ok := s.srv.opts.Bridge.Control(id); ok {
			call.Abandon()
		}
	}
	if peer != nil {
		_ = peer.Close()
	}
	if c != nil {
		c.closeWith(code, reason)
	}
	s.srv.remove(s)
	s.log.Info("session ended", "reason", reason)
}

func (s *Session) sendError(requestID, callID, code, msg string) {
	s.send(ErrorMessage{Type: TypeError, RequestID: requestID, CallID: callID, Code: code, Message: msg})
}

// handle dispatches one frame after hello. Errors are replies; the session
// stays up.
func (s *Session) handle(data []byte) {
	msg, err := Parse(data)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			s.sendError(msg.RequestID, msg.CallID, pe.Code, pe.Msg)
		}
		return
	}
	switch msg.Type {
	case TypePing:
		s.send(map[string]string{"type": TypePong})
	case TypeOffer:
		s.handleOffer(msg)
	case TypeCandidate:
		s.handleCandidate(msg)
	case TypeCall:
		s.handleCall(msg)
	case TypeHangup:
		if s.isRinging(msg.CallID) {
			s.handleReject(msg) // hanging up a call that rings here declines it
			return
		}
		call, ok := s.callOf(msg)
		if !ok {
			return
		}
		call.Hangup()
	case TypeAccept:
		s.handleAccept(msg)
	case TypeReject:
		s.handleReject(msg)
	case TypeDTMF:
		if s.allowRequest(msg) {
			s.handleDTMF(msg)
		}
	case TypeHold:
		if !s.allowRequest(msg) {
			return
		}
		call, ok := s.callOf(msg)
		if !ok {
			return
		}
		on := *msg.Hold
		go func() { // a re-INVITE round trip: off the read loop
			if err := call.Hold(on); err != nil {
				code := errorCode(err)
				s.sendError(msg.RequestID, msg.CallID, code, err.Error())
				return
			}
			s.send(map[string]any{"type": TypeHeld, "request_id": msg.RequestID, "call_id": msg.CallID, "hold": on})
		}()
	case TypeStats:
		if !s.acceptStats(msg, len(data)) {
			return
		}
		s.mu.Lock()
		if s.clientStats == nil {
			s.clientStats = map[string]ClientStats{}
		}
		if len(s.clientStats) >= 16 {
			for id := range s.clientStats {
				if !s.calls[id] {
					delete(s.clientStats, id) // an ended call's
				}
			}
		}
		s.clientStats[msg.CallID] = ClientStats{Received: time.Now(), Raw: append(json.RawMessage(nil), data...)}
		s.mu.Unlock()
	case TypeCallerID:
		s.handleCallerID(msg)
	case TypeLeaving:
		s.mu.Lock()
		s.leaving = true
		s.mu.Unlock()
		s.log.Info("page leaving")
		s.detachCalls("page left")
	case TypeTake:
		s.take(msg)
	case TypeHello, TypeResume:
		s.sendError(msg.RequestID, "", CodeBadRequest, "this session is already authenticated")
	}
}

func (s *Session) callIDsLocked() []string {
	calls := make([]string, 0, len(s.calls))
	for id := range s.calls {
		calls = append(calls, id)
	}
	return calls
}

// detachCalls takes the session's calls off its peer connection: the far
// end hears comfort noise until attachCalls or the end of the grace.
func (s *Session) detachCalls(reason string) {
	s.mu.Lock()
	calls := s.callIDsLocked()
	s.mu.Unlock()
	for _, id := range calls {
		if call, ok := s.srv.opts.Bridge.Control(id); ok {
			call.DetachBrowser(reason)
		}
	}
}

// attachCalls puts the session's calls on peer once its media is up.
func (s *Session) attachCalls(peer *Peer) {
	s.mu.Lock()
	calls := s.callIDsLocked()
	s.mu.Unlock()
	for _, id := range calls {
		if call, ok := s.srv.opts.Bridge.Control(id); ok {
			s.attachWhenUp(peer, call)
		}
	}
}

// attachWhenUp attaches call to the session's browser leg once peer's
// media is up, off the read loop; it gives up with the session or the
// page grace.
func (s *Session) attachWhenUp(peer *Peer, call bridge.CallControl) {
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.PageGrace)
		defer cancel()
		if err := peer.WaitMedia(ctx); err != nil {
			s.log.Info("call not re-attached: no media", "call_id", call.CallID(), "error", err)
			return
		}
		if err := call.AttachBrowser(s.leg, s.onCallState, s.onRemoteDigit); err != nil {
			s.log.Info("call not re-attached", "call_id", call.CallID(), "error", err)
			return
		}
		s.log.Info("call attached", "call_id", call.CallID())
	}()
}

// onPeerState follows the session's peer connection: a closed or failed
// one leaves the calls detached (comfort noise); connected (a new page's
// peer connection, or the same one after an ICE restart) attaches them.
func (s *Session) onPeerState(p *Peer, st webrtc.PeerConnectionState) {
	s.mu.Lock()
	current := s.peer == p && !s.terminated
	s.mu.Unlock()
	if !current {
		return
	}
	switch st {
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		s.detachCalls("peer connection " + st.String())
	case webrtc.PeerConnectionStateConnected:
		s.attachCalls(p)
	}
}

// take moves a call of the same seat to this session (another tab of the
// same CRM: "move the call here"). Its audio comes to this session's peer
// connection; the session that had it gets call_moved, this one the
// call's state.
func (s *Session) take(msg Inbound) {
	call, ok := s.srv.opts.Bridge.Control(msg.CallID)
	if !ok || call.Seat() == nil || call.Seat().ID != s.seatID {
		s.sendError(msg.RequestID, msg.CallID, CodeUnknownCall, "no such call of this seat")
		return
	}
	peer := s.peerLeg()
	if peer == nil {
		s.sendError(msg.RequestID, msg.CallID, bridge.ErrNoMedia.SignalingCode(), "send an offer before taking a call")
		return
	}
	if owner := s.srv.ownerOf(msg.CallID); owner != nil && owner != s {
		owner.mu.Lock()
		delete(owner.calls, msg.CallID)
		owner.mu.Unlock()
		owner.send(map[string]string{"type": TypeCallMoved, "call_id": msg.CallID})
	}
	s.mu.Lock()
	s.calls[msg.CallID] = true
	s.mu.Unlock()
	s.log.Info("call taken", "call_id", msg.CallID)
	s.send(CallStateMessage{Type: TypeCallState, CallState: call.Current()})
	s.attachWhenUp(peer, call)
}

func (s *Session) handleOffer(msg Inbound) {
	s.mu.Lock()
	peer, replace := s.peer, s.newPeer
	s.newPeer = false
	s.mu.Unlock()
	var old *Peer
	if peer == nil || replace {
		p, err := newPeer(s.srv.opts.API, s.log, func(c *webrtc.ICECandidateInit) {
			s.send(CandidateMessage{Type: TypeCandidate, Candidate: c})
		}, s.onPeerState)
		if err != nil {
			s.sendError("", "", CodeInternal, err.Error())
			return
		}
		old, peer = peer, p
		s.mu.Lock()
		s.peer = p
		s.mu.Unlock()
	}
	if old != nil {
		// A reloaded page's new peer connection: the calls move to it once
		// its media is up (onPeerState), the old one goes.
		_ = old.Close()
	}
	offer, ok := s.filterOffer(msg.SDP)
	if !ok {
		return
	}
	answer, err := peer.HandleOffer(offer)
	if err != nil {
		s.log.Info("offer refused", "error", err)
		s.sendError("", "", CodeBadRequest, err.Error())
		return
	}
	s.send(SDPMessage{Type: TypeAnswer, SDP: answer})
	s.mu.Lock()
	early := s.earlyCands
	s.earlyCands = nil
	s.mu.Unlock()
	for i := range early {
		if err := peer.AddCandidate(&early[i]); err != nil {
			s.sendError("", "", CodeBadRequest, "candidate refused: "+err.Error())
		}
	}
}

func (s *Session) handleCandidate(msg Inbound) {
	s.mu.Lock()
	peer := s.peer
	s.mu.Unlock()
	raw := bytes.TrimSpace(msg.Candidate)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return // end-of-candidates
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &c); err != nil {
		s.sendError("", "", CodeBadRequest, "candidate is not an RTCIceCandidateInit: "+err.Error())
		return
	}
	if c.Candidate == "" {
		return // end-of-candidates of one m-line
	}
	if !s.countCandidates(1) || !s.checkCandidate(c.Candidate) {
		return
	}
	if peer == nil {
		// Trickled ahead of its offer: keep it for when the offer comes.
		s.mu.Lock()
		if len(s.earlyCands) < maxEarlyCandidates {
			s.earlyCands = append(s.earlyCands, c)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.sendError("", "", CodeBadRequest, "too many candidates before the offer")
		return
	}
	if err := peer.AddCandidate(&c); err != nil {
		s.sendError("", "", CodeBadRequest, "candidate refused: "+err.Error())
	}
}

func (s *Session) peerLeg() *Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

func (s *Session) handleCall(msg Inbound) {
	meta := msg.Metadata
	s.mu.Lock()
	sa := s.auth
	s.mu.Unlock()
	leg := s.leg
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("call request panicked", "panic", r, "stack", string(debug.Stack()))
				s.sendError(msg.RequestID, "", CodeInternal, "internal error")
			}
		}()
		req := bridge.CallRequest{
			Auth:      sa,
			RequestID: msg.RequestID,
			To:        msg.To,
			From:      msg.From,
			Metadata:  json.RawMessage(meta),
			Leg:       leg,
			OnState:   s.onCallState,
		}
		req.OnDTMF = s.onRemoteDigit
		call, err := s.srv.opts.Bridge.Originate(s.ctx, req)
		if err != nil {
			code := errorCode(err)
			s.log.Info("call refused", "request_id", msg.RequestID, "code", code, "error", err)
			s.sendError(msg.RequestID, "", code, err.Error())
			return
		}
		s.mu.Lock()
		gone := s.terminated
		s.mu.Unlock()
		if gone {
			call.Abandon()
		}
	}()
}

// onRemoteDigit tells the client about a digit the far end sent
// (extension message: {type: "dtmf", call_id, digit}).
func (s *Session) onRemoteDigit(callID string, d rune) {
	s.send(map[string]string{"type": TypeDTMF, "call_id": callID, "digit": string(d)})
}

// onCallState forwards call progress and tracks the session's calls.
func (s *Session) onCallState(cs bridge.CallState) {
	s.mu.Lock()
	if cs.State == bridge.StateEnded {
		delete(s.calls, cs.CallID)
		s.callEnded(cs.CallID)
		delete(s.ringing, cs.CallID)
	} else {
		s.calls[cs.CallID] = true
	}
	s.mu.Unlock()
	s.send(CallStateMessage{Type: TypeCallState, CallState: cs})
}

// errorCode is the protocol code of a refusal: the SignalingCode of the
// error it wraps (bridge.Error, ProtocolError), else internal.
func errorCode(err error) string {
	var coded interface{ SignalingCode() string }
	if errors.As(err, &coded) {
		return coded.SignalingCode()
	}
	return CodeInternal
}

// callOf is the session's call a message names, or false after telling
// the client unknown_call.
func (s *Session) callOf(msg Inbound) (bridge.CallControl, bool) {
	call, ok := s.ownCall(msg.CallID)
	if !ok {
		s.sendError(msg.RequestID, msg.CallID, CodeUnknownCall, "no such call in this session")
	}
	return call, ok
}

// ownCall is a call this session may control: one of its own, or one
// of its seat's on another session (another tab of the same CRM).
func (s *Session) ownCall(id string) (bridge.CallControl, bool) {
	if id == "" {
		return nil, false
	}
	s.mu.Lock()
	owned := s.calls[id]
	seat := s.auth.Seat.ID
	s.mu.Unlock()
	call, ok := s.srv.opts.Bridge.Control(id)
	if !ok {
		return nil, false
	}
	if !owned && (call.Seat() == nil || call.Seat().ID != seat) {
		return nil, false
	}
	return call, true
}

func (s *Session) handleDTMF(msg Inbound) {
	dur := time.Duration(msg.DurationMS) * time.Millisecond
	if msg.DurationMS == 0 {
		dur = 100 * time.Millisecond
	}
	call, ok := s.callOf(msg)
	if !ok {
		return
	}
	if err := call.SendDTMF(msg.Digits, dur); err != nil {
		code := errorCode(err)
		s.sendError(msg.RequestID, msg.CallID, code, err.Error())
	}
}

// lazyLeg is the session's peer as a bridge.BrowserLeg; the peer may not
// exist yet when the call is requested (offer after call).
type lazyLeg struct{ s *Session }

func (l *lazyLeg) WaitMedia(ctx context.Context) error {
	for {
		if p := l.s.peerLeg(); p != nil {
			return p.WaitMedia(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no offer from the browser: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *lazyLeg) peer() *Peer { return l.s.peerLeg() }

func (l *lazyLeg) InCodec() media.Codec  { return l.peer().InCodec() }
func (l *lazyLeg) OutCodec() media.Codec { return l.peer().OutCodec() }
func (l *lazyLeg) Out() media.RTPHandler { return l.peer().Out() }
func (l *lazyLeg) Counters() bridge.LegCounters {
	if p := l.peer(); p != nil {
		return p.Counters()
	}
	return bridge.LegCounters{}
}

func (l *lazyLeg) SetIn(h media.RTPHandler) {
	if p := l.peer(); p != nil {
		p.SetIn(h)
	}
}

// Inbound calls (signaling.md, "Inbound calls"): the session is a
// bridge.RingTarget.

// SessionID names the session (bridge.RingTarget).
func (s *Session) SessionID() string { return s.ID }

// mayRing says whether an inbound call to seat may ring this session.
func (s *Session) mayRing(seat string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.terminated && s.auth != nil && s.auth.Seat.ID == seat && len(s.calls) == 0
}

// Incoming sends the incoming message (bridge.RingTarget).
func (s *Session) Incoming(in bridge.Incoming) {
	s.mu.Lock()
	if s.ringing == nil {
		s.ringing = map[string]bool{}
	}
	s.ringing[in.CallID] = true
	s.calls[in.CallID] = true
	s.mu.Unlock()
	s.log.Info("incoming call", "call_id", in.CallID)
	s.send(IncomingMessage{Type: TypeIncoming, CallID: in.CallID, From: in.From, FromRaw: in.FromRaw, To: in.To,
		DisplayName: in.DisplayName, Direction: "inbound", Seat: in.Seat})
}

// State sends a call_state of a call ringing here (bridge.RingTarget).
func (s *Session) State(cs bridge.CallState) { s.onCallState(cs) }

func (s *Session) isRinging(callID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ringing[callID]
}

func (s *Session) handleAccept(msg Inbound) {
	ib, ok := s.srv.opts.Bridge.(InboundBridge)
	if !ok || !s.isRinging(msg.CallID) {
		s.sendError(msg.RequestID, msg.CallID, CodeUnknownCall, "no such ringing call in this session")
		return
	}
	leg := &lazyLeg{s: s}
	go func() { // waits for media: off the read loop
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("accept panicked", "panic", r, "stack", string(debug.Stack()))
				s.sendError(msg.RequestID, msg.CallID, CodeInternal, "internal error")
			}
		}()
		s.mu.Lock()
		seat := s.auth.Seat.ID
		s.mu.Unlock()
		_, err := ib.Accept(s.ctx, msg.CallID, bridge.AnswerRequest{SessionID: s.ID, Seat: seat, Leg: leg,
			OnState: s.onCallState, OnDTMF: s.onRemoteDigit})
		if err != nil {
			code := errorCode(err)
			s.log.Info("accept refused", "call_id", msg.CallID, "code", code, "error", err)
			s.sendError(msg.RequestID, msg.CallID, code, err.Error())
			return
		}
		s.mu.Lock()
		delete(s.ringing, msg.CallID)
		s.mu.Unlock()
	}()
}

func (s *Session) handleReject(msg Inbound) {
	ib, ok := s.srv.opts.Bridge.(InboundBridge)
	if !ok || !s.isRinging(msg.CallID) {
		s.sendError(msg.RequestID, msg.CallID, CodeUnknownCall, "no such ringing call in this session")
		return
	}
	if err := ib.Reject(msg.CallID, s.ID, msg.Reason); err != nil {
		s.sendError(msg.RequestID, msg.CallID, errorCode(err), err.Error())
	}
}
