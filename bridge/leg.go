package bridge

import (
	"context"
	"time"

	"github.com/callbridge/callbridge/media"
)

// BrowserLeg is the browser side of a call: the signaling session's one
// WebRTC peer connection, set up before the call and reused by each call.
// The bridge never sees WebRTC types; signaling implements this.
type BrowserLeg interface {
	// WaitMedia blocks until the peer connection has negotiated audio, or
	// ctx ends.
	WaitMedia(ctx context.Context) error
	// UplinkCodec is what the browser sends: Opus normally, G.711 if the
	// client chose it.
	UplinkCodec() media.Codec
	// DownlinkCodec is the G.711 codec the browser accepted in its offer,
	// used to send the trunk's audio without re-encoding when possible.
	DownlinkCodec() media.Codec
	// Downlink is the sink for audio toward the browser. Its headers'
	// SSRC and payload type are rewritten by the peer connection.
	Downlink() media.RTPHandler
	// AttachUplink routes the browser's RTP to h; nil detaches.
	AttachUplink(h media.RTPHandler)
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
