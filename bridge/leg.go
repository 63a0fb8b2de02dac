package bridge

import (
	"context"
	"time"

	"github.com/callbridge/callbridge/media"
)

// Leg is one side of a call as the call's joint sees it: the audio it
// hands in and the audio it takes out, each in the leg's own codec.
type Leg interface {
	// InCodec is what the leg hands in: what its far end sends.
	InCodec() media.Codec
	// OutCodec is what the leg takes out: what its far end accepts.
	OutCodec() media.Codec
	// Out is the sink for audio toward the leg's far end. The headers'
	// SSRC and payload type may be rewritten by the leg.
	Out() media.RTPHandler
	// SetIn routes the audio the leg receives to h; nil detaches.
	SetIn(h media.RTPHandler)
}

// BrowserLeg is the browser side of a call: the signaling session's one
// WebRTC peer connection, set up before the call and reused by each call.
// The bridge never sees WebRTC types; signaling implements this.
type BrowserLeg interface {
	Leg
	// WaitMedia blocks until the peer connection has negotiated audio, or
	// ctx ends.
	WaitMedia(ctx context.Context) error
	// Counters are the browser leg's packet counts, for diagnostics.
	Counters() LegCounters
}

// LegCounters count the browser leg's RTP as the bridge sees it.
type LegCounters struct {
	FromBrowser     uint64    `json:"from_browser"`       // RTP packets received from the browser
	FromBrowserBad  uint64    `json:"from_browser_bad"`   // unparsable or refused by the pipeline
	ToBrowser       uint64    `json:"to_browser"`         // RTP packets sent to the browser
	LastToBrowserAt time.Time `json:"last_to_browser_at"` // when the last one was sent
	ICEState        string    `json:"ice_state"`          // the peer connection's state
}
