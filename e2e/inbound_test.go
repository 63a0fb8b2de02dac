//go:build e2e

package e2e

// A carrier calls a seat's DID through the real bridge, and two pages of
// that seat in real Chromium ring: the first accepts (tones both ways), the
// second stops ringing at once; then the caller hangs up while both ring.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/e2e/harness"
)

// inboundLook is what widget_inbound.cjs reads from one page.
type inboundLook struct {
	Ringing     bool   `json:"ringing"`
	Panel       bool   `json:"panel"`
	Caller      string `json:"caller"`
	TonePlaying bool   `json:"tone_playing"`
	Incoming    string `json:"incoming"`
}

type inboundEnd struct {
	CallID string `json:"call_id"`
	Cause  struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	} `json:"cause"`
}

// inboundResult is what e2e/harness/chromium/widget_inbound.cjs prints.
type inboundResult struct {
	Errors      []string      `json:"errors"`
	Hz          []float64     `json:"hz"`
	Ringing1    []inboundLook `json:"ringing1"`
	AfterAccept []inboundLook `json:"after_accept"`
	P2Ended1    inboundEnd    `json:"p2_ended1"`
	CallInfo1   string        `json:"callinfo1"`
	P1Ended1    inboundEnd    `json:"p1_callended1"`
	Ringing2    []inboundLook `json:"ringing2"`
	AfterCancel []inboundLook `json:"after_cancel"`
	Ended2      []inboundEnd  `json:"ended2"`
}

func TestChromiumWidgetAnswersInboundCall(t *testing.T) {
	const callerNumber = "+14155550199"
	harness.BuildBridge(t)
	ns := harness.NewSealedNetns(t)
	hooks := newWebhookSink(t, ns)
	sipPort := harness.FreeUDPPort(t)
	cfg := bridgeYAML(t, bridgeConfig{
		httpHost: "127.0.0.1", iceIP: ns.Addr, hookURL: hooks.URL + "/hooks",
		sipListen: fmt.Sprintf("udp:127.0.0.1:%d", sipPort),
		// The carrier's address: its INVITEs come from 127.0.0.1.
		trunk: fmt.Sprintf("sip:127.0.0.1:%d", harness.FreeUDPPort(t)),
	})
	b := &testBridge{Bridge: harness.StartBridge(t, cfg, harness.BridgeInNetns(ns)), hooks: hooks}
	bridgeSIP := fmt.Sprintf("127.0.0.1:%d", sipPort)
	carrier := siptest.NewCallerListen(t, "127.0.0.1", func(network, addr string) (net.PacketConn, error) {
		ua, err := net.ResolveUDPAddr(network, addr)
		if err != nil {
			return nil, err
		}
		return ns.ListenUDP(network, ua)
	})

	// callIn places a call from inside the namespace: the SIP client makes
	// its socket when it sends the INVITE, on the calling thread.
	callIn := func(place func() *siptest.Call) (c *siptest.Call) {
		_ = ns.Do(func() error { c = place(); return nil })
		return c
	}

	sync := t.TempDir()
	stop := make(chan struct{}) // closed when the browser script has finished
	// waitFile waits until the browser script writes name; false when it
	// finished without.
	waitFile := func(name string) bool {
		for {
			if _, err := os.Stat(filepath.Join(sync, name)); err == nil {
				return true
			}
			select {
			case <-stop:
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	type placed struct {
		first, second *siptest.Call
	}
	done := make(chan placed, 1)
	go func() {
		var p placed
		defer func() { done <- p }()
		if !waitFile("ready1") {
			return
		}
		p.first = callIn(func() *siptest.Call {
			return carrier.Call(bridgeSIP, callerID, siptest.CallOptions{From: callerNumber, DisplayName: "Ada", ToneHz: farHz})
		})
		<-p.first.Ended() // the agent hangs up
		if !waitFile("ready2") {
			return
		}
		p.second = callIn(func() *siptest.Call {
			return carrier.Call(bridgeSIP, callerID, siptest.CallOptions{From: callerNumber, ToneHz: farHz})
		})
		if !waitFile("ringing2") {
			return
		}
		p.second.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = p.second.Final(ctx) // the caller's side of the CANCEL is over
	}()

	out, err := harness.RunBrowser(t, harness.BrowserRun{
		NS:     ns,
		Script: harness.ScriptPath(t, "widget_inbound.cjs"),
		Env: map[string]string{
			"BRIDGE_URL": b.URL(),
			"TOKEN":      seatToken(t),
			"TOKEN2":     seatToken(t),
			"MIC_WAV":    harness.MakeToneWAV(t, clientHz, 30, 48000),
			"SYNC_DIR":   sync,
			"CALL_SECS":  "3",
		},
		Timeout: 3 * time.Minute,
	})
	close(stop)
	var res inboundResult
	for _, line := range strings.Split(out, "\n") {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			require.NoError(t, json.Unmarshal([]byte(j), &res), "RESULT line: %s", j)
		}
	}
	require.NoError(t, err, "widget_inbound.cjs; errors: %v", res.Errors)
	assert.Empty(t, res.Errors)
	var p placed
	select {
	case p = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the carrier's calls did not finish")
	}

	// Both pages rang with the panel, the ringtone and the caller's number
	// under the name the CRM page supplied.
	require.Len(t, res.Ringing1, 2)
	for i, l := range res.Ringing1 {
		assert.True(t, l.Ringing && l.Panel && l.TonePlaying, "page %d rings: %+v", i+1, l)
		assert.Contains(t, l.Caller, callerNumber, "page %d", i+1)
		assert.Contains(t, l.Caller, "Ada Prospect", "page %d", i+1)
	}
	// Page 1 accepted: both stopped ringing; page 2 was told why.
	for i, l := range res.AfterAccept {
		assert.False(t, l.Ringing || l.Panel || l.TonePlaying, "page %d after accept: %+v", i+1, l)
	}
	assert.Equal(t, "answered_elsewhere", res.P2Ended1.Cause.Reason)
	assert.Contains(t, res.CallInfo1, "Connected")
	assert.Equal(t, "agent", res.P1Ended1.Cause.By)
	// The caller's 600 Hz reached page 1; page 1's 1 kHz reached the caller.
	require.NotEmpty(t, res.Hz)
	hz := append([]float64(nil), res.Hz[len(res.Hz)/3:]...)
	sort.Float64s(hz)
	assert.InDelta(t, farHz, hz[len(hz)/2], 30, "median dominant frequency of the caller's audio in the page: %v", res.Hz)
	require.NotNil(t, p.first)
	assert.Contains(t, p.first.Codes(), 180, "180 Ringing upstream")
	assert.Contains(t, p.first.Codes(), 200)
	assert.True(t, p.first.ByeByPeer(), "the agent's hang-up is a BYE to the caller")
	requireTone(t, harness.AudioFromInt16(p.first.Received(), 8000), clientHz, farHz)

	// Call 2: the caller hung up while both rang: both stopped.
	require.Len(t, res.Ringing2, 2)
	for i, l := range res.Ringing2 {
		assert.True(t, l.Ringing && l.Panel, "page %d rings call 2: %+v", i+1, l)
	}
	for i, l := range res.AfterCancel {
		assert.False(t, l.Ringing || l.Panel || l.TonePlaying, "page %d after the caller hung up: %+v", i+1, l)
	}
	for i, e := range res.Ended2 {
		assert.Equal(t, "remote", e.Cause.By, "page %d", i+1)
	}
	assert.NotContains(t, p.second.Codes(), 200, "never answered")
	if assert.NotEmpty(t, res.Ended2) {
		ev := b.hooks.completed(t, res.Ended2[0].CallID)
		assert.Equal(t, "inbound", ev["direction"])
		assert.Equal(t, "missed", ev["status"])
		assert.Equal(t, "caller_hung_up", ev["missed_reason"])
	}
}
