package signaling

import (
	"encoding/json"

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
	CodeRateLimited  = "rate_limited"
)
