package signaling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/demotrunk"
	"github.com/callbridge/callbridge/media/mediatest"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

const prospect = "+14155559876"

type incomingMsg struct {
	CallID      string `json:"call_id"`
	From        string `json:"from"`
	FromRaw     string `json:"from_raw"`
	To          string `json:"to"`
	DisplayName string `json:"display_name"`
	Direction   string `json:"direction"`
}

func (e *env) sipAddr() string { return strings.TrimPrefix(e.cfg.SIP.Listen, "udp:") }

func nextIncoming(t *testing.T, c *sigclient.Client) incomingMsg {
	t.Helper()
	m, err := c.Next(ctxT(t, 10*time.Second), "incoming")
	require.NoError(t, err)
	var in incomingMsg
	require.NoError(t, m.Decode(&in))
	return in
}

// stateOf waits for a call_state of the call in state want.
func stateOf(t *testing.T, c *sigclient.Client, callID, want string) sigclient.CallState {
	t.Helper()
	ctx := ctxT(t, 15*time.Second)
	for {
		cs, err := c.NextState(ctx)
		require.NoError(t, err, "waiting for %s", want)
		if cs.CallID == callID && (cs.State == want || cs.State == "ended") {
			require.Equal(t, want, cs.State, "cause %+v", cs.Cause)
			return cs
		}
	}
}

func completedOf(t *testing.T, e *env, callID string) (recordedHook, map[string]any) {
	t.Helper()
	h := e.hooks.wait(t, func(h recordedHook) bool {
		return h.event.Type == record.TypeCompleted && h.event.Call.CallID == callID
	})
	require.NoError(t, h.sigErr, "signature verifies")
	var body map[string]any
	require.NoError(t, json.Unmarshal(h.body, &body))
	return h, body["call"].(map[string]any)
}

// A callback to the seat's DID rings both of its sessions; the first to
// accept gets the call with audio both ways, the other stops ringing.
func TestInboundRingsEverySessionFirstAcceptWins(t *testing.T) {
	e := newEnv(t, nil)
	c1, c2 := e.client(t), e.client(t)
	opus := mediatest.OpusPackets(t, "tone1k_silknb.opus")
	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	go c1.StreamOpus(sendCtx, opus, 20*time.Millisecond)

	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), "4155550101", siptest.CallOptions{From: "4155559876", DisplayName: "Pat Prospect", ToneHz: trunkTone})
	select {
	case <-call.Ringing():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no 180")
	}
	in1, in2 := nextIncoming(t, c1), nextIncoming(t, c2)
	require.Equal(t, in1.CallID, in2.CallID)
	assert.Equal(t, prospect, in1.From)
	assert.Equal(t, "4155559876", in1.FromRaw)
	assert.Equal(t, callerID2, in1.To, "the DID, E.164")
	assert.Equal(t, "Pat Prospect", in1.DisplayName)
	assert.Equal(t, "inbound", in1.Direction)
	stateOf(t, c1, in1.CallID, "ringing")
	stateOf(t, c2, in1.CallID, "ringing")
	ringing := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeRinging })
	require.NoError(t, ringing.sigErr)
	assert.Equal(t, record.DirectionInbound, ringing.event.Call.Direction)

	require.NoError(t, c1.Send(map[string]any{"type": "accept", "call_id": in1.CallID}))
	cs := stateOf(t, c2, in1.CallID, "ended")
	require.NotNil(t, cs.Cause)
	assert.Equal(t, "answered_elsewhere", cs.Cause.Reason)
	assert.Equal(t, "bridge", cs.Cause.By)
	stateOf(t, c1, in1.CallID, "answered")
	code, err := call.Final(ctxT(t, 10*time.Second))
	require.NoError(t, err)
	require.Equal(t, 200, code)

	// A late accept from the other session is refused.
	require.NoError(t, c2.Send(map[string]any{"type": "accept", "call_id": in1.CallID}))
	er, err := c2.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "unknown_call", er.Code)

	// Tones both ways: the caller's 440 Hz at the agent, the agent's 1 kHz at the caller.
	require.Eventually(t, func() bool {
		pcm, _, _ := c1.Received()
		up := call.Received()
		return len(pcm) > 8000 && len(up) > 8000 &&
			mediatest.ToneAmplitude(pcm[len(pcm)-8000:], 8000, trunkTone) > 0.1 &&
			mediatest.ToneAmplitude(up[len(up)-8000:], 8000, uplinkTone) > 0.1
	}, 15*time.Second, 100*time.Millisecond, "tones both ways")

	// The agent hangs up: BYE to the caller.
	require.NoError(t, c1.Send(map[string]any{"type": "hangup", "call_id": in1.CallID}))
	stateOf(t, c1, in1.CallID, "ended")
	select {
	case <-call.Ended():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no BYE at the caller")
	}
	assert.True(t, call.ByeByPeer())
	_, rec := completedOf(t, e, in1.CallID)
	assert.Equal(t, "inbound", rec["direction"])
	assert.Equal(t, "completed", rec["status"])
	assert.Equal(t, prospect, rec["from"])
	assert.Equal(t, callerID2, rec["to"])
	assert.Equal(t, map[string]any{"seat": seatID, "session_id": c1.Ready.SessionID}, rec["answered_by"])
}

// The caller hangs up while it rings: every session stops, the call is
// missed (caller_hung_up).
func TestInboundCancelWhileRinging(t *testing.T) {
	e := newEnv(t, nil)
	c1, c2 := e.client(t), e.client(t)
	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), callerID, siptest.CallOptions{From: prospect})
	in := nextIncoming(t, c1)
	nextIncoming(t, c2)
	stateOf(t, c1, in.CallID, "ringing")
	stateOf(t, c2, in.CallID, "ringing")
	call.Cancel()
	for _, c := range []*sigclient.Client{c1, c2} {
		cs := stateOf(t, c, in.CallID, "ended")
		require.NotNil(t, cs.Cause)
		assert.Equal(t, "remote", cs.Cause.By)
	}
	_, _ = call.Final(ctxT(t, 10*time.Second))
	assert.NotContains(t, call.Codes(), 200, "never answered")
	_, rec := completedOf(t, e, in.CallID)
	assert.Equal(t, "missed", rec["status"])
	assert.Equal(t, "caller_hung_up", rec["missed_reason"])
	assert.Equal(t, "inbound", rec["direction"])
}

// Declined by the only session: the seat's fallback (busy by default).
// No session at all: the seat's fallback (here unavailable).
func TestInboundDeclineAndNoSession(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Seats = append(c.Seats, config.Seat{ID: "agent-8", CallerIDs: []string{"+14155550102"}, Country: "US", InboundFallback: config.FallbackUnavailable})
	})
	c := e.client(t)
	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), callerID, siptest.CallOptions{From: prospect})
	in := nextIncoming(t, c)
	require.NoError(t, c.Send(map[string]any{"type": "reject", "call_id": in.CallID, "reason": "decline"}))
	cs := stateOf(t, c, in.CallID, "ended")
	assert.Equal(t, "declined", cs.Cause.Reason)
	code, _ := call.Final(ctxT(t, 10*time.Second))
	assert.Equal(t, 486, code)
	_, rec := completedOf(t, e, in.CallID)
	assert.Equal(t, "missed", rec["status"])
	assert.Equal(t, "declined", rec["missed_reason"])

	other := caller.Call(e.sipAddr(), "+14155550102", siptest.CallOptions{From: prospect})
	code, _ = other.Final(ctxT(t, 10*time.Second))
	assert.Equal(t, 480, code)
	h := e.hooks.wait(t, func(h recordedHook) bool {
		return h.event.Type == record.TypeCompleted && h.event.Call.Seat == "agent-8"
	})
	require.NoError(t, h.sigErr)
	assert.Equal(t, record.StatusMissed, h.event.Call.Status)
	assert.Equal(t, record.MissedNoSession, h.event.Call.MissedReason)
}

// A number that is no seat's DID: 404, and nobody rings.
func TestInboundUnknownDID(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), "+14155550199", siptest.CallOptions{From: prospect})
	code, _ := call.Final(ctxT(t, 10*time.Second))
	assert.Equal(t, 404, code)
	assert.NotContains(t, call.Codes(), 180)
	require.NoError(t, c.Send(map[string]any{"type": "ping"}))
	m, err := c.Next(ctxT(t, 5*time.Second), "pong", "incoming")
	require.NoError(t, err)
	assert.Equal(t, "pong", m.Type)
}

// Nobody online, fallback forward: a second INVITE to the trunk with the
// seat's DID as From, and the caller talks to the forwarded party.
func TestInboundForward(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Seats[0].InboundFallback = config.FallbackForward
		c.Seats[0].InboundForwardTo = "+15550100002"
		c.Inbound.RingTimeout = 200 * time.Millisecond
	})
	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), callerID, siptest.CallOptions{From: prospect, ToneHz: uplinkTone, DelayedOffer: true})
	code, err := call.Final(ctxT(t, 15*time.Second))
	require.NoError(t, err)
	require.Equal(t, 200, code)
	assert.Contains(t, call.Codes(), 181)
	rec, err := e.trunk.WaitCall(ctxT(t, 15*time.Second), func(r demotrunk.CallRecord) bool { return len(r.Received) > 8000 })
	require.NoError(t, err)
	assert.Equal(t, callerID, rec.FromUser, "the forward presents the seat's DID")
	assert.Equal(t, "+15550100002", rec.ToUser)
	require.Eventually(t, func() bool {
		up := call.Received()
		return len(up) > 8000 && mediatest.ToneAmplitude(up[len(up)-8000:], 8000, trunkTone) > 0.1
	}, 15*time.Second, 100*time.Millisecond, "the forwarded party's tone at the caller")
	rec, err = e.trunk.WaitCall(ctxT(t, 15*time.Second), func(r demotrunk.CallRecord) bool {
		return len(r.Received) > 8000 && mediatest.ToneAmplitude(r.Received[len(r.Received)-8000:], 8000, uplinkTone) > 0.1
	})
	require.NoError(t, err, "the caller's tone at the forwarded party")
}

// An INVITE for a seat's DID from an address that is neither the trunk's
// nor in sip.allowed_sources gets no response at all and rings nobody.
func TestInboundFromNonTrunkSourceIsDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, nil, bridge.WithMetrics(bridge.NewMetrics(reg)))
	c := e.client(t)
	// A stranger on 127.0.0.2 (the trunk is at 127.0.0.1) sends a complete
	// INVITE with SDP for the seat's DID.
	stranger, err := net.ListenPacket("udp", "127.0.0.2:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stranger.Close() })
	bridgeAddr, err := net.ResolveUDPAddr("udp", e.sipAddr())
	require.NoError(t, err)
	from := stranger.LocalAddr().String()
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	invite := fmt.Sprintf("INVITE sip:%s@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-stranger-1;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:%s@%s>;tag=stranger\r\n"+
		"To: <sip:%s@%s>\r\n"+
		"Call-ID: stranger-1@127.0.0.2\r\n"+
		"CSeq: 1 INVITE\r\n"+
		"Contact: <sip:%s@%s>\r\n"+
		"Content-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s",
		callerID, e.sipAddr(), from, prospect, from, callerID, e.sipAddr(), prospect, from, len(sdp), sdp)
	_, err = stranger.WriteTo([]byte(invite), bridgeAddr)
	require.NoError(t, err)
	dropped := func() float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "callbridge_sip_requests_dropped_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	require.Eventually(t, func() bool { return dropped() >= 1 }, 10*time.Second, 5*time.Millisecond, "the INVITE was dropped")
	// Nothing came back: the socket has no datagram waiting (a deadline in
	// the past makes the read return at once with what is queued).
	require.NoError(t, stranger.SetReadDeadline(time.Now()))
	buf := make([]byte, 2048)
	n, _, err := stranger.ReadFrom(buf)
	assert.Error(t, err, "no response expected, got %q", buf[:n])
	require.NoError(t, c.Send(map[string]any{"type": "ping"}))
	m, err := c.Next(ctxT(t, 5*time.Second), "pong", "incoming")
	require.NoError(t, err)
	assert.Equal(t, "pong", m.Type, "the seat's session did not ring")
}

// Nobody of the called seat online, fallback seats: the hunt group's
// sessions ring, one accepts, and the record says who answered.
func TestInboundHuntGroup(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Seats = append(c.Seats,
			config.Seat{ID: "agent-8", CallerIDs: []string{"+14155550102"}, Country: "US",
				InboundFallback: config.FallbackSeats, InboundHunt: []string{"agent-9"}},
			config.Seat{ID: "agent-9", CallerIDs: []string{"+14155550103"}, Country: "US"})
	})
	tok, err := auth.Mint([]byte(e.cfg.Auth.TokenSecret), "agent-9", time.Hour, nil)
	require.NoError(t, err)
	hunt, err := sigclient.Dial(ctxT(t, 10*time.Second), e.wsURL, tok, sigclient.Options{ICEIPs: []string{"127.0.0.1"}})
	require.NoError(t, err)
	t.Cleanup(hunt.Close)
	require.NoError(t, hunt.Connect(ctxT(t, 10*time.Second)))

	caller := siptest.NewCaller(t, "127.0.0.1")
	call := caller.Call(e.sipAddr(), "+14155550102", siptest.CallOptions{From: prospect})
	in := nextIncoming(t, hunt)
	assert.Equal(t, "+14155550102", in.To, "the DID that was called")
	require.NoError(t, hunt.Send(map[string]any{"type": "accept", "call_id": in.CallID}))
	stateOf(t, hunt, in.CallID, "answered")
	code, _ := call.Final(ctxT(t, 10*time.Second))
	assert.Equal(t, 200, code)
	require.NoError(t, hunt.Send(map[string]any{"type": "hangup", "call_id": in.CallID}))
	stateOf(t, hunt, in.CallID, "ended")
	h, rec := completedOf(t, e, in.CallID)
	require.NoError(t, h.sigErr)
	assert.Equal(t, "completed", rec["status"])
	by, _ := rec["answered_by"].(map[string]any)
	assert.Equal(t, "agent-9", by["seat"], "a hunt-group seat answered: %v", rec)
}
