package demotrunk

import (
	"errors"
	"fmt"
)

// Sentinel errors of the demo trunk. Errors that end up in a SIP response
// carry their status through [statusError]; match them with errors.Is.
var (
	// ErrBadOptions is returned by New for options that cannot work.
	ErrBadOptions = errors.New("demotrunk: bad options")
	// ErrAlreadyServing is returned by Serve when the trunk already serves a socket.
	ErrAlreadyServing = errors.New("demotrunk: already serving")
	// ErrClosed is returned by Serve after Close.
	ErrClosed = errors.New("demotrunk: closed")

	// ErrBadSDP means the offer is not parseable SDP (RFC 4566 §5).
	ErrBadSDP = errors.New("demotrunk: malformed SDP")
	// ErrNoAudio means the offer has no usable m=audio line (RFC 3264 §6).
	ErrNoAudio = errors.New("demotrunk: no audio stream in offer")
	// ErrNoCodec means none of the offered formats is PCMU or PCMA.
	ErrNoCodec = errors.New("demotrunk: no common codec (PCMU/PCMA)")
	// ErrNoConnection means the audio stream has no usable c= address.
	ErrNoConnection = errors.New("demotrunk: no connection address in offer")

	// ErrAuthMissing means the INVITE carried no credentials for the realm.
	ErrAuthMissing = errors.New("demotrunk: no credentials")
	// ErrAuthStale means the credentials used an unknown or expired nonce.
	ErrAuthStale = errors.New("demotrunk: stale nonce")
	// ErrAuthFailed means the credentials were checked and are wrong.
	ErrAuthFailed = errors.New("demotrunk: wrong credentials")

	// ErrUnknownNumber means the Request-URI is not one of the test numbers.
	ErrUnknownNumber = errors.New("demotrunk: unknown number")
)

// statusError is an error the caller sees as a SIP final response.
type statusError struct {
	code   int
	reason string
	err    error
}

func (e *statusError) Error() string { return fmt.Sprintf("%d %s: %v", e.code, e.reason, e.err) }
func (e *statusError) Unwrap() error { return e.err }

// SIPStatus is the status code and reason phrase to answer with.
func (e *statusError) SIPStatus() (int, string) { return e.code, e.reason }

func withStatus(code int, reason string, err error) error {
	return &statusError{code: code, reason: reason, err: err}
}

// sipStatus maps an error to the final response the trunk sends for it;
// errors that do not say otherwise are 500 (RFC 3261 §21.5.1).
func sipStatus(err error) (int, string) {
	var se interface{ SIPStatus() (int, string) }
	if errors.As(err, &se) {
		return se.SIPStatus()
	}
	return 500, "Server Internal Error"
}
