package diag

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// answered builds a call answered 10 s ago with every direction flowing.
func answered() bridge.CallInfo {
	at := now.Add(-10 * time.Second)
	recent := now.Add(-20 * time.Millisecond)
	return bridge.CallInfo{
		CallID: "c1", State: bridge.StateAnswered, StartedAt: now.Add(-15 * time.Second), AnsweredAt: &at,
		Media: bridge.MediaInfo{
			Direction:   "sendrecv",
			Uplink:      &media.StreamSnapshot{Packets: 500, LastPacketAt: recent, LevelDBov: -20},
			Downlink:    &media.StreamSnapshot{Packets: 500, LastPacketAt: recent, LevelDBov: -25},
			SentToTrunk: 500,
			Browser:     bridge.LegCounters{ToBrowser: 500, LastToBrowserAt: recent, ICEState: "connected"},
			TrunkRTCP:   &bridge.TrunkRTCP{Packets: 3, LastAt: now.Add(-2 * time.Second), ReportAt: now.Add(-2 * time.Second), HasReport: true, Receiving: true},
			SDPAddr:     "203.0.113.9:4000",
			Remote:      "203.0.113.9:4000",
		},
	}
}

// healthyBrowser is a fresh getStats upload showing audio arriving.
func healthyBrowser() *BrowserReport {
	b := &BrowserReport{Received: now.Add(-time.Second)}
	b.Inbound.PacketsReceived, b.Inbound.AudioLevel, b.Outbound.PacketsSent = 480, 0.2, 500
	return b
}

// seconds are n one-second intervals of healthy talk both ways, ending
// now, each adjusted by f; MOS is computed from the result.
func seconds(n int, f func(i int, iv *record.Interval)) []record.Interval {
	out := make([]record.Interval, n)
	for i := range out {
		iv := record.Interval{At: now.Add(time.Duration(i-n+1) * time.Second),
			Up:   record.DirInterval{Packets: 50, JitterMs: 2, LevelDBov: -20},
			Down: record.DirInterval{Packets: 50, JitterMs: 2, LevelDBov: -25}}
		f(i, &iv)
		iv.Up.MOS = record.DirectionMOS(iv.Up, record.BplOpus)
		iv.Down.MOS = record.DirectionMOS(iv.Down, record.BplG711PLC)
		out[i] = iv
	}
	return out
}

func ids(r Report) []string {
	var out []string // nil when there are none, to compare with the table
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

func TestDiagnose(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(c *bridge.CallInfo, b **BrowserReport)
		ids     []string
		verdict string
		status  [4]string
	}{
		{"healthy", func(*bridge.CallInfo, **BrowserReport) {}, nil, "Audio flows both ways.", [4]string{"ok", "ok", "ok", "ok"}},
		{"no rtp from trunk", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Downlink = &media.StreamSnapshot{}
			c.Media.Browser.ToBrowser, c.Media.Browser.LastToBrowserAt = 0, time.Time{}
		}, []string{"S1"}, "One-way audio: the far end hears the agent, the agent does not hear the far end.", [4]string{"ok", "ok", "no packets", "no packets"}},
		{"agent audio lost", func(c *bridge.CallInfo, b **BrowserReport) {
			c.Media.Uplink = &media.StreamSnapshot{}
			c.Media.SentToTrunk = 0
			*b = &BrowserReport{Received: now.Add(-time.Second)}
			(*b).Outbound.PacketsSent = 480
			(*b).Inbound.PacketsReceived = 500
			(*b).Inbound.AudioLevel = 0.3
		}, []string{"W5"}, "One-way audio: the agent hears the far end, the far end does not hear the agent.", [4]string{"no packets", "no packets", "ok", "ok"}},
		{"agent pauses", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Uplink.LevelDBov, c.Media.Uplink.Silent = -90, true
		}, nil, "Audio flows both ways.", [4]string{"silent", "ok", "ok", "ok"}},
		{"agent muted while the far end talks", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Uplink.LevelDBov, c.Media.Uplink.Silent = -90, true
			c.Intervals = seconds(20, func(i int, iv *record.Interval) { iv.Up.LevelDBov = -90 })
		}, []string{"W6"}, "One-way audio: the agent hears the far end, the far end does not hear the agent.", [4]string{"silent", "ok", "ok", "ok"}},
		{"pipeline fault", func(c *bridge.CallInfo, _ **BrowserReport) { c.Media.SentToTrunk = 0 }, []string{"S4"}, "One-way audio: the agent hears the far end, the far end does not hear the agent.", [4]string{"ok", "no packets", "ok", "ok"}},
		{"not forwarded to browser", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Browser.LastToBrowserAt = now.Add(-5 * time.Second)
		}, []string{"W7"}, "One-way audio: the far end hears the agent, the agent does not hear the far end.", [4]string{"ok", "ok", "ok", "stalled"}},
		{"browser receives nothing", func(c *bridge.CallInfo, b **BrowserReport) {
			*b = &BrowserReport{Received: now.Add(-time.Second)}
			(*b).Outbound.PacketsSent = 500
		}, []string{"W7"}, "One-way audio: the far end hears the agent, the agent does not hear the far end.", [4]string{"ok", "ok", "ok", "not received"}},
		{"on hold", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Direction = "sendonly"
			c.Media.Downlink.LastPacketAt = now.Add(-8 * time.Second)
		}, []string{"S10"}, "The call is on hold.", [4]string{"ok", "ok", "idle", "ok"}},
		{"agent hold", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.AgentHold = true
			c.Media.SentToTrunk = 0
			c.Media.Browser.LastToBrowserAt = now.Add(-5 * time.Second)
		}, []string{"S10"}, "The call is on hold.", [4]string{"ok", "idle", "ok", "idle"}},
		{"trunk on a private LAN is no finding", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.PrivateSDP, c.Media.SDPAddr, c.Media.Remote = true, "10.0.0.5:4000", "10.0.0.5:4000"
		}, nil, "Audio flows both ways.", [4]string{"ok", "ok", "ok", "ok"}},
		{"private sdp and hijack attempts", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.PrivateSDP, c.Media.SDPAddr, c.Media.ForeignRTP = true, "10.0.0.5:4000", 12
			c.Media.Remote, c.Media.Latched = "198.51.100.7:4000", true
		}, []string{"S11", "S2", "S3"}, "Audio flows both ways.", [4]string{"ok", "ok", "ok", "ok"}},
		{"trunk sends no RTCP", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.TrunkRTCP = &bridge.TrunkRTCP{}
		}, nil, "No fault seen, but delivery is not proven: bridge → trunk is unverified: The trunk sends no RTCP, so nothing proves that the far end receives the bridge's RTP.", [4]string{"ok", "unverified", "ok", "ok"}},
		{"trunk reports are stale", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.TrunkRTCP.ReportAt = now.Add(-30 * time.Second)
		}, nil, "No fault seen, but delivery is not proven: bridge → trunk is unverified: The trunk's last report on the bridge's stream is 30s old.", [4]string{"ok", "unverified", "ok", "ok"}},
		{"rtp to the trunk dropped, trunk RTCP says so", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.TrunkRTCP.Receiving = false
		}, []string{"S12"}, "One-way audio: the agent hears the far end, the far end does not hear the agent.", [4]string{"ok", "not received", "ok", "ok"}},
		{"asymmetric carrier with RTCP", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.TrunkRTCP.Receiving = false
			c.Media.Remote, c.Media.Latched = "203.0.113.9:5000", true
		}, []string{"S12"}, "One-way audio: the agent hears the far end, the far end does not hear the agent.", [4]string{"ok", "not received", "ok", "ok"}},
		{"asymmetric carrier without RTCP", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.TrunkRTCP = nil
			c.Media.Remote, c.Media.Latched = "203.0.113.9:5000", true
		}, []string{"S11"}, "No fault seen, but delivery is not proven: bridge → trunk is unverified: The trunk sends no RTCP, so nothing proves that the far end receives the bridge's RTP.", [4]string{"ok", "unverified", "ok", "ok"}},
		{"no widget stats", func(c *bridge.CallInfo, b **BrowserReport) { *b = nil }, nil,
			"No fault seen, but delivery is not proven: bridge → browser is unverified: The widget uploads no getStats report, so nothing proves that the browser receives the bridge's audio.", [4]string{"ok", "ok", "ok", "unverified"}},
		{"carrier moves media mid-call", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Downlink.LastPacketAt = now.Add(-4 * time.Second)
			c.Media.Browser.LastToBrowserAt = now.Add(-4 * time.Second)
			c.Media.ForeignRTP, c.Media.ForeignSource, c.Media.ForeignAt = 150, "203.0.113.10:6000", now.Add(-100*time.Millisecond)
		}, []string{"S3", "S1"}, "One-way audio: the far end hears the agent, the agent does not hear the far end.", [4]string{"ok", "ok", "stalled", "stalled"}},
		{"hold with c=0.0.0.0", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Direction, c.Media.TrunkHold = "sendonly", "c=0.0.0.0"
			c.Media.Downlink.LastPacketAt = now.Add(-8 * time.Second)
		}, []string{"S10"}, "The call is on hold.", [4]string{"ok", "ok", "idle", "ok"}},
		{"far end recvonly", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Media.Direction, c.Media.TrunkHold = "recvonly", "a=recvonly"
			c.Media.Downlink.LastPacketAt = now.Add(-8 * time.Second)
		}, []string{"S10"}, "The call is on hold.", [4]string{"ok", "ok", "idle", "ok"}},
		{"agent muted in the widget while the far end talks", func(c *bridge.CallInfo, b **BrowserReport) {
			c.Media.Uplink.LevelDBov, c.Media.Uplink.Silent = -90, true
			c.Intervals = seconds(20, func(i int, iv *record.Interval) { iv.Up.LevelDBov = -90 })
			(*b).Muted = true
		}, []string{"W9"}, "The agent has muted the microphone in the widget.", [4]string{"silent", "ok", "ok", "ok"}},
		{"lossy trunk", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Intervals = seconds(8, func(i int, iv *record.Interval) {
				if i >= 3 {
					iv.Down.Packets, iv.Down.Lost, iv.Down.JitterMs = 43, 7, 45
				}
			})
		}, []string{"Q3", "Q2", "Q4"}, "Audio flows both ways.", [4]string{"ok", "ok", "ok", "ok"}},
		{"a past outage has cleared", func(c *bridge.CallInfo, _ **BrowserReport) {
			c.Intervals = seconds(30, func(i int, iv *record.Interval) {
				if i >= 3 && i < 16 {
					iv.Down.Packets, iv.Down.Lost = 20, 30
				}
			})
		}, nil, "Audio flows both ways.", [4]string{"ok", "ok", "ok", "ok"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := answered()
			b := healthyBrowser()
			tc.mutate(&c, &b)
			r := Diagnose(Input{Now: now, Call: c, Browser: b})
			assert.Equal(t, tc.ids, ids(r))
			assert.Equal(t, tc.verdict, r.Verdict)
			var st [4]string
			for i, d := range r.Directions {
				st[i] = d.Status
			}
			assert.Equal(t, tc.status, st)
			for _, f := range r.Findings {
				assert.NotEmpty(t, f.Fix, f.ID)
			}
		})
	}
}

func TestDiagnoseBeforeMedia(t *testing.T) {
	c := bridge.CallInfo{CallID: "c", State: bridge.StateRinging, StartedAt: now.Add(-5 * time.Second)}
	r := Diagnose(Input{Now: now, Call: c})
	assert.Empty(t, r.Findings)
	assert.Equal(t, "Media is not expected yet.", r.Verdict)
	// Just answered: within the grace period nothing is reported missing.
	at := now.Add(-time.Second)
	c.State, c.AnsweredAt = bridge.StateAnswered, &at
	r = Diagnose(Input{Now: now, Call: c})
	assert.Empty(t, r.Findings)
}

// An ended call keeps its diagnosis: the cause the bridge decided and the
// findings of its seconds, never a bare "ended".
func TestEndedCallKeepsItsDiagnosis(t *testing.T) {
	c := answered()
	c.State = bridge.StateEnded
	ended := now
	c.EndedAt = &ended
	c.Cause = &record.Cause{Q850: 102, Reason: "No audio from the trunk", By: record.ByBridge}
	c.Intervals = seconds(30, func(i int, iv *record.Interval) {
		if i >= 12 {
			iv.Down.Packets, iv.Down.LevelDBov = 0, -127
		}
	})
	r := Diagnose(Input{Now: now, Call: c})
	assert.Equal(t, "The call has ended (No audio from the trunk, by bridge); it had one-way audio.", r.Verdict)
	require.NotNil(t, r.Quality)
	assert.True(t, r.Quality.OneWayAudio)
	assert.Equal(t, 18, r.Quality.Downlink.OneWaySeconds)
}
