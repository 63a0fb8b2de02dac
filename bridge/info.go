package bridge

import (
	"encoding/json"
	"math"
	"time"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// CallInfo is a snapshot of a call for the admin API, the stats page and
// the webhook.
type CallInfo struct {
	CallID     string          `json:"call_id"`
	SIPCallID  string          `json:"sip_call_id"`
	Seat       string          `json:"seat"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	State      string          `json:"state"`
	Status     string          `json:"status,omitempty"`
	StartedAt  time.Time       `json:"started_at"`
	AnsweredAt *time.Time      `json:"answered_at,omitempty"`
	EndedAt    *time.Time      `json:"ended_at,omitempty"`
	Cause      *record.Cause   `json:"cause,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Media      MediaInfo       `json:"media"`
}

// MediaInfo is what each leg's RTP did, per direction.
type MediaInfo struct {
	TrunkCodec    string                `json:"trunk_codec,omitempty"`
	BrowserCodec  string                `json:"browser_codec,omitempty"`
	DownlinkCodec string                `json:"downlink_codec,omitempty"`
	Remote        string                `json:"remote_rtp,omitempty"`
	Local         string                `json:"local_rtp,omitempty"`
	Latched       bool                  `json:"latched"`
	Direction     string                `json:"direction,omitempty"`
	Uplink        *media.StreamSnapshot `json:"uplink,omitempty"`   // browser → bridge
	Downlink      *media.StreamSnapshot `json:"downlink,omitempty"` // trunk → bridge
	SentToTrunk   uint64                `json:"sent_to_trunk"`
	ForeignRTP    uint64                `json:"foreign_rtp_dropped"`
	BadRTP        uint64                `json:"bad_rtp"`
	Chains        map[string]string     `json:"chains,omitempty"`
	Browser       LegCounters           `json:"browser"`
	LastFromTrunk time.Time             `json:"last_from_trunk,omitempty"`
	OtherPT       uint64                `json:"unexpected_payload_types"`
	PrivateSDP    bool                  `json:"trunk_sdp_private_address"`
	SDPAddr       string                `json:"trunk_sdp_address,omitempty"`
	AgentHold     bool                  `json:"agent_hold"` // the agent put the call on hold
}

// Info returns a snapshot of the call.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci := CallInfo{
		CallID:    c.ID,
		SIPCallID: c.sipCallID,
		Seat:      c.seat.ID,
		From:      c.From,
		To:        c.To,
		State:     c.state,
		StartedAt: c.startedAt.UTC(),
		Metadata:  c.Metadata,
	}
	if !c.answeredAt.IsZero() {
		t := c.answeredAt.UTC()
		ci.AnsweredAt = &t
	}
	if !c.endedAt.IsZero() {
		t := c.endedAt.UTC()
		ci.EndedAt = &t
		ci.Status = c.statusLocked()
	}
	if c.cause != nil {
		cause := *c.cause
		ci.Cause = &cause
	}
	m := &ci.Media
	if c.remote.Codec.Name != "" {
		m.TrunkCodec = c.remote.Codec.Name
		m.Direction = c.remote.Direction
	}
	if c.rtp != nil {
		m.Local = c.rtp.localAddr().String()
		if r := c.rtp.remote.Load(); r != nil {
			m.Remote = r.String()
		}
		m.Latched = c.rtp.latched.Load()
		m.SentToTrunk = c.rtp.sent.Load()
		m.ForeignRTP = c.rtp.foreign.Load()
		m.BadRTP = c.rtp.bad.Load()
		m.OtherPT = c.rtp.otherPT.Load()
		if n := c.rtp.lastRecv.Load(); n > 0 {
			m.LastFromTrunk = time.Unix(0, n).UTC()
		}
	}
	if c.remote.Addr.IsValid() {
		m.SDPAddr = c.remote.Addr.String()
		m.PrivateSDP = c.remote.PrivateAddr
	}
	if c.leg != nil {
		// The leg's counters run for the whole session; show this call's share.
		m.Browser = c.leg.Counters()
		m.Browser.FromBrowser -= min(m.Browser.FromBrowser, c.legBase.FromBrowser)
		m.Browser.FromBrowserBad -= min(m.Browser.FromBrowserBad, c.legBase.FromBrowserBad)
		m.Browser.ToBrowser -= min(m.Browser.ToBrowser, c.legBase.ToBrowser)
	}
	m.AgentHold = c.held
	if c.uplinkStat != nil {
		s := c.uplinkStat()
		m.Uplink = &s
		m.BrowserCodec = c.leg.UplinkCodec().Name
	}
	if c.downlink != nil {
		s := c.downlink.Stats()
		m.Downlink = &s
		m.DownlinkCodec = c.leg.DownlinkCodec().Name
		m.Chains = map[string]string{"downlink": c.downlink.String()}
		if c.uplink != nil {
			m.Chains["uplink"] = c.uplink.String()
		}
	}
	return ci
}

// Quality computes the call's quality summary: per-direction counters and
// an E-model MOS (ITU-T G.107, G.711 with PLC, Bpl 25.1) from the worse
// direction's loss and jitter.
func (ci CallInfo) Quality() record.Quality {
	var q record.Quality
	leg := func(s *media.StreamSnapshot) record.LegQuality {
		if s == nil {
			return record.LegQuality{Silent: true}
		}
		return record.LegQuality{Packets: int64(s.Packets), Lost: s.Lost, JitterMS: round1(s.JitterMs), Silent: s.Packets == 0 || s.Silent}
	}
	q.Uplink = leg(ci.Media.Uplink)
	q.Downlink = leg(ci.Media.Downlink)
	answered := ci.AnsweredAt != nil
	if answered {
		q.OneWayAudio = (q.Uplink.Packets == 0) != (q.Downlink.Packets == 0) || q.Uplink.Silent != q.Downlink.Silent
	}
	lossPct := math.Max(lossPercent(q.Uplink), lossPercent(q.Downlink))
	jitter := math.Max(q.Uplink.JitterMS, q.Downlink.JitterMS)
	if answered && (q.Uplink.Packets > 0 || q.Downlink.Packets > 0) {
		q.MOS = record.EModelMOS(2*jitter+20+10, lossPct, 25.1)
	}
	return q
}

func lossPercent(l record.LegQuality) float64 {
	total := float64(l.Packets) + float64(max(l.Lost, 0))
	if total == 0 {
		return 0
	}
	return 100 * float64(max(l.Lost, 0)) / total
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
