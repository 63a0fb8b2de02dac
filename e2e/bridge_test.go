//go:build e2e

package e2e

// The bridge binary against real SIP peers: a pion client speaks the
// signaling protocol and streams Opus; sipp, baresip and kamailio are the
// trunk. Audio is checked by tone detection at both ends.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

const (
	clientHz = 1000.0 // the Opus fixture the client streams
	farHz    = 600.0  // what baresip plays
)

// TestBridgeCallsBaresipThroughKamailio: the full chain with peers nobody
// here wrote. Kamailio challenges the bridge's INVITE with 407 and relays
// it to baresip, which answers and plays 600 Hz. Each side must hear the
// other's tone; the call ends from either side and the signed webhook
// reports it.
func TestBridgeCallsBaresipThroughKamailio(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hangBy string // who ends the call: agent or remote
	}{
		{name: "agent hangs up", hangBy: "agent"},
		{name: "far end hangs up", hangBy: "remote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			harness.BuildBridge(t) // before the peers start their timeouts
			farPort := harness.FreeUDPPort(t)
			kam := harness.StartKamailio(t, harness.KamailioConfig{
				Users:  []harness.KamailioUser{{Name: seatUser, Password: seatPass}},
				FarEnd: fmt.Sprintf("sip:127.0.0.1:%d", farPort),
			})
			far := harness.StartBaresip(t, harness.BaresipConfig{
				SIPPort:     farPort,
				AudioSource: harness.MakeToneWAV(t, farHz, 30, 48000),
				// The Request-URI user must match an account.
				Accounts: []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA", dialedE164, farPort)},
			})
			b := startBridge(t, kam.Addr)
			c := b.client(t)

			callID, states := call(t, c, dialed, "answered", map[string]any{"contact_id": "c-42"})
			require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
			assert.Equal(t, "dialing", states[0].State)
			assert.Equal(t, dialedE164, states[0].To)
			assert.Equal(t, callerID, states[0].From)
			assert.Contains(t, kam.Log(), "authenticated as "+seatUser, "kamailio saw the digest response")

			c.ResetReceived()
			sleepAudio() // audio both ways
			down := received(c)

			switch tc.hangBy {
			case "agent":
				require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
			case "remote":
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := far.Command(ctx, "hangup", "")
				require.NoError(t, err)
			}
			_, states = untilState(t, c, "ended")
			end := states[len(states)-1]
			require.Equal(t, "ended", end.State)
			require.NotNil(t, end.Cause)
			assert.Equal(t, tc.hangBy, end.Cause.By)

			requireTone(t, down, farHz, clientHz)
			requireTone(t, far.ReceivedAudio(t), clientHz, farHz)

			ev := b.hooks.completed(t, callID)
			assert.Equal(t, "completed", ev["status"])
			assert.Equal(t, seatID, ev["seat"])
			assert.Equal(t, callerID, ev["from"])
			assert.Equal(t, dialedE164, ev["to"])
			assert.Equal(t, map[string]any{"contact_id": "c-42"}, ev["metadata"])
			if h, ok := ev["hangup"].(map[string]any); assert.True(t, ok, "hangup in %v", ev) {
				assert.Equal(t, tc.hangBy, h["by"])
			}
		})
	}
}

// sippTrunk starts sipp as the trunk with scenario. It runs without -m:
// the bridge probes its trunk with OPTIONS (RFC 3261 §11), which sipp
// answers itself (-aa) but counts as calls; the test asserts on the
// messages sipp saw instead of its exit status.
func sippTrunk(t *testing.T, scenario string, args ...string) (*harness.Sipp, int) {
	t.Helper()
	port := harness.FreeUDPPort(t)
	s := harness.StartSippWith(t, harness.SippConfig{
		Name: "sipp-trunk", Scenario: scenario,
		Args: append([]string{"-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(harness.FreeUDPPortPair(t)), "-aa", "-timeout", "120s"}, args...),
	})
	return s, port
}

// waitSIP waits until sipp's trace has a message whose start line begins
// with prefix ("> " sent by sipp, "< " received).
func waitSIP(t *testing.T, s *harness.Sipp, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := harness.StartLines(s.Messages())
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp never saw %q; it saw %v", prefix, lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBridgeAgainstSippDigestEcho: sipp answers through a 401 challenge
// (its verifyauth checks the digest) and echoes RTP; the client must hear
// its own tone come back through uplink and downlink. The INVITE's From,
// Request-URI and Authorization, and the BYE on hang-up, are checked in
// the messages sipp saw.
func TestBridgeAgainstSippDigestEcho(t *testing.T) {
	harness.BuildBridge(t)
	uas, port := sippTrunk(t, "uas_auth.xml", "-set", "user", seatUser, "-set", "pass", seatPass, "-rtp_echo")
	b := startBridge(t, fmt.Sprintf("127.0.0.1:%d", port))
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
	c.ResetReceived()
	sleepAudio()
	echo := received(c)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	_, states = untilState(t, c, "ended")
	require.Equal(t, "ended", states[len(states)-1].State)
	waitSIP(t, uas, "< BYE")

	requireTone(t, echo, clientHz, farHz)

	msgs := uas.Messages()
	var invites []harness.SIPMessage
	for _, m := range msgs {
		if !m.Sent && m.Method() == "INVITE" {
			invites = append(invites, m)
		}
	}
	require.Len(t, invites, 2, "INVITE, then INVITE with credentials: %v", harness.StartLines(msgs))
	assert.True(t, strings.HasPrefix(invites[0].StartLine, "INVITE sip:"+dialedE164+"@"), invites[0].StartLine)
	assert.Contains(t, invites[0].Header("From"), "sip:"+callerID+"@")
	assert.Contains(t, invites[0].Header("To"), dialedE164)
	assert.Empty(t, invites[0].Header("Authorization"))
	assert.Contains(t, invites[1].Header("Authorization"), `username="`+seatUser+`"`)
	assert.NotContains(t, harness.StartLines(msgs), "> SIP/2.0 403 Forbidden", "sipp's verifyauth refused the digest")
	var answered bool
	for _, m := range msgs {
		answered = answered || (m.Sent && m.Status() == 200 && m.Header("CSeq") == invites[1].Header("CSeq"))
	}
	assert.True(t, answered, "sipp answered the authenticated INVITE with 200: %v", harness.StartLines(msgs))
	var byes int
	for _, m := range msgs {
		if !m.Sent && m.Method() == "BYE" {
			byes++
		}
	}
	assert.Equal(t, 1, byes, "one BYE from the bridge: %v", harness.StartLines(msgs))
}

// TestBridgeBusyFromSipp: 486 from the trunk ends the call with the SIP
// code and Q.850 17 (RFC 3398 §7.2.4.1), and the webhook says busy.
func TestBridgeBusyFromSipp(t *testing.T) {
	harness.BuildBridge(t)
	uas, port := sippTrunk(t, "uas_busy.xml")
	b := startBridge(t, fmt.Sprintf("127.0.0.1:%d", port))
	c := b.client(t)

	callID, states := call(t, c, dialed, "ended", nil)
	names := stateNames(states)
	assert.Equal(t, []string{"dialing", "ringing", "ended"}, names)
	end := states[len(states)-1]
	require.NotNil(t, end.Cause)
	assert.Equal(t, 486, end.Cause.SIPCode)
	assert.Equal(t, 17, end.Cause.Q850)
	assert.Equal(t, "remote", end.Cause.By)
	waitSIP(t, uas, "< ACK") // the ACK of the 486 (RFC 3261 §17.1.1.3)
	assert.Equal(t, "busy", b.hooks.completed(t, callID)["status"])
}
