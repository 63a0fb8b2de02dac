package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/bridge"
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
	backlog     [][]byte                  // messages queued while detached; guarded by mu
	grace       *time.Timer               // runs while detached; guarded by mu
	terminated  bool                      // guarded by mu
	clientStats map[string]ClientStats    // latest browser getStats per call; guarded by mu
	earlyCands  []webrtc.ICECandidateInit // trickled before the first offer; guarded by mu
	lim         sessionLimits             // per-seat caps; fields guarded by mu unless noted
}

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
	s.log.Info("socket dropped; waiting for resume", "grace", s.srv.opts.ResumeGrace)
	s.grace = time.AfterFunc(s.srv.opts.ResumeGrace, s.terminate)
}

// resume re-attaches a new socket; false when the session is gone.
func (s *Session) resume(c *conn, sa *bridge.SeatAuth) bool {
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
	backlog := s.backlog
	s.backlog = nil
	calls := make([]string, 0, len(s.calls))
	for id := range s.calls {
		calls = append(calls, id)
	}
	s.mu.Unlock()
	if old != nil {
		old.closeWith(CloseReplaced, "resumed elsewhere")
	}
	s.log.Info("session resumed", "calls", len(calls))
	c.send(map[string]any{"type": TypeResumed, "session_id": s.ID, "calls": calls})
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
	calls := make([]string, 0, len(s.calls))
	for id := range s.calls {
		calls = append(calls, id)
	}
	peer := s.peer
	c := s.conn
	s.mu.Unlock()
	s.cancel()
	for _, id := range calls {
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
	s.log.Info("session ended")
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
		call, ok := s.callOf(msg)
		if !ok {
			return
		}
		call.Hangup()
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
	case TypeHello, TypeResume:
		s.sendError(msg.RequestID, "", CodeBadRequest, "this session is already authenticated")
	}
}

func (s *Session) handleOffer(msg Inbound) {
	s.mu.Lock()
	peer := s.peer
	s.mu.Unlock()
	if peer == nil {
		p, err := newPeer(s.srv.opts.API, s.log, func(c *webrtc.ICECandidateInit) {
			s.send(CandidateMessage{Type: TypeCandidate, Candidate: c})
		})
		if err != nil {
			s.sendError("", "", CodeInternal, err.Error())
			return
		}
		peer = p
		s.mu.Lock()
		s.peer = p
		s.mu.Unlock()
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
	leg := &lazyLeg{s: s}
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

func (s *Session) ownCall(id string) (bridge.CallControl, bool) {
	s.mu.Lock()
	owned := s.calls[id]
	s.mu.Unlock()
	if !owned || id == "" {
		return nil, false
	}
	return s.srv.opts.Bridge.Control(id)
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
