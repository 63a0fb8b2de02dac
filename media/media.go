// Package media moves audio between the browser leg (Opus over SRTP) and the
// SIP leg (G.711 over RTP).
//
// Every stage is a small type behind one of two interfaces, and each
// constructor takes the next stage, so a pipeline reads like its data flow:
//
//	uplink:   opus decode -> resample 48k->8k -> PCMU encode -> packetize -> RTP out
//	downlink: PCMA decode -> PCMU encode -> packetize -> RTP out   (or a pass-through)
//
// Each stage's String() prints the chain from itself on, e.g.
// "OpusDecode(48000) -> Resample(48000->8000) -> PCMU -> Packetize(20ms) -> udp".
package media

import (
	"github.com/pion/rtp"
)

// RTPHandler consumes one RTP packet. Implementations must not retain h or
// payload after returning; callers reuse both buffers.
type RTPHandler interface {
	HandleRTP(h *rtp.Header, payload []byte) error
	String() string
}

// PCM16Writer consumes mono signed 16-bit linear audio at SampleRate().
// Implementations must not retain samples after returning.
type PCM16Writer interface {
	WriteSamples(samples []int16) error
	SampleRate() int
	String() string
}

// Codec is an audio payload format as negotiated in SDP.
type Codec struct {
	Name        string // "PCMU", "PCMA", "opus", "telephone-event"
	ClockRate   int    // RTP clock rate: 8000 for G.711, 48000 for Opus
	PayloadType uint8  // negotiated payload type
}

// Well-known static payload types (RFC 3551 §6).
const (
	PayloadTypePCMU uint8 = 0
	PayloadTypePCMA uint8 = 8
)

// Codecs the bridge can put on the wire.
var (
	CodecPCMU = Codec{Name: "PCMU", ClockRate: 8000, PayloadType: PayloadTypePCMU}
	CodecPCMA = Codec{Name: "PCMA", ClockRate: 8000, PayloadType: PayloadTypePCMA}
)

// pcmStage is a PCM16Writer that also learns about time without audio, so
// loss concealment and packetizing can react to it.
type pcmStage interface {
	PCM16Writer
	// WriteGap reports n samples (at SampleRate) that will never arrive:
	// lost packets or a pause. n == 0 marks a discontinuity of unknown
	// length, such as a restarted sender.
	WriteGap(n int) error
}

// Payload type commonly used for telephone-event when none is negotiated
// (RFC 4733 uses a dynamic payload type).
const DefaultDTMFPayloadType uint8 = 101

// CodecTelephoneEvent is RFC 4733 telephone-event at 8 kHz.
var CodecTelephoneEvent = Codec{Name: "telephone-event", ClockRate: 8000, PayloadType: DefaultDTMFPayloadType}
