package bridge

import (
	"encoding/json"
	"time"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// CallInfo is a snapshot of a call for the admin API, the stats page and
// the webhook.
type CallInfo struct {
	CallID     string             `json:"call_id"`
	SIPCallID  string             `json:"sip_call_id"`
	Seat       string             `json:"seat"`
	Direction  string             `json:"direction"`
	AnsweredBy *record.AnsweredBy `json:"answered_by,omitempty"`
	Missed     string             `json:"missed_reason,omitempty"`
	From       string             `json:"from"`
	To         string             `json:"to"`
	State      string             `json:"state"`
	Status     string             `json:"status,omitempty"`
	StartedAt  time.Time          `json:"started_at"`
	AnsweredAt *time.Time         `json:"answered_at,omitempty"`
	EndedAt    *time.Time         `json:"ended_at,omitempty"`
	Cause      *record.Cause      `json:"cause,omitempty"`
	Metadata   json.RawMessage    `json:"metadata,omitempty"`
	Media      MediaInfo          `json:"media"`
	// Route, Trunk and Attempts say how the call left: the route, the
	// trunk that carried it, every trunk tried or skipped.
	Route    string           `json:"route,omitempty"`
	Trunk    string           `json:"trunk,omitempty"`
	Attempts []record.Attempt `json:"attempts,omitempty"`
	// Reattaches are the gaps in the browser leg, oldest first: a reloaded
	// or navigated page, a call moved to another tab, a replaced peer
	// connection. The far end heard comfort noise during each.
	Reattaches []Reattach `json:"reattaches,omitempty"`
	// Intervals are the answered call's seconds, oldest first.
	Intervals []record.Interval `json:"intervals,omitempty"`
	// Timeline is what happened to the call: states, SDP, holds, media
	// address changes, RTCP.
	Timeline []TimelineEvent `json:"timeline,omitempty"`
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
	// TrunkHold is how the far end's SDP holds the call, "" when it does
	// not: "a=sendonly", "a=recvonly", "a=inactive", "c=0.0.0.0", "port 0".
	TrunkHold string `json:"trunk_hold,omitempty"`
	// TrunkRTCP is what the trunk's RTCP says about the bridge's RTP
	// toward it: whether the far end receives it at all.
	TrunkRTCP *TrunkRTCP `json:"trunk_rtcp,omitempty"`
	// ForeignSource is the last address RTP came from that the source
	// policy refused (a carrier that moved its media mid-call, or a
	// stranger), and ForeignAt when.
	ForeignSource string    `json:"foreign_source,omitempty"`
	ForeignAt     time.Time `json:"foreign_at,omitempty"`
}

// Info returns a snapshot of the call: the call's own state under its
// lock, then each leg's under the leg's.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	ci := CallInfo{
		CallID:    c.ID,
		SIPCallID: c.sip.callID,
		Seat:      c.seat.ID,
		Direction: c.direction,
		Missed:    c.missed,
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
	if c.answeredBy != nil {
		by := *c.answeredBy
		ci.AnsweredBy = &by
	}
	ci.Route, ci.Trunk = c.routing.route, c.routing.trunk
	ci.Attempts = append([]record.Attempt(nil), c.routing.attempts...)
	ci.Intervals = append([]record.Interval(nil), c.intervals...)
	c.mu.Unlock()
	ci.Timeline = c.tl.list()
	c.sip.describe(&ci.Media)
	c.joint.describe(&ci.Media)
	ci.Reattaches = c.joint.reattachLog()
	return ci
}

// describe fills the SIP leg's part of a MediaInfo.
func (l *sipLeg) describe(m *MediaInfo) {
	l.mu.Lock()
	rm, ms := l.remote, l.media
	l.mu.Unlock()
	if rm.Codec.Name != "" {
		m.TrunkCodec = rm.Codec.Name
		m.Direction = rm.Direction
		m.TrunkHold = rm.HoldForm
	}
	if rm.Addr.IsValid() {
		m.SDPAddr = rm.Addr.String()
		m.PrivateSDP = rm.PrivateAddr
	}
	if ms == nil {
		return
	}
	m.Local = ms.localAddr().String()
	if r := ms.remote.Load(); r != nil {
		m.Remote = r.String()
	}
	m.Latched = ms.latched.Load()
	r := ms.rtcpInfo()
	m.TrunkRTCP = &r
	if f := ms.lastForeign.Load(); f != nil {
		m.ForeignSource, m.ForeignAt = f.src.String(), f.at.UTC()
	}
	m.SentToTrunk = ms.sent.Load()
	m.ForeignRTP = ms.foreign.Load()
	m.BadRTP = ms.bad.Load()
	_, m.OtherPT = ms.demux.Counts()
	if n := ms.lastRecv.Load(); n > 0 {
		m.LastFromTrunk = time.Unix(0, n).UTC()
	}
}

// describe fills the joint's and the browser leg's part of a MediaInfo.
func (j *joint) describe(m *MediaInfo) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.browser != nil {
		// The leg's counters run for the whole session; show this call's share.
		m.Browser = j.browser.Counters()
		m.Browser.FromBrowser -= min(m.Browser.FromBrowser, j.legBase.FromBrowser)
		m.Browser.FromBrowserBad -= min(m.Browser.FromBrowserBad, j.legBase.FromBrowserBad)
		m.Browser.ToBrowser -= min(m.Browser.ToBrowser, j.legBase.ToBrowser)
	}
	m.AgentHold = j.held
	if j.uplinkStat != nil {
		s := j.uplinkStat()
		m.Uplink = &s
		m.BrowserCodec = j.browser.InCodec().Name
	}
	if j.downlink != nil {
		s := j.downlink.Stats()
		m.Downlink = &s
		m.DownlinkCodec = j.browser.OutCodec().Name
		m.Chains = map[string]string{"downlink": j.downlink.String()}
		if j.uplink != nil {
			m.Chains["uplink"] = j.uplink.String()
		}
	}
}

// Quality computes the call's quality summary from its seconds
// (record.Summarize): per direction the totals, jitter mean and max, MOS
// (ITU-T G.107) mean and worst second, RTT, seconds of one-way audio, and
// the per-interval findings raised.
func (ci CallInfo) Quality() record.Quality {
	if ci.AnsweredAt == nil || len(ci.Intervals) == 0 {
		return record.Quality{Uplink: record.LegQuality{Silent: true}, Downlink: record.LegQuality{Silent: true}}
	}
	return record.Summarize(ci.Intervals, record.Evaluate(ci.Intervals, nil))
}
