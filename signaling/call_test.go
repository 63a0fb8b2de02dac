package signaling_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/demotrunk"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/media/mediatest"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/signaling"
	"github.com/callbridge/callbridge/signaling/sigclient"
	"github.com/callbridge/callbridge/webhook"
)

const (
	seatID     = "agent-7"
	callerID   = "+14155550100"
	callerID2  = "+14155550101"
	sipUser    = "agent7"
	sipPass    = "s3cret-pass"
	trunkTone  = 440.0
	uplinkTone = 1000.0
)

// env is the bridge, its signaling endpoint, a digest-challenging SIP trunk
// and a webhook receiver, all in process on loopback.
type env struct {
	t      *testing.T
	cfg    *config.Config
	bridge *bridge.Bridge
	trunk  *demotrunk.Trunk
	http   *httptest.Server
	wsURL  string
	hooks  *hookRecorder
	secret string
	sig    *signaling.Server
}

type hookRecorder struct {
	mu     sync.Mutex
	events []recordedHook
	secret string
	t      *testing.T
}

type recordedHook struct {
	header http.Header
	body   []byte
	event  record.Event
	sigErr error
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recordedHook{header: r.Header.Clone(), body: body}
	rec.sigErr = webhook.Verify(h.secret, r.Header, body, time.Minute)
	_ = json.Unmarshal(body, &rec.event)
	h.mu.Lock()
	h.events = append(h.events, rec)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookRecorder) wait(t *testing.T, pred func(recordedHook) bool) recordedHook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, e := range h.events {
			if pred(e) {
				h.mu.Unlock()
				return e
			}
		}
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no matching webhook within 10 s")
	return recordedHook{}
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CALLBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newEnv starts everything; mutate adjusts the config before start.
func newEnv(t *testing.T, mutate func(*config.Config), opts ...bridge.Option) *env {
	t.Helper()
	return newEnvClock(t, mutate, nil, opts...)
}

// newEnvClock is newEnv whose signaling grace periods run on clk.
func newEnvClock(t *testing.T, mutate func(*config.Config), clk clock.Clock, opts ...bridge.Option) *env {
	t.Helper()
	log := testLogger(t)
	trunkConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	trunk, err := demotrunk.New(demotrunk.Options{Logger: log.With("side", "trunk"), RTPHost: "127.0.0.1",
		Username: sipUser, Password: sipPass, ToneHz: trunkTone, RingFor: 200 * time.Millisecond,
		EarlyMediaFor: 500 * time.Millisecond, HangupAfter: 1500 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = trunk.Serve(ctx, trunkConn) }()

	hooks := &hookRecorder{t: t}
	hookSrv := httptest.NewServer(hooks)

	sipConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := "whsec_" + encodeB64(key)
	hooks.secret = secret

	cfg := config.Default()
	cfg.Auth.TokenSecret = randHex(32)
	cfg.Auth.AdminToken = randHex(16)
	cfg.SIP.Listen = "udp:" + sipConn.LocalAddr().String()
	cfg.SIP.Trunk = "sip:" + trunkConn.LocalAddr().String()
	cfg.SIP.RTPPorts = "21000-21999"
	cfg.WebRTC.ICEInterfaces = []string{"127.0.0.1"}
	cfg.Webhook.URL = hookSrv.URL + "/hooks"
	cfg.Webhook.Secret = secret
	cfg.Webhook.AllowPrivate = true
	cfg.Seats = []config.Seat{{ID: seatID, SIPUsername: sipUser, SIPPassword: sipPass,
		CallerIDs: []string{callerID, callerID2}, Country: "US", MaxCalls: 2}}
	cfg.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown} // the fictional 555-01xx range
	if mutate != nil {
		mutate(cfg)
	}
	cfg.SetDefaults()
	require.NoError(t, cfg.Validate())

	sender := webhook.NewSender(webhook.SenderConfig{URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret,
		Timeout: cfg.Webhook.Timeout, AllowPrivate: true}, log)
	b, err := bridge.New(cfg, append([]bridge.Option{bridge.WithLogger(log.With("side", "bridge")), bridge.WithEvents(sender)}, opts...)...)
	require.NoError(t, err)
	go func() { _ = b.ServeSIP(sipConn) }()
	var udpMux net.PacketConn
	if cfg.WebRTC.UDPPort != 0 {
		udpMux, err = net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", cfg.WebRTC.UDPPort))
		require.NoError(t, err)
		t.Cleanup(func() { _ = udpMux.Close() })
	}
	api, err := signaling.NewAPI(cfg.WebRTC, log, udpMux)
	require.NoError(t, err)
	sig := signaling.Handler(signaling.Options{Bridge: b, API: api, Logger: log.With("side", "signaling"),
		AllowedOrigins: cfg.HTTP.AllowedOrigins, ICEServers: cfg.WebRTC.ICEServers, HelloTimeout: 500 * time.Millisecond, ResumeGrace: 500 * time.Millisecond,
		Hostnames: cfg.HTTP.Hostnames, MaxPending: cfg.HTTP.MaxPendingWebSockets, MaxPendingPerIP: cfg.HTTP.MaxPendingWebSocketsPerIP,
		Limits: cfg.Limits, CandidatePolicy: signaling.NewCandidatePolicy(cfg.WebRTC), PageGrace: cfg.WebRTC.PageGrace, Clock: clk})
	mux := http.NewServeMux()
	mux.Handle("/v1/ws", sig)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		_ = b.Shutdown(sctx)
		c2()
		sig.Shutdown()
		_ = b.Close()
		_ = sipConn.Close()
		sctx, c3 := context.WithTimeout(context.Background(), 5*time.Second)
		_ = sender.Close(sctx)
		c3()
		hookSrv.Close()
		cancel()
		_ = trunk.Close()
		_ = trunkConn.Close()
	})
	return &env{t: t, cfg: cfg, bridge: b, trunk: trunk, http: srv, hooks: hooks, secret: secret, sig: sig,
		wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"}
}

func (e *env) token(t *testing.T, callerIDs ...string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(e.cfg.Auth.TokenSecret), seatID, time.Hour, callerIDs)
	require.NoError(t, err)
	return tok
}

// client dials, authenticates and sets up media.
func (e *env) client(t *testing.T) *sigclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sigclient.Dial(ctx, e.wsURL, e.token(t), sigclient.Options{ICEIPs: []string{"127.0.0.1"}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Connect(ctx))
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// states collects call_states until ended.
func states(t *testing.T, c *sigclient.Client, until string) []sigclient.CallState {
	t.Helper()
	var out []sigclient.CallState
	ctx := ctxT(t, 20*time.Second)
	for {
		cs, err := c.NextState(ctx)
		require.NoError(t, err, "states so far: %+v", out)
		out = append(out, cs)
		if cs.State == until || cs.State == "ended" {
			return out
		}
	}
}

func names(ss []sigclient.CallState) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.State)
	}
	return out
}

func TestCallAudioBothWays(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	assert.Contains(t, c.AnswerSDP(), "maxplaybackrate=8000", "the answer must ask for narrowband Opus")

	opus := mediatest.OpusPackets(t, "tone1k_silknb.opus")
	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	go c.StreamOpus(sendCtx, opus, 20*time.Millisecond)

	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "r1", "to": "(555) 010-0002",
		"metadata": map[string]string{"contact_id": "003xx"}}))
	ss := states(t, c, "answered")
	require.Equal(t, "dialing", ss[0].State)
	require.Equal(t, "answered", ss[len(ss)-1].State, "states: %v", names(ss))
	callID := ss[0].CallID
	assert.Equal(t, "r1", ss[0].RequestID)
	assert.Equal(t, "+15550100002", ss[0].To)
	assert.Equal(t, callerID, ss[0].From)

	time.Sleep(2 * time.Second)
	// Downlink: the trunk's tone reaches the client.
	pcm, codec, _ := c.Received()
	require.Greater(t, len(pcm), 8000, "downlink audio received (codec %s)", codec)
	warm := pcm[len(pcm)-8000:]
	amp := mediatest.ToneAmplitude(warm, 8000, trunkTone)
	assert.Greater(t, amp, 0.1, "trunk tone at the client")
	assert.Less(t, mediatest.ToneAmplitude(warm, 8000, uplinkTone), 0.05)

	// Uplink: the client's 1 kHz Opus tone reaches the trunk.
	rec, err := e.trunk.WaitCall(ctxT(t, 5*time.Second), func(r demotrunk.CallRecord) bool { return len(r.Received) > 8000 })
	require.NoError(t, err)
	up := rec.Received[len(rec.Received)-8000:]
	assert.Greater(t, mediatest.ToneAmplitude(up, 8000, uplinkTone), 0.1, "client tone at the trunk")
	// The INVITE: digest auth passed, From is the caller id, To/R-URI the E.164 destination.
	assert.Equal(t, sipUser, rec.AuthUser)
	assert.Equal(t, callerID, rec.FromUser)
	assert.Equal(t, "+15550100002", rec.ToUser)
	assert.True(t, rec.Has(407), "challenged with 407: %v", rec.Responses)
	require.GreaterOrEqual(t, len(rec.Invites), 2)
	assert.NotNil(t, rec.Invites[len(rec.Invites)-1].GetHeader("Proxy-Authorization"))
	assert.Contains(t, rec.RequestURI, "+15550100002")

	// Agent hangs up: BYE upstream, ended with cause by agent.
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	end := states(t, c, "ended")
	last := end[len(end)-1]
	require.Equal(t, "ended", last.State)
	require.NotNil(t, last.Cause)
	assert.Equal(t, "agent", last.Cause.By)
	assert.Equal(t, 16, last.Cause.Q850)
	rec, err = e.trunk.WaitCall(ctxT(t, 5*time.Second), func(r demotrunk.CallRecord) bool { return r.CallID == rec.CallID && r.ByeFrom != "" })
	require.NoError(t, err)
	assert.Equal(t, demotrunk.ByeCaller, rec.ByeFrom)

	// Webhook: call.completed, signed, with the call's fields.
	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	require.NoError(t, h.sigErr, "signature verifies")
	assert.NotEmpty(t, h.header.Get("webhook-id"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(h.body, &body))
	call := body["call"].(map[string]any)
	assert.Equal(t, callID, call["call_id"])
	assert.Equal(t, "completed", call["status"])
	assert.Equal(t, "+15550100002", call["to"])
	assert.Equal(t, callerID, call["from"])
	assert.Equal(t, seatID, call["seat"])
	assert.Equal(t, "outbound", call["direction"])
	assert.Equal(t, map[string]any{"contact_id": "003xx"}, call["metadata"])
	assert.Equal(t, "agent", call["hangup"].(map[string]any)["by"])
	q := call["quality"].(map[string]any)
	assert.Greater(t, q["uplink"].(map[string]any)["packets"], 10.0)
	assert.Greater(t, q["downlink"].(map[string]any)["packets"], 10.0)
}

func TestCallBusy(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "b", "to": "+1 555 010 0003"}))
	ss := states(t, c, "ended")
	last := ss[len(ss)-1]
	require.Equal(t, "ended", last.State)
	require.NotNil(t, last.Cause)
	assert.Equal(t, 486, last.Cause.SIPCode)
	assert.Equal(t, 17, last.Cause.Q850)
	assert.Equal(t, "remote", last.Cause.By)
	assert.Contains(t, names(ss), "ringing")
	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	require.NoError(t, h.sigErr)
	assert.Contains(t, string(h.body), `"status":"busy"`)
}

func TestCallCancelBeforeAnswer(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "n", "to": "+15550100004"}))
	ss := states(t, c, "ringing")
	require.Equal(t, "ringing", ss[len(ss)-1].State)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": ss[0].CallID}))
	end := states(t, c, "ended")
	last := end[len(end)-1]
	require.NotNil(t, last.Cause)
	assert.Equal(t, "agent", last.Cause.By)
	rec, err := e.trunk.WaitCall(ctxT(t, 5*time.Second), func(r demotrunk.CallRecord) bool { return r.ByeFrom != "" })
	require.NoError(t, err)
	assert.Equal(t, demotrunk.ByeCancel, rec.ByeFrom)
	assert.True(t, rec.Has(487))
	h := e.hooks.wait(t, func(h recordedHook) bool { return h.event.Type == record.TypeCompleted })
	assert.Contains(t, string(h.body), `"status":"canceled"`)
}

func TestCallRemoteHangup(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "x", "to": "+15550100006"}))
	ss := states(t, c, "ended")
	assert.Contains(t, names(ss), "answered")
	last := ss[len(ss)-1]
	require.NotNil(t, last.Cause)
	assert.Equal(t, "remote", last.Cause.By)
	assert.Equal(t, 16, last.Cause.Q850)
	rec, err := e.trunk.WaitCall(ctxT(t, 5*time.Second), func(r demotrunk.CallRecord) bool { return r.ByeFrom != "" })
	require.NoError(t, err)
	assert.Equal(t, demotrunk.ByeRemote, rec.ByeFrom)
}

func TestCallEarlyMedia(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "em", "to": "+15550100005"}))
	ss := states(t, c, "answered")
	assert.Equal(t, []string{"dialing", "early_media", "answered"}, names(ss))
}

func TestCallRefusals(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	cases := []struct {
		name string
		msg  map[string]any
		code string
	}{
		{"invalid number", map[string]any{"type": "call", "request_id": "1", "to": "12"}, "invalid_number"},
		{"foreign caller id", map[string]any{"type": "call", "request_id": "2", "to": "+15550100001", "from": "+14155559999"}, "caller_id_not_allowed"},
		{"unknown call", map[string]any{"type": "hangup", "call_id": "nope"}, "unknown_call"},
		{"unknown type", map[string]any{"type": "dance"}, "bad_request"},
		{"metadata not object", map[string]any{"type": "call", "request_id": "3", "to": "+15550100001", "metadata": "x"}, "bad_request"},
		{"bad digits", map[string]any{"type": "dtmf", "call_id": "x", "digits": "12Z"}, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.Send(tc.msg))
			er, err := c.NextError(ctxT(t, 5*time.Second))
			require.NoError(t, err)
			assert.Equal(t, tc.code, er.Code, er.Message)
		})
	}
	// Malformed JSON after hello: an error, and the session stays up.
	require.NoError(t, c.WS().WriteMessage(1, []byte("{not json")))
	er, err := c.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "bad_request", er.Code)
	require.NoError(t, c.Send(map[string]any{"type": "ping"}))
	_, err = c.Next(ctxT(t, 5*time.Second), "pong")
	require.NoError(t, err)
	// No INVITE reached the trunk for any refusal.
	assert.Empty(t, e.trunk.Calls())
}

// Every call of a session reuses its one peer connection: the trunk's
// audio must reach the client on each of them, not only the first.
func TestSeveralCallsOnOneSession(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t)
	for i := 0; i < 3; i++ {
		require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": fmt.Sprint(i), "to": "+15550100002"}))
		ss := states(t, c, "answered")
		require.Equal(t, "answered", ss[len(ss)-1].State, "call %d: %v", i, names(ss))
		c.ResetReceived()
		time.Sleep(1200 * time.Millisecond)
		pcm, _, _ := c.Received()
		require.Greater(t, len(pcm), 4000, "call %d: downlink audio", i)
		assert.Greater(t, mediatest.ToneAmplitude(pcm[len(pcm)-4000:], 8000, trunkTone), 0.1, "call %d: tone", i)
		require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": ss[0].CallID}))
		end := states(t, c, "ended")
		require.Equal(t, "ended", end[len(end)-1].State)
	}
}

// webrtc.udp_port: every session's ICE on one UDP port (UDP mux).
func TestCallOverOneUDPPort(t *testing.T) {
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := probe.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, probe.Close())
	e := newEnv(t, func(c *config.Config) { c.WebRTC.UDPPort = port })
	var clients []*sigclient.Client
	for i := 0; i < 2; i++ {
		c := e.client(t)
		clients = append(clients, c)
		cands := c.RemoteCandidates()
		require.NotEmpty(t, cands, "session %d", i)
		for _, cand := range cands {
			assert.Contains(t, cand, fmt.Sprintf(" %d typ host", port), "session %d", i)
		}
	}
	c := clients[1]
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "mux", "to": "+15550100002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State)
	c.ResetReceived()
	time.Sleep(1200 * time.Millisecond)
	pcm, _, _ := c.Received()
	require.Greater(t, len(pcm), 4000)
	assert.Greater(t, mediatest.ToneAmplitude(pcm[len(pcm)-4000:], 8000, trunkTone), 0.1)
}

// ready hands the configured STUN/TURN servers to the client.
func TestReadyHandsOutICEServers(t *testing.T) {
	servers := []config.ICEServer{{URLs: []string{"turn:turn.example.com:3478?transport=udp"}, Username: "u", Credential: "p"}}
	e := newEnv(t, func(c *config.Config) { c.WebRTC.ICEServers = servers })
	ctx := ctxT(t, 5*time.Second)
	c, err := sigclient.Dial(ctx, e.wsURL, e.token(t), sigclient.Options{})
	require.NoError(t, err)
	defer c.Close()
	require.Len(t, c.Ready.ICEServers, 1)
	var got config.ICEServer
	require.NoError(t, json.Unmarshal(c.Ready.ICEServers[0], &got))
	assert.Equal(t, servers[0], got)
}

// dialing: blocked ranges, allowed countries and the per-seat call rate
// refuse a call before any INVITE.
func TestDialingRules(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Dialing.AllowedCountries = []string{"US"}
		c.Dialing.BlockedPrefixes = []string{"+1900"}
		c.Dialing.CallsPerMinute = 1
	})
	c := e.client(t)
	for _, tc := range []struct{ to, code string }{
		{"+1 900 555 0100", "destination_not_allowed"},
		{"+44 20 7183 8750", "destination_not_allowed"},
		{"+1 876 555 1234", "destination_not_allowed"}, // Jamaica shares +1
	} {
		require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": tc.to, "to": tc.to}))
		er, err := c.NextError(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, tc.code, er.Code, "%s: %s", tc.to, er.Message)
		assert.Equal(t, tc.to, er.RequestID)
	}
	// One call a minute: the first goes through, the second is refused.
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "ok", "to": "+15550100002"}))
	ss := states(t, c, "answered")
	require.Equal(t, "answered", ss[len(ss)-1].State)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": ss[0].CallID}))
	states(t, c, "ended")
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "fast", "to": "+15550100002"}))
	er, err := c.NextError(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "rate_limited", er.Code)
	assert.Len(t, e.trunk.Calls(), 1, "only the allowed call reached the trunk")
}
