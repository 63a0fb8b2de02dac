// Package diag tells support engineers whether a call's audio flows, per
// leg and direction, and why not: the "they can't hear me" questions.
//
// The four directions a bridge sees (the localization matrix of one-way
// audio faults):
//
//	① browser → bridge   ② bridge → trunk   ③ trunk → bridge   ④ bridge → browser
//
// "The customer can't hear the agent" is ① or ②; "the agent can't hear the
// customer" is ③ or ④. Diagnose evaluates a rule table over the call's
// counters (and the browser's own getStats report when the widget sends
// one) and returns findings with their likely cause and the fix.
package diag

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// Thresholds of the rule table.
const (
	// StallAfter is how long a direction may go without a packet before it
	// counts as not flowing.
	StallAfter = 2 * time.Second
	// Grace is how long after media starts before a missing direction is a
	// finding (ICE, DTLS and the first packets take a moment).
	Grace = 3 * time.Second
	// HighJitterMs, HighLossPct: quality warnings (Twilio's high-jitter and
	// high-packet-loss defaults).
	HighJitterMs = 30.0
	HighLossPct  = 3.0
	// LowMOS is the low-mos warning threshold.
	LowMOS = 3.5
	// ProofFresh is how old the far end's last proof of delivery (the
	// trunk's RTCP report, the widget's getStats upload) may be: two of
	// their 5 s intervals and some slack.
	ProofFresh = 12 * time.Second
)

// Severity of a finding.
const (
	Critical = "critical"
	Warning  = "warning"
	Info     = "info"
)

// Directions, in the order of the localization matrix.
const (
	BrowserToBridge = "browser → bridge"
	BridgeToTrunk   = "bridge → trunk"
	TrunkToBridge   = "trunk → bridge"
	BridgeToBrowser = "bridge → browser"
)

// Direction is one direction of one leg.
type Direction struct {
	Name      string    `json:"name"`
	Leg       string    `json:"leg"` // "webrtc" or "sip"
	Packets   uint64    `json:"packets"`
	LastAt    time.Time `json:"last_at,omitempty"`
	Flowing   bool      `json:"flowing"`
	LevelDBov *float64  `json:"level_dbov,omitempty"`
	Silent    bool      `json:"silent"`
	// Status is "ok" (flowing, and for the directions that leave the
	// bridge, proven to arrive), "unverified" (flowing, but nothing proves
	// the far end receives it: Why says what is missing), "not received"
	// (the far end reports receiving none of it), "no packets",
	// "stalled", "silent", or "idle" (not expected yet: before media, on
	// hold).
	Status string `json:"status"`
	Why    string `json:"why,omitempty"`
}

// Finding is one rule that fired.
type Finding struct {
	ID        string `json:"id"`
	Severity  string `json:"severity"`
	Direction string `json:"direction,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix"`
}

// Report is the diagnosis of one call.
type Report struct {
	CallID     string      `json:"call_id"`
	State      string      `json:"state"`
	Directions []Direction `json:"directions"`
	Findings   []Finding   `json:"findings"`
	// MOS is the call's (the worse direction's mean over its seconds);
	// MOSUp and MOSDown are the last second's, per direction.
	MOS     float64         `json:"mos"`
	MOSUp   float64         `json:"mos_up"`
	MOSDown float64         `json:"mos_down"`
	Quality *record.Quality `json:"quality,omitempty"`
	// IntervalFindings are every per-second finding raised in the call,
	// with when it was raised and cleared.
	IntervalFindings []record.IntervalFinding `json:"interval_findings"`
	cause            *record.Cause
	// Verdict is one line for the support engineer.
	Verdict string `json:"verdict"`
}

// BrowserReport is the widget's getStats summary (the `stats` message).
type BrowserReport struct {
	Received time.Time `json:"-"`
	// Muted: the agent muted the microphone in the widget (the widget
	// uploads a report at once when that changes).
	Muted   bool `json:"muted"`
	Inbound struct {
		PacketsReceived  float64 `json:"packetsReceived"`
		PacketsLost      float64 `json:"packetsLost"`
		Jitter           float64 `json:"jitter"`
		AudioLevel       float64 `json:"audioLevel"`
		TotalAudioEnergy float64 `json:"totalAudioEnergy"`
	} `json:"inbound"`
	Outbound struct {
		PacketsSent float64 `json:"packetsSent"`
		AudioLevel  float64 `json:"audioLevel"`
	} `json:"outbound"`
	CandidatePair struct {
		Local                string  `json:"local"`
		Remote               string  `json:"remote"`
		State                string  `json:"state"`
		CurrentRoundTripTime float64 `json:"currentRoundTripTime"`
	} `json:"candidate_pair"`
}

// ParseBrowserReport decodes a `stats` message.
func ParseBrowserReport(raw []byte, received time.Time) (*BrowserReport, error) {
	var r BrowserReport
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("diag: browser stats: %w", err)
	}
	r.Received = received
	return &r, nil
}

// Input is what Diagnose looks at.
type Input struct {
	Now     time.Time
	Call    bridge.CallInfo
	Browser *BrowserReport // nil when the client sends none
}

func flowing(last time.Time, now time.Time) bool {
	return !last.IsZero() && now.Sub(last) <= StallAfter
}

func level(s *media.StreamSnapshot) *float64 {
	if s == nil || s.Packets == 0 {
		return nil
	}
	v := s.LevelDBov
	return &v
}

// Diagnose evaluates the rule table.
func Diagnose(in Input) Report {
	c := in.Call
	m := c.Media
	r := Report{CallID: c.CallID, State: c.State, Findings: []Finding{}, cause: c.Cause}
	mediaStarted := c.AnsweredAt != nil || c.State == bridge.StateEarlyMedia
	var since time.Duration
	if c.AnsweredAt != nil {
		since = in.Now.Sub(*c.AnsweredAt)
	} else if mediaStarted {
		since = in.Now.Sub(c.StartedAt)
	}
	expect := mediaStarted && since >= Grace && c.State != bridge.StateEnded
	hold := m.AgentHold || (m.Direction != "" && m.Direction != "sendrecv")

	var up, down media.StreamSnapshot
	if m.Uplink != nil {
		up = *m.Uplink
	}
	if m.Downlink != nil {
		down = *m.Downlink
	}
	var lastSent time.Time
	if m.SentToTrunk > 0 {
		lastSent = up.LastPacketAt // the uplink sends as it receives
	}
	dirs := []Direction{
		{Name: BrowserToBridge, Leg: "webrtc", Packets: up.Packets, LastAt: up.LastPacketAt, LevelDBov: level(m.Uplink), Silent: m.Uplink != nil && up.Silent},
		{Name: BridgeToTrunk, Leg: "sip", Packets: m.SentToTrunk, LastAt: lastSent},
		{Name: TrunkToBridge, Leg: "sip", Packets: down.Packets, LastAt: down.LastPacketAt, LevelDBov: level(m.Downlink), Silent: m.Downlink != nil && down.Silent},
		{Name: BridgeToBrowser, Leg: "webrtc", Packets: m.Browser.ToBrowser, LastAt: m.Browser.LastToBrowserAt},
	}
	for i := range dirs {
		d := &dirs[i]
		d.Flowing = flowing(d.LastAt, in.Now)
		switch {
		case !expect || hold:
			d.Status = "idle"
			if d.Flowing {
				d.Status = "ok"
			}
		case d.Packets == 0:
			d.Status = "no packets"
		case !d.Flowing:
			d.Status = "stalled"
		case d.Silent:
			d.Status = "silent"
		default:
			d.Status = "ok"
		}
	}
	if expect && !hold {
		proveToTrunk(&dirs[1], m, in.Now)
		proveToBrowser(&dirs[3], in.Browser, in.Now)
	}
	r.Directions = dirs
	add := func(f Finding) { r.Findings = append(r.Findings, f) }

	switch {
	case m.AgentHold:
		add(Finding{ID: "S10", Severity: Info,
			Message: "The agent put the call on hold: neither side's audio is forwarded.",
			Fix:     "Nothing to fix; audio resumes when the agent resumes the call."})
	case hold:
		form := m.TrunkHold
		if form == "" {
			form = "a=" + m.Direction
		}
		add(Finding{ID: "S10", Severity: Info, Direction: TrunkToBridge,
			Message: fmt.Sprintf("The far end put the call on hold (%s): one-way or no audio is expected.", form),
			Fix:     "Nothing to fix; audio resumes when the far end takes the call off hold."})
	}
	moved := m.Latched && m.Remote != "" && m.SDPAddr != "" && m.Remote != m.SDPAddr
	if moved && dirs[1].Status != "not received" {
		add(Finding{ID: "S11", Severity: Warning, Direction: BridgeToTrunk,
			Message: fmt.Sprintf("The trunk's RTP comes from %s but its SDP says %s; the bridge sends to %s (symmetric RTP). %s", m.Remote, m.SDPAddr, m.Remote, dirs[1].Why),
			Fix:     asymmetricFix})
	}
	if m.PrivateSDP && !loopback(m.SDPAddr) && (moved || down.Packets == 0) { // a trunk on this very host is not behind NAT
		add(Finding{ID: "S2", Severity: Info, Direction: TrunkToBridge,
			Message: fmt.Sprintf("The trunk's SDP gives a private or loopback address (%s); the bridge sends to wherever the trunk's RTP really comes from (symmetric RTP).", m.SDPAddr),
			Fix:     "Usually harmless. If no RTP ever arrives, the carrier or its SBC is behind NAT without fixing its SDP: ask the carrier to enable NAT traversal."})
	}
	if m.ForeignRTP > 0 {
		f := Finding{ID: "S3", Severity: Warning, Direction: TrunkToBridge,
			Message: fmt.Sprintf("%d RTP packets came from an address other than the one the bridge latched to and were dropped.", m.ForeignRTP),
			Fix:     "The carrier moved its media mid-call without a re-INVITE, or someone else is sending to the bridge's port. Check the carrier's media address in a capture."}
		if m.ForeignSource != "" && !m.ForeignAt.IsZero() && in.Now.Sub(m.ForeignAt) <= StallAfter && dirs[2].Status == "stalled" {
			// The accepted stream stopped while another source sends now:
			// the carrier moved its media without telling the bridge.
			f.Severity = Critical
			f.Message = fmt.Sprintf("The trunk's RTP stopped coming from %s and now comes from %s, without a re-INVITE: the bridge refuses it, so the agent hears nothing, and keeps sending to the old address.", m.Remote, m.ForeignSource)
			f.Fix = "The carrier moved its media mid-call without a re-INVITE. Ask the carrier to send a re-INVITE on media moves, or add its media network to sip.media_networks so the bridge may follow it."
		}
		add(f)
	}
	if m.OtherPT > 0 {
		add(Finding{ID: "S6", Severity: Warning, Direction: TrunkToBridge,
			Message: fmt.Sprintf("%d packets from the trunk carried a payload type that was not negotiated.", m.OtherPT),
			Fix:     "The carrier ignores the SDP answer (e.g. sends PCMA when PCMU was agreed). Align sip.codecs with what the carrier sends."})
	}
	if expect && !hold {
		diagnoseFlow(in, dirs, add)
	}
	if b := in.Browser; b != nil && b.Muted && in.Now.Sub(b.Received) <= ProofFresh && c.State != bridge.StateEnded {
		add(Finding{ID: "W9", Severity: Info, Direction: BrowserToBridge,
			Message: "The agent muted the microphone in the widget: the far end hears silence.",
			Fix:     "Nothing to fix; the agent unmutes with the widget's Unmute button."})
	}
	if c.AnsweredAt != nil && len(c.Intervals) > 0 {
		q := c.Quality()
		r.Quality = &q
		r.MOS = q.MOS
		last := c.Intervals[len(c.Intervals)-1]
		r.MOSUp, r.MOSDown = last.Up.MOS, last.Down.MOS
		r.IntervalFindings = record.Evaluate(c.Intervals, nil)
		muted := in.Browser != nil && in.Browser.Muted && in.Now.Sub(in.Browser.Received) <= ProofFresh
		if !hold {
			for _, f := range r.IntervalFindings {
				if f.Active() && !(muted && f.Direction == "up" && f.Code == record.FindingSilent) {
					add(intervalFinding(f, last))
				}
			}
		}
	}
	r.Verdict = verdict(r, expect)
	return r
}

// intervalFinding words a per-second finding that is raised now.
func intervalFinding(f record.IntervalFinding, last record.Interval) Finding {
	dir, d := BrowserToBridge, last.Up
	if f.Direction == "down" {
		dir, d = TrunkToBridge, last.Down
	}
	out := Finding{Severity: Warning, Direction: dir, Fix: lossFix(dir)}
	switch f.Code {
	case record.FindingLoss:
		out.ID, out.Message = "Q3", fmt.Sprintf("Packet loss above %.0f %% in %d of the last %d seconds (last second: %.1f %%).", record.HighLossPct, record.RaiseK, record.RaiseN, d.LossPct())
	case record.FindingJitter:
		out.ID, out.Message = "Q2", fmt.Sprintf("Jitter above %.0f ms in %d of the last %d seconds (last second: %.0f ms).", record.HighJitterMs, record.RaiseK, record.RaiseN, d.JitterMs)
	case record.FindingMOS:
		out.ID, out.Message = "Q4", fmt.Sprintf("Estimated MOS below %.1f in %d of the last %d seconds (last second: %.2f; E-model).", record.LowMOS, record.RaiseK, record.RaiseN, d.MOS)
		out.Fix = "See the loss and jitter findings for this direction."
	case record.FindingRTT:
		out.ID, out.Message = "Q5", fmt.Sprintf("Round trip above %.0f ms in %d of the last %d seconds.", record.HighRTTMs, record.RaiseK, record.RaiseN)
		out.Fix = "A long network path: a carrier point of presence or a bridge closer to the other side."
	case record.FindingSilent:
		if f.Direction == "up" {
			out.ID = "W6"
			out.Message = "The agent's audio has been silent for most of the last 20 seconds while the far end spoke."
			out.Fix = "The agent is muted (in the widget, the OS or the headset), or the wrong microphone is selected in the widget's device picker."
		} else {
			out.ID = "S9"
			out.Message = "The trunk's audio has been silent for most of the last 20 seconds while the agent spoke."
			out.Fix = "The far end is silent or muted, or the carrier has one-way audio on its side."
		}
	}
	return out
}

const asymmetricFix = "If the far end cannot hear the agent, the carrier sends from one port and listens on another (asymmetric RTP): ask the carrier to send and receive RTP on the address in its SDP (symmetric RTP, RFC 4961), or to fix the address its SBC writes into the SDP."

// proveToTrunk turns a flowing "bridge → trunk" into "ok" only when the
// trunk's RTCP shows it receives the bridge's RTP (RFC 3550 §6.4.1).
func proveToTrunk(d *Direction, m bridge.MediaInfo, now time.Time) {
	if d.Status != "ok" {
		return
	}
	r := m.TrunkRTCP
	switch {
	case r == nil || r.Packets == 0:
		d.Status, d.Why = "unverified", "The trunk sends no RTCP, so nothing proves that the far end receives the bridge's RTP."
	case !r.HasReport && r.ReportAt.IsZero():
		d.Status, d.Why = "unverified", "The trunk's RTCP carries no report on the bridge's stream yet."
	case now.Sub(r.ReportAt) > ProofFresh:
		d.Status, d.Why = "unverified", fmt.Sprintf("The trunk's last report on the bridge's stream is %s old.", now.Sub(r.ReportAt).Round(time.Second))
	case !r.Receiving:
		d.Status, d.Why = "not received", "The trunk's RTCP reports that it receives none of the bridge's current RTP."
	}
}

// proveToBrowser turns a flowing "bridge → browser" into "ok" only when
// the widget's fresh getStats upload shows audio arriving.
func proveToBrowser(d *Direction, b *BrowserReport, now time.Time) {
	if d.Status != "ok" {
		return
	}
	switch {
	case b == nil:
		d.Status, d.Why = "unverified", "The widget uploads no getStats report, so nothing proves that the browser receives the bridge's audio."
	case now.Sub(b.Received) > ProofFresh:
		d.Status, d.Why = "unverified", fmt.Sprintf("The widget's last getStats report is %s old.", now.Sub(b.Received).Round(time.Second))
	case b.Inbound.PacketsReceived == 0:
		d.Status, d.Why = "not received", "The browser reports receiving no audio packets."
	}
}

func lossFix(dir string) string {
	if dir == BrowserToBridge {
		return "The agent's network: Wi-Fi, VPN or an overloaded uplink. A wired connection or a TURN server closer to the agent helps."
	}
	return "The carrier's network path to the bridge. Compare with the carrier's RTCP reports; open a ticket with a capture."
}

// diagnoseFlow runs the flow rules; never while the call is on hold.
func diagnoseFlow(in Input, d []Direction, add func(Finding)) {
	b := in.Browser
	fresh := b != nil && in.Now.Sub(b.Received) < 15*time.Second
	// ① browser → bridge
	switch d[0].Status {
	case "no packets", "stalled":
		f := Finding{ID: "W5", Severity: Critical, Direction: BrowserToBridge,
			Message: "The agent's audio is not reaching the bridge.",
			Fix:     "Check the widget's connection status; the browser may block the microphone, or UDP to the bridge is blocked (configure webrtc.ice_servers with a TURN server, webrtc.nat_1to1_ips on a cloud host)."}
		if in.Call.Media.Browser.ICEState != "" && in.Call.Media.Browser.ICEState != "connected" {
			f.Message += " The peer connection is " + in.Call.Media.Browser.ICEState + "."
		}
		if fresh && b.Outbound.PacketsSent > 0 {
			f.Message += fmt.Sprintf(" The browser reports %.0f packets sent: they are lost on the way.", b.Outbound.PacketsSent)
			f.Fix = "A firewall or NAT between the agent and the bridge drops UDP: use TURN over TCP/TLS (webrtc.ice_servers), or open webrtc.udp_port."
		}
		add(f)
	}
	// Silence is judged over seconds, not at an instant: a pause in the
	// talk is not a fault (the one-sided-silence rule, intervalFinding).
	// ② bridge → trunk
	if d[1].Status == "not received" {
		f := Finding{ID: "S12", Severity: Critical, Direction: BridgeToTrunk,
			Message: "The bridge sends the agent's audio to the trunk, but the trunk's RTCP reports receiving none of it.",
			Fix:     "Packets from the bridge to the carrier are dropped on the way (a firewall or NAT between them), or the carrier listens on another address than the one it sends from."}
		m := in.Call.Media
		if m.Latched && m.Remote != m.SDPAddr {
			f.Message += fmt.Sprintf(" The bridge sends to %s, where the trunk's RTP comes from; the trunk's SDP says %s.", m.Remote, m.SDPAddr)
			f.Fix = asymmetricFix
		}
		add(f)
	} else if (d[0].Status == "ok" || d[0].Status == "silent") && d[1].Status != "ok" && d[1].Status != "unverified" && d[1].Status != "silent" {
		add(Finding{ID: "S4", Severity: Critical, Direction: BridgeToTrunk,
			Message: "The bridge receives the agent's audio but sends nothing to the trunk.",
			Fix:     "A bridge fault (pipeline or RTP socket): collect the bridge's log for this call id and report it."})
	}
	// ③ trunk → bridge
	{
		switch d[2].Status {
		case "no packets":
			f := Finding{ID: "S1", Severity: Critical, Direction: TrunkToBridge,
				Message: "No RTP has arrived from the trunk.",
				Fix:     "The carrier sends to a wrong address: if the bridge is behind NAT, set sip.external_ip so its SDP and Contact carry the public address; open sip.rtp_ports in the firewall."}
			add(f)
		case "stalled":
			add(Finding{ID: "S1", Severity: Critical, Direction: TrunkToBridge,
				Message: "RTP from the trunk stopped.",
				Fix:     "The carrier stopped sending (far end hung up silently, carrier media failover). The call ends after sip.media_timeout."})
		}
	}
	// ④ bridge → browser
	if d[2].Status == "ok" && d[3].Status != "ok" && d[3].Status != "unverified" && d[3].Status != "not received" {
		add(Finding{ID: "W7", Severity: Critical, Direction: BridgeToBrowser,
			Message: "The trunk's audio reaches the bridge but is not sent on to the browser.",
			Fix:     "The browser's peer connection is down (see the widget's status) or a bridge fault: collect the bridge's log for this call id."})
	}
	if fresh && d[3].Status == "not received" {
		add(Finding{ID: "W7", Severity: Critical, Direction: BridgeToBrowser,
			Message: "The bridge sends audio to the browser, but the browser reports receiving none.",
			Fix:     "UDP from the bridge to the agent is blocked: use TURN (webrtc.ice_servers)."})
	}
	if fresh && d[3].Status == "ok" && b.Inbound.PacketsReceived > 0 && b.Inbound.AudioLevel == 0 && b.Inbound.TotalAudioEnergy == 0 {
		add(Finding{ID: "W8", Severity: Warning, Direction: BridgeToBrowser,
			Message: "The browser receives audio but plays nothing.",
			Fix:     "The speaker output: check the widget's output device choice and the OS volume; a tab that never had a user gesture may be blocked from playing."})
	}
}

// endedVerdict is the one line for an ended call: how it ended, by whose
// decision, and what went wrong with its media.
func endedVerdict(r Report) string {
	v := "The call has ended"
	if r.cause != nil {
		v += fmt.Sprintf(" (%s, by %s)", r.cause.Reason, r.cause.By)
	}
	var raised []string
	for _, f := range r.IntervalFindings {
		raised = append(raised, f.Direction+":"+f.Code)
	}
	switch {
	case r.Quality != nil && r.Quality.OneWayAudio:
		v += "; it had one-way audio"
	case len(raised) > 0:
		v += "; findings during the call: " + strings.Join(raised, ", ")
	}
	return v + "."
}

func verdict(r Report, expect bool) string {
	if r.State == bridge.StateEnded {
		return endedVerdict(r)
	}
	if !expect {
		return "Media is not expected yet."
	}
	for _, f := range r.Findings {
		if f.ID == "S10" {
			return "The call is on hold."
		}
	}
	for _, f := range r.Findings {
		if f.ID == "W9" && r.Directions[2].Status != "no packets" && r.Directions[2].Status != "stalled" {
			return "The agent has muted the microphone in the widget."
		}
	}
	silentFault := map[string]bool{}
	for _, f := range r.Findings {
		if f.ID == "W6" || f.ID == "S9" {
			silentFault[f.Direction] = true
		}
	}
	good := func(d Direction) bool {
		return d.Status == "ok" || d.Status == "unverified" || d.Status == "silent" && !silentFault[d.Name]
	}
	agentHeard := good(r.Directions[0]) && good(r.Directions[1])
	farHeard := good(r.Directions[2]) && good(r.Directions[3])
	var unproven []string
	for _, d := range r.Directions {
		if d.Status == "unverified" {
			unproven = append(unproven, d.Name+" is unverified: "+d.Why)
		}
	}
	switch {
	case agentHeard && farHeard && len(unproven) > 0:
		return "No fault seen, but delivery is not proven: " + strings.Join(unproven, " ")
	case agentHeard && farHeard:
		return "Audio flows both ways."
	case agentHeard:
		return "One-way audio: the far end hears the agent, the agent does not hear the far end."
	case farHeard:
		return "One-way audio: the agent hears the far end, the far end does not hear the agent."
	default:
		return "No audio in either direction."
	}
}

func loopback(addrPort string) bool {
	ap, err := netip.ParseAddrPort(addrPort)
	return err == nil && ap.Addr().IsLoopback()
}
