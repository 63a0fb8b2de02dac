package media

import "errors"

// Sentinel errors of the media package. Functions wrap them with %w and
// context; match with errors.Is.
var (
	// ErrInvalidConfig reports a pipeline configuration that cannot work.
	ErrInvalidConfig = errors.New("media: invalid config")
	// ErrUnsupportedCodec reports a codec the pipeline cannot carry.
	ErrUnsupportedCodec = errors.New("media: unsupported codec")
	// ErrNilPacket reports a nil RTP header.
	ErrNilPacket = errors.New("media: nil rtp header")
	// ErrEmptyPayload reports an RTP packet without payload.
	ErrEmptyPayload = errors.New("media: empty payload")
	// ErrPayloadTooLarge reports a payload above MaxPayloadSize.
	ErrPayloadTooLarge = errors.New("media: payload too large")
	// ErrMalformedOpus reports an Opus payload the decoder rejected.
	ErrMalformedOpus = errors.New("media: malformed opus payload")
	// ErrDecoderPanic reports a panic inside the Opus decoder; the decoder
	// is reset and the next packet is decoded normally.
	ErrDecoderPanic = errors.New("media: opus decoder panicked")
	// ErrHandlerPanic reports a panic in a packet handler, caught by
	// HandleSafely.
	ErrHandlerPanic = errors.New("media: packet handler panicked")
	// ErrUnexpectedPayloadType reports a packet whose payload type is
	// neither the negotiated audio codec nor telephone-event.
	ErrUnexpectedPayloadType = errors.New("media: unexpected payload type")
	// ErrMalformedDTMF reports a telephone-event payload shorter than 4
	// bytes (RFC 4733 §2.3).
	ErrMalformedDTMF = errors.New("media: malformed telephone-event payload")
	// ErrInvalidDigit reports a DTMF digit outside 0-9 * # A-D.
	ErrInvalidDigit = errors.New("media: invalid dtmf digit")
	// ErrDTMFQueueFull reports too many digits waiting to be sent.
	ErrDTMFQueueFull = errors.New("media: dtmf queue full")
)
