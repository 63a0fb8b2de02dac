package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
)

// Message types of protocol v1 (docs/SIGNALING.md).
const (
	TypeHello     = "hello"
	TypeReady     = "ready"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeCall      = "call"
	TypeHangup    = "hangup"
	TypeDTMF      = "dtmf"
	TypeResume    = "resume"
	TypePing      = "ping"
	TypePong      = "pong"
	TypeCallState = "call_state"
	TypeError     = "error"
	TypeStats     = "stats"
	TypeResumed   = "resumed"
	TypeHold      = "hold"
	TypeHeld      = "held"
	TypeIncoming  = "incoming"
	TypeAccept    = "accept"
	TypeReject    = "reject"
	// TypeCallerID (extension) asks which caller id a call to `to` would
	// present, and is the reply (CallerIDReply).
	TypeCallerID = "caller_id"
	// Re-attaching calls to a new page, another tab (extensions).
	TypeLeaving     = "leaving"
	TypeTake        = "take"
	TypeCallMoved   = "call_moved"
	TypeResumeToken = "resume_token"
)

// Close codes (signaling.md, "Transport").
const (
	CloseBadFrame     = 4400 // oversized, non-JSON, or unknown type before hello
	CloseUnauthorized = 4401 // no hello in time, or a refused token
	CloseReplaced     = 4409 // the session was resumed on another socket
)

// MaxFrame is the largest accepted frame.
const MaxFrame = 64 << 10

// Inbound is any client message; fields are per type.
type Inbound struct {
	Type       string          `json:"type"`
	Token      string          `json:"token,omitempty"`
	Client     *ClientInfo     `json:"client,omitempty"`
	SDP        string          `json:"sdp,omitempty"`
	Candidate  json.RawMessage `json:"candidate,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	To         string          `json:"to,omitempty"`
	From       string          `json:"from,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	CallID     string          `json:"call_id,omitempty"`
	Digits     string          `json:"digits,omitempty"`
	DurationMS int             `json:"duration_ms,omitempty"`
	SessionID  string          `json:"session_id,omitempty"`
	Hold       *bool           `json:"hold,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	// ResumeToken is the single-use resume credential of resume.
	ResumeToken string `json:"resume_token,omitempty"`
	// NewPeer in resume says the client comes back with a new peer
	// connection (a reloaded page): its next offer replaces the session's.
	NewPeer bool `json:"new_peer,omitempty"`
}

// IncomingMessage rings the session for an inbound call (signaling.md,
// "Inbound calls").
type IncomingMessage struct {
	Type        string `json:"type"`
	CallID      string `json:"call_id"`
	From        string `json:"from"`
	FromRaw     string `json:"from_raw,omitempty"`
	To          string `json:"to"`
	DisplayName string `json:"display_name,omitempty"`
	Direction   string `json:"direction"`
	Seat        string `json:"seat"`
}

// ClientInfo names the client in hello.
type ClientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Ready is the reply to hello.
type Ready struct {
	Type       string             `json:"type"`
	SessionID  string             `json:"session_id"`
	Seat       string             `json:"seat"`
	CallerIDs  []string           `json:"caller_ids"`
	ICEServers []config.ICEServer `json:"ice_servers"`
	// ResumeToken is the credential of the next resume (extension).
	ResumeToken string `json:"resume_token"`
}

// Resumed is the reply to resume (extension).
type Resumed struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id"`
	// Calls are the ids of the session's live calls.
	Calls []string `json:"calls"`
	// CallStates are their states now, with answered_at and hold.
	CallStates []bridge.CallState `json:"call_states"`
	// ResumeToken is the credential of the next resume; the one just
	// used is spent.
	ResumeToken string `json:"resume_token"`
}

// ResumeTokenMessage hands the client a fresh resume credential
// (extension): sent as the last one nears its expiry.
type ResumeTokenMessage struct {
	Type        string `json:"type"`
	ResumeToken string `json:"resume_token"`
	ExpiresIn   int    `json:"expires_in"` // seconds
}

// SDPMessage is an answer (or offer) carrying SDP.
type SDPMessage struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// CandidateMessage trickles one ICE candidate; Candidate nil = end.
type CandidateMessage struct {
	Type      string                   `json:"type"`
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
}

// CallStateMessage is call progress.
type CallStateMessage struct {
	Type string `json:"type"`
	bridge.CallState
}

// ErrorMessage is a refused request.
type ErrorMessage struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id,omitempty"`
	CallID    string `json:"call_id,omitempty"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// Error codes (signaling.md, "Error codes").
const (
	CodeUnauthorized = "unauthorized"
	CodeBadRequest   = "bad_request"
	CodeUnknownCall  = "unknown_call"
	CodeInternal     = "internal"
	// CodeSeatUnavailable: the seat was disabled or deleted while the
	// session was live; the socket closes with 4401 next.
	CodeSeatUnavailable = "seat_unavailable"
	// CodeSessionNotFound (extension): resume of a session that is gone,
	// or of another seat's.
	CodeSessionNotFound = "session_not_found"
)

// ProtocolError is a refused client message: Code is the error code sent
// back.
type ProtocolError struct {
	Code, Msg string
}

func (e *ProtocolError) Error() string { return e.Code + ": " + e.Msg }

// SignalingCode is the protocol error code.
func (e *ProtocolError) SignalingCode() string { return e.Code }

func badRequest(format string, a ...any) *ProtocolError {
	return &ProtocolError{Code: CodeBadRequest, Msg: fmt.Sprintf(format, a...)}
}

var digitsRe = regexp.MustCompile(`^[0-9*#A-D]{1,32}$`)

// knownTypes are the client message types of v1 plus extensions.
var knownTypes = map[string]bool{
	TypeHello: true, TypeOffer: true, TypeCandidate: true, TypeCall: true, TypeHangup: true,
	TypeDTMF: true, TypeResume: true, TypePing: true, TypeStats: true, TypeHold: true,
	TypeAccept: true, TypeReject: true,
	TypeCallerID: true,
	TypeLeaving:  true, TypeTake: true,
}

// Parse decodes and validates one client frame. Every refusal is a
// *ProtocolError with code bad_request.
func Parse(data []byte) (Inbound, error) {
	var msg Inbound
	if err := json.Unmarshal(data, &msg); err != nil {
		return msg, badRequest("malformed JSON: %v", err)
	}
	if msg.Type == "" {
		return msg, badRequest("message has no type")
	}
	if !knownTypes[msg.Type] {
		return msg, badRequest("unknown message type %q", msg.Type)
	}
	switch msg.Type {
	case TypeOffer:
		if msg.SDP == "" {
			return msg, badRequest("offer without sdp")
		}
	case TypeCandidate:
		raw := bytes.TrimSpace(msg.Candidate)
		if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
			var c webrtc.ICECandidateInit
			if err := json.Unmarshal(raw, &c); err != nil {
				return msg, badRequest("candidate is not an RTCIceCandidateInit: %v", err)
			}
		}
	case TypeCall:
		if strings.TrimSpace(msg.To) == "" {
			return msg, badRequest("call needs a `to` number")
		}
		if len(msg.To) > 64 || len(msg.From) > 64 || len(msg.RequestID) > 128 {
			return msg, badRequest("to, from or request_id is too long")
		}
		meta := bytes.TrimSpace(msg.Metadata)
		if len(meta) > 0 && !bytes.Equal(meta, []byte("null")) {
			if len(meta) > 4096 {
				return msg, badRequest("metadata is larger than 4 KiB")
			}
			if meta[0] != '{' {
				return msg, badRequest("metadata must be a JSON object")
			}
			msg.Metadata = meta
		} else {
			msg.Metadata = nil
		}
	case TypeCallerID:
		if strings.TrimSpace(msg.To) == "" || len(msg.To) > 64 {
			return msg, badRequest("caller_id needs a `to` number of at most 64 characters")
		}
	case TypeHold:
		if msg.Hold == nil {
			return msg, badRequest("hold needs a boolean `hold`")
		}
		if msg.CallID == "" {
			return msg, &ProtocolError{Code: CodeUnknownCall, Msg: "hold needs a call_id"}
		}
	case TypeAccept, TypeReject:
		if msg.CallID == "" {
			return msg, &ProtocolError{Code: CodeUnknownCall, Msg: msg.Type + " needs a call_id"}
		}
		switch msg.Reason {
		case "", "busy", "decline":
		default:
			return msg, badRequest("reason must be busy or decline")
		}
	case TypeTake:
		if msg.CallID == "" {
			return msg, &ProtocolError{Code: CodeUnknownCall, Msg: "take needs a call_id"}
		}
	case TypeHangup:
		if msg.CallID == "" {
			return msg, &ProtocolError{Code: CodeUnknownCall, Msg: "hangup needs a call_id"}
		}
	case TypeDTMF:
		if !digitsRe.MatchString(msg.Digits) {
			return msg, badRequest("digits must be 1 to 32 of 0-9 * # A-D")
		}
		if msg.DurationMS != 0 && (msg.DurationMS < 40 || msg.DurationMS > 2000) {
			return msg, badRequest("duration_ms must be 40 to 2000")
		}
	}
	return msg, nil
}
