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

	mu          sync.Mutex
	browser     BrowserLeg                  // guarded by mu; swappable while the call lives
	toBrowser   *gate                       // the downlink's exit; guarded by mu
	toTrunk     *gate                       // the uplink's exit; guarded by mu
	uplink      media.RTPHandler            // browser -> trunk pipeline; guarded by mu
	downlink    *media.Downlink             // trunk -> browser pipeline; guarded by mu
	uplinkStat  func() media.StreamSnapshot // guarded by mu
	dtmf        dtmfSender                  // RFC 4733 sender on the uplink, nil for G.711 uplinks; guarded by mu
	codec       media.Codec                 // the SIP leg's codec the pipelines are built for; guarded by mu
	downlinkOut media.Codec                 // the browser's codec the downlink is built for; guarded by mu
	held        bool                        // the agent holds the far end; guarded by mu
	legBase     LegCounters                 // the browser leg's counters when the call joined it; guarded by mu
	up          *media.Uplink               // the Opus uplink, which can fill a gap with comfort noise; guarded by mu
	detachedAt  time.Time                   // when the browser leg went away; zero while attached; guarded by mu
	reattaches  []Reattach                  // each gap without a browser leg; guarded by mu
}

// Reattach is one gap in a call's browser leg: the page reloaded or moved,
// the call moved to another tab, or the peer connection was replaced.
// During the gap the far end hears comfort noise.
type Reattach struct {
	DetachedAt time.Time `json:"detached_at"`
	AttachedAt time.Time `json:"attached_at,omitzero"` // zero while the gap lasts
	GapMS      int64     `json:"gap_ms"`
	Reason     string    `json:"reason"` // why the browser leg went away
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
		j.toBrowser = newGate(j.browser.Out())
		j.toTrunk = newGate(ms)
		j.legBase = j.browser.Counters()
	}
	downOut := j.browser.OutCodec()
	down, err := media.NewDownlink(media.DownlinkConfig{In: rm.Codec, Out: downOut, SSRC: rand.Uint32()}, j.toBrowser)
	if err != nil {
		return err
	}
	j.downlinkOut = downOut
	var up media.RTPHandler
	var upStats func() media.StreamSnapshot
	var dtmf dtmfSender
	if in := j.browser.InCodec(); in.Name == "opus" {
		u, err := media.NewUplink(media.UplinkConfig{Codec: rm.Codec, SSRC: rand.Uint32(), OpusPayloadType: in.PayloadType}, j.toTrunk)
		if err != nil {
			return err
		}
		up, upStats, dtmf = u, u.Stats, u
		j.up = u
	} else {
		j.up = nil
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
	if j.detachedAt.IsZero() {
		j.browser.SetIn(up)
	} else {
		j.toBrowser.setNext(discard{})
	}
	j.log.Info("media joined", "uplink", up.String(), "downlink", down.String(), "remote", rm.Addr.String())
	return nil
}

// setLeg sets the leg an inbound call joins to once it is answered.
func (j *joint) setLeg(leg BrowserLeg) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.browser = leg
}

func (j *joint) attached() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.browser != nil
}

// leave detaches the browser leg from the call's pipeline.
func (j *joint) leave() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.browser != nil {
		j.browser.SetIn(nil)
	}
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

// detach takes the browser leg out of the call: its audio no longer
// reaches the trunk and the far end's audio goes nowhere until attach. It
// reports whether the leg was attached.
func (j *joint) detach(now time.Time, reason string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.detachedAt.IsZero() || j.browser == nil {
		return false // gone already, or an inbound call nobody answered yet
	}
	j.detachedAt = now
	j.browser.SetIn(nil)
	if j.toBrowser != nil {
		j.toBrowser.setNext(discard{})
	}
	j.reattaches = append(j.reattaches, Reattach{DetachedAt: now.UTC(), Reason: reason})
	j.log.Info("browser leg detached", "reason", reason)
	return true
}

// attach makes leg the call's browser leg, in place of the one detached
// (or still attached: a call moving to another tab). The uplink pipeline
// and its packetizer stay, so the stream toward the trunk keeps its SSRC,
// sequence numbers and timestamps; the downlink is rebuilt only if the new
// leg accepts another G.711 law.
func (j *joint) attach(sip *sipLeg, leg BrowserLeg, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.detachedAt.IsZero() && leg == j.browser {
		return nil // already there
	}
	if j.detachedAt.IsZero() && j.browser != nil {
		j.browser.SetIn(nil)
		j.reattaches = append(j.reattaches, Reattach{DetachedAt: now.UTC(), Reason: "moved"})
	}
	j.browser = leg
	j.detachedAt = time.Time{}
	if n := len(j.reattaches); n > 0 && j.reattaches[n-1].AttachedAt.IsZero() {
		r := &j.reattaches[n-1]
		r.AttachedAt = now.UTC()
		r.GapMS = r.AttachedAt.Sub(r.DetachedAt).Milliseconds()
		j.log.Info("browser leg attached", "gap_ms", r.GapMS, "reason", r.Reason)
	}
	if j.toBrowser == nil {
		return nil // not joined yet: join builds the pipelines for this leg
	}
	j.legBase = leg.Counters()
	if out := leg.OutCodec(); j.downlink != nil && out.Name != "" && out.Name != j.downlinkOut.Name {
		down, err := media.NewDownlink(media.DownlinkConfig{In: j.codec, Out: out, SSRC: rand.Uint32()}, j.toBrowser)
		if err != nil {
			return err
		}
		j.downlink, j.downlinkOut = down, out
		sip.mediaSession().setAudio(j.codec.PayloadType, down)
	}
	if j.up != nil {
		if in := leg.InCodec(); in.Name == "opus" {
			j.up.SetOpusPayloadType(in.PayloadType)
		}
	}
	j.toBrowser.setNext(leg.Out())
	leg.SetIn(j.uplink)
	return nil
}

// lastReattach is the latest gap in the browser leg, if any.
func (j *joint) lastReattach() (Reattach, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.reattaches) == 0 {
		return Reattach{}, false
	}
	return j.reattaches[len(j.reattaches)-1], true
}

// detached says whether the call waits for a browser leg.
func (j *joint) detached() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return !j.detachedAt.IsZero()
}

// comfortNoise sends n samples of comfort noise toward the trunk, through
// the hold gate, while no browser leg is attached.
func (j *joint) comfortNoise(n int) {
	j.mu.Lock()
	up := j.up
	attached := j.detachedAt.IsZero()
	j.mu.Unlock()
	if up == nil || attached {
		return
	}
	if err := up.ComfortNoise(n); err != nil {
		j.log.Debug("comfort noise not sent", "error", err)
	}
}

func (j *joint) reattachLog() []Reattach {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Reattach(nil), j.reattaches...)
}

// gate passes packets on while open; Hold closes it. Its next stage is
// swapped when the call's browser leg changes.
type gate struct {
	next   atomic.Pointer[handlerRef]
	closed atomic.Bool
}

type handlerRef struct{ h media.RTPHandler }

func newGate(next media.RTPHandler) *gate {
	g := &gate{}
	g.setNext(next)
	return g
}

func (g *gate) setNext(h media.RTPHandler) { g.next.Store(&handlerRef{h}) }

func (g *gate) HandleRTP(h *rtp.Header, payload []byte) error {
	if g.closed.Load() {
		return nil
	}
	return g.next.Load().h.HandleRTP(h, payload)
}

func (g *gate) String() string { return g.next.Load().h.String() }

// discard is where the far end's audio goes while no browser is attached.
type discard struct{}

func (discard) HandleRTP(*rtp.Header, []byte) error { return nil }
func (discard) String() string                      { return "discard" }
