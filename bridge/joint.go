package bridge

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/media"
)

// joint is the media between a call's two legs: one pipeline each way,
// each ending in a gate that hold closes.
//
//	browser leg --In--> uplink pipeline   --> gate --> SIP leg's media out
//	SIP leg's demux --> downlink pipeline --> gate --> browser leg's Out
//
// Holding gates what leaves each pipeline, not what enters it, so the
// counters keep running and a hold is not counted as loss.
type joint struct {
	log *slog.Logger

	mu         sync.Mutex
	browser    BrowserLeg                  // guarded by mu; swappable while the call lives
	toBrowser  *gate                       // the downlink's exit; guarded by mu
	toTrunk    *gate                       // the uplink's exit; guarded by mu
	uplink     media.RTPHandler            // browser -> trunk pipeline; guarded by mu
	downlink   *media.Downlink             // trunk -> browser pipeline; guarded by mu
	uplinkStat func() media.StreamSnapshot // guarded by mu
	dtmf       dtmfSender                  // RFC 4733 sender on the uplink, nil for G.711 uplinks; guarded by mu
	codec      media.Codec                 // the SIP leg's codec the pipelines are built for; guarded by mu
	held       bool                        // the agent holds the far end; guarded by mu
	legBase    LegCounters                 // the browser leg's counters when the call joined it; guarded by mu
}

// dtmfSender is the uplink's RFC 4733 event sender.
type dtmfSender interface {
	SendDTMF(digit rune, dur time.Duration, pt uint8) error
}

// join builds the pipelines between the browser leg and the SIP leg for
// the far end's SDP, or keeps them when only the address changed (a 200
// after a 183, a re-INVITE).
func (j *joint) join(sip *sipLeg, rm remoteMedia, onDigit func(rune)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	ms := sip.mediaSession()
	if j.downlink != nil && rm.Codec == j.codec {
		return nil
	}
	if j.toBrowser == nil {
		j.toBrowser = &gate{next: j.browser.Out()}
		j.toTrunk = &gate{next: ms}
		j.legBase = j.browser.Counters()
	}
	down, err := media.NewDownlink(media.DownlinkConfig{In: rm.Codec, Out: j.browser.OutCodec(), SSRC: rand.Uint32()}, j.toBrowser)
	if err != nil {
		return err
	}
	var up media.RTPHandler
	var upStats func() media.StreamSnapshot
	var dtmf dtmfSender
	if in := j.browser.InCodec(); in.Name == "opus" {
		u, err := media.NewUplink(media.UplinkConfig{Codec: rm.Codec, SSRC: rand.Uint32(), OpusPayloadType: in.PayloadType}, j.toTrunk)
		if err != nil {
			return err
		}
		up, upStats, dtmf = u, u.Stats, u
	} else {
		u, err := media.NewDownlink(media.DownlinkConfig{In: in, Out: rm.Codec, SSRC: rand.Uint32()}, j.toTrunk)
		if err != nil {
			return err
		}
		up, upStats = u, u.Stats
	}
	j.codec, j.downlink, j.uplink, j.uplinkStat, j.dtmf = rm.Codec, down, up, upStats, dtmf
	ms.setAudio(rm.Codec.PayloadType, down)
	if rm.DTMFType != 0 {
		ms.setDTMF(rm.DTMFType, media.NewDTMFReceiver(8000, func(d rune, _ time.Duration) { onDigit(d) }))
	}
	j.browser.SetIn(up)
	j.log.Info("media joined", "uplink", up.String(), "downlink", down.String(), "remote", rm.Addr.String())
	return nil
}

// leave detaches the browser leg from the call's pipeline.
func (j *joint) leave() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.browser.SetIn(nil)
}

// applyGates opens or closes both exits from the agent's hold and the far
// end's SDP direction (RFC 3264 §6.1): nothing is sent to the trunk when it
// offered sendonly or inactive (our answer said recvonly or inactive),
// nothing reaches the browser when the stream is inactive, and neither
// while the agent holds.
func (j *joint) applyGates(dir string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.applyGatesLocked(dir)
}

func (j *joint) applyGatesLocked(dir string) {
	if j.toBrowser == nil {
		return
	}
	j.toTrunk.closed.Store(j.held || dir == "sendonly" || dir == "inactive")
	j.toBrowser.closed.Store(j.held || dir == "inactive")
}

func (j *joint) setAgentHold(on bool, dir string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.held = on
	j.applyGatesLocked(dir)
}

func (j *joint) agentHold() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.held
}

func (j *joint) dtmfOut() dtmfSender {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dtmf
}

// gate passes packets on while open; Hold closes it.
type gate struct {
	next   media.RTPHandler
	closed atomic.Bool
}

func (g *gate) HandleRTP(h *rtp.Header, payload []byte) error {
	if g.closed.Load() {
		return nil
	}
	return g.next.HandleRTP(h, payload)
}

func (g *gate) String() string { return g.next.String() }
