//go:build e2e

package e2e

// Real Chromium with the real softphone widget, the real bridge, kamailio
// and baresip, all inside one sealed namespace: the widget is embedded in a
// page of the bridge's origin as a CRM would embed it, Chromium's fake
// microphone plays 1 kHz, baresip plays 600 Hz.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

// widgetResult is what e2e/harness/chromium/widget_call.cjs prints.
type widgetResult struct {
	CallID string    `json:"call_id"`
	States []string  `json:"states"`
	Hz     []float64 `json:"hz"`
	Level  []float64 `json:"level"`
	Errors []string  `json:"errors"`
	Pair   *struct {
		Local      string `json:"local"`
		LocalType  string `json:"local_type"`
		Remote     string `json:"remote"`
		RemoteType string `json:"remote_type"`
	} `json:"pair"`
	Ended struct {
		CallID string `json:"call_id"`
		Cause  struct {
			By      string `json:"by"`
			SIPCode int    `json:"sip_code"`
		} `json:"cause"`
	} `json:"ended"`
}

func TestChromiumWidgetCallsBaresipThroughKamailio(t *testing.T) {
	for _, tc := range []struct {
		name       string
		processing string  // the widget's audio-processing attribute
		hangBy     string  // agent or remote
		minAmp     float64 // least 1 kHz amplitude at baresip
	}{
		// Without the browser's processing the level survives Opus -> G.711
		// unchanged (0.5 in, ~0.48 out).
		{name: "agent hangs up, audio processing off", processing: "off", hangBy: "agent", minAmp: toneMinAmplitude},
		// With it (the default), noise suppression and gain control treat a
		// steady tone as noise and lower it; it must still come through.
		{name: "far end hangs up, audio processing on", processing: "on", hangBy: "remote", minAmp: 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			harness.BuildBridge(t)
			ns := harness.NewSealedNetns(t)
			const farPort = 5072
			kam := harness.StartKamailio(t, harness.KamailioConfig{
				NS: ns, Port: 5080,
				Users:  []harness.KamailioUser{{Name: seatUser, Password: seatPass}},
				FarEnd: fmt.Sprintf("sip:127.0.0.1:%d", farPort),
			})
			far := harness.StartBaresip(t, harness.BaresipConfig{
				NS: ns, SIPPort: farPort,
				AudioSource: harness.MakeToneWAV(t, farHz, 30, 48000),
				Accounts:    []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA", dialedE164, farPort)},
			})
			b := startBridgeIn(t, ns, kam.Addr, ns.Addr, "127.0.0.1")

			const callSecs = 3
			if tc.hangBy == "remote" {
				go func() {
					// The far end hangs up once the page has listened.
					deadline := time.Now().Add(time.Minute)
					for !strings.Contains(far.Log(), "Call established") && time.Now().Before(deadline) {
						time.Sleep(50 * time.Millisecond)
					}
					time.Sleep((callSecs + 1) * time.Second)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_, _ = far.Command(ctx, "hangup", "")
				}()
			}
			out, err := harness.RunBrowser(t, harness.BrowserRun{
				NS:     ns,
				Script: harness.ScriptPath(t, "widget_call.cjs"),
				Env: map[string]string{
					"BRIDGE_URL":       b.URL(),
					"TOKEN":            seatToken(t),
					"DIAL":             dialed,
					"MIC_WAV":          harness.MakeToneWAV(t, clientHz, 30, 48000),
					"CALL_SECS":        fmt.Sprint(callSecs),
					"AUDIO_PROCESSING": tc.processing,
					"HANGUP":           tc.hangBy,
					"BROWSER_LOG":      os.Getenv("BROWSER_LOG"),
				},
				Timeout: 2 * time.Minute,
			})
			res := parseWidgetResult(t, out)
			require.NoError(t, err, "widget_call.cjs; errors: %v", res.Errors)
			assert.Empty(t, res.Errors)

			assert.Equal(t, []string{"dialing", "ringing", "answered", "ended"}, res.States)
			assert.Equal(t, tc.hangBy, res.Ended.Cause.By)
			if assert.NotNil(t, res.Pair, "selected ICE pair") {
				assert.Equal(t, harness.SealedAddr, res.Pair.Local, "Chromium's candidate is the sealed address")
			}
			// The far end's tone reaches the page: the widget's analyser reads
			// it within one FFT bin (~23 Hz) after warm-up.
			require.NotEmpty(t, res.Hz)
			hz := append([]float64(nil), res.Hz[len(res.Hz)/3:]...)
			sort.Float64s(hz)
			assert.InDelta(t, farHz, hz[len(hz)/2], 30, "median dominant frequency of the far end's audio in the page: %v", res.Hz)
			// Chromium's microphone reaches baresip through Opus -> G.711.
			requireToneMin(t, far.ReceivedAudio(t), tc.minAmp, clientHz, farHz)

			ev := b.hooks.completed(t, res.CallID)
			assert.Equal(t, "completed", ev["status"])
			assert.Equal(t, map[string]any{"source": "e2e-chromium"}, ev["metadata"])
		})
	}
}

// TestChromiumWidgetBehindNAT: Chromium in a LAN behind a masquerading
// router, the bridge with kamailio and baresip on the public side with no
// route back into the LAN. Media flows only if the bridge answers the
// browser at the NAT's address (a peer-reflexive candidate, RFC 8445
// §7.3.1.3). With random ports the NAT maps each destination to a new port
// (symmetric NAT), which still works because the bridge's side is public.
func TestChromiumWidgetBehindNAT(t *testing.T) {
	for _, tc := range []struct {
		name        string
		randomPorts bool
	}{
		{name: "port-preserving NAT"},
		{name: "symmetric NAT", randomPorts: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			harness.BuildBridge(t)
			nat := harness.NewNAT(t, tc.randomPorts)
			const farPort = 5072
			kam := harness.StartKamailio(t, harness.KamailioConfig{
				NS: nat.Pub, Port: 5080,
				Users:  []harness.KamailioUser{{Name: seatUser, Password: seatPass}},
				FarEnd: fmt.Sprintf("sip:127.0.0.1:%d", farPort),
			})
			far := harness.StartBaresip(t, harness.BaresipConfig{
				NS: nat.Pub, SIPPort: farPort,
				AudioSource: harness.MakeToneWAV(t, farHz, 30, 48000),
				Accounts:    []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA", dialedE164, farPort)},
			})
			b := startBridgeIn(t, nat.Pub, kam.Addr, harness.NATPubAddr, harness.NATPubAddr)

			out, err := harness.RunBrowser(t, harness.BrowserRun{
				NS:     nat.Lan,
				Script: harness.ScriptPath(t, "widget_call.cjs"),
				Env: map[string]string{
					"BRIDGE_URL":       b.URL(),
					"TOKEN":            seatToken(t),
					"DIAL":             dialed,
					"MIC_WAV":          harness.MakeToneWAV(t, clientHz, 30, 48000),
					"CALL_SECS":        "3",
					"AUDIO_PROCESSING": "off",
					"BROWSER_LOG":      os.Getenv("BROWSER_LOG"),
				},
				Timeout: 2 * time.Minute,
			})
			res := parseWidgetResult(t, out)
			require.NoError(t, err, "widget_call.cjs; errors: %v", res.Errors)
			assert.Equal(t, []string{"dialing", "ringing", "answered", "ended"}, res.States)
			if assert.NotNil(t, res.Pair, "selected ICE pair") {
				// Chromium learns its NATed address from the bridge's STUN
				// responses: a peer-reflexive local candidate.
				assert.Equal(t, harness.NATRtrPub, res.Pair.Local)
				assert.Equal(t, "prflx", res.Pair.LocalType)
				assert.Equal(t, harness.NATPubAddr, res.Pair.Remote)
				assert.Equal(t, "host", res.Pair.RemoteType)
			}
			require.NotEmpty(t, res.Hz)
			hz := append([]float64(nil), res.Hz[len(res.Hz)/3:]...)
			sort.Float64s(hz)
			assert.InDelta(t, farHz, hz[len(hz)/2], 30, "far end's tone in the page: %v", res.Hz)
			requireTone(t, far.ReceivedAudio(t), clientHz, farHz)
		})
	}
}

func parseWidgetResult(t *testing.T, out string) widgetResult {
	t.Helper()
	var res widgetResult
	for _, line := range strings.Split(out, "\n") {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			require.NoError(t, json.Unmarshal([]byte(j), &res), "RESULT line: %s", j)
			return res
		}
	}
	t.Fatalf("no RESULT line in the script's output:\n%s", out)
	return res
}
