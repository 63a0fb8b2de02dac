package bridge

import "errors"

// Error is a refusal the browser side sees: Code is one of the signaling
// protocol's error codes (spec: signaling.md). Signaling maps any error
// wrapping an *Error to an `error` message with that code.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return e.msg }

// SignalingCode is the protocol error code of the refusal.
func (e *Error) SignalingCode() string { return e.code }

// Refusals of a call request, each with its signaling error code.
var (
	ErrInvalidNumber       = &Error{"invalid_number", "the dialed number is not a valid phone number"}
	ErrCallerIDNotAllowed  = &Error{"caller_id_not_allowed", "that caller id is not provisioned to this seat"}
	ErrDestinationNotAllow = &Error{"destination_not_allowed", "that destination may not be called"}
	ErrTooManyCalls        = &Error{"too_many_calls", "the seat has reached its number of simultaneous calls"}
	ErrRateLimited         = &Error{"rate_limited", "the seat places calls faster than dialing.calls_per_minute allows"}
	ErrNoMedia             = &Error{"no_media", "no media connection was negotiated within 10 s"}
	ErrUnauthorized        = &Error{"unauthorized", "the seat token was refused"}
	ErrTrunkUnavailable    = &Error{"trunk_unavailable", "the SIP trunk is not reachable"}
	ErrTooBusy             = &Error{"too_busy", "the bridge is at capacity; try again in a few seconds"}
	ErrShuttingDown        = &Error{"internal", "the bridge is shutting down"}
)

// Causes a call's context is cancelled with.
var (
	ErrAgentHangup    = errors.New("agent hung up")
	ErrRemoteHangup   = errors.New("remote hung up")
	ErrRingTimeout    = errors.New("no answer before the ring timeout")
	ErrMaxDuration    = errors.New("maximum call duration reached")
	ErrMediaTimeout   = errors.New("no RTP from the trunk")
	ErrSessionExpired = errors.New("session timer expired")
	ErrBrowserGone    = errors.New("browser session ended")
	ErrBridgeShutdown = errors.New("bridge shutting down")
)
