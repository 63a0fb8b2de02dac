//go:build e2e

package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/media/mediatest"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// Fixed identities of the bridge tests.
const (
	seatID      = "agent-7"
	seatUser    = "agent7"
	seatPass    = "s3cret-agent7"
	callerID    = "+14155550100"
	dialed      = "(415) 555-0123" // as an agent types it; seat country US
	dialedE164  = "+14155550123"
	tokenSecret = "e2e-token-secret-0123456789abcdef-0123456789"
	adminToken  = "e2e-admin-token-0123456789"
	// The webhook key: "whsec_" + base64 of 32 bytes.
	webhookSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// callTimeout bounds each wait for a call_state.
const callTimeout = 20 * time.Second

// testBridge is the bridge binary configured against one trunk, with a
// webhook receiver.
type testBridge struct {
	*harness.Bridge
	hooks *webhookSink
}

// startBridge runs the bridge binary with trunk (host:port) as its SIP
// trunk, loopback-only ICE, and a webhook receiver.
func startBridge(t *testing.T, trunk string) *testBridge {
	t.Helper()
	return startBridgeIn(t, nil, trunk, "127.0.0.1", "127.0.0.1")
}

// startBridgeIn runs the bridge inside ns (nil = root) with ICE on iceIP
// only, HTTP on httpHost, and its webhook receiver in the same namespace.
func startBridgeIn(t *testing.T, ns *harness.Netns, trunk, iceIP, httpHost string) *testBridge {
	t.Helper()
	hooks := newWebhookSink(t, ns)
	cfg := bridgeYAML(t, bridgeConfig{
		httpHost: httpHost, iceIP: iceIP, trunk: "sip:" + trunk, hookURL: hooks.URL + "/hooks",
		sip: map[string]string{"ring_timeout": "15s"},
	})
	return &testBridge{Bridge: harness.StartBridge(t, cfg, harness.BridgeInNetns(ns)), hooks: hooks}
}

// client connects a signaling client with its media session up, already
// streaming a 1 kHz Opus tone (SILK narrowband, what Chromium sends to the
// bridge's SDP) until the test ends.
func (b *testBridge) client(t *testing.T) *sigclient.Client {
	t.Helper()
	return connectClient(t, b.WSURL(), seatToken(t))
}

// seatToken mints a token for the test seat, as a CRM backend would.
func seatToken(t *testing.T) string {
	t.Helper()
	tok, err := auth.Mint([]byte(tokenSecret), seatID, time.Hour, nil)
	require.NoError(t, err)
	return tok
}

func connectClient(t *testing.T, wsURL, token string) *sigclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := sigclient.Dial(ctx, wsURL, token, sigclient.Options{ICEIPs: []string{"127.0.0.1"}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Connect(ctx), "media session")
	streamCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go c.StreamOpus(streamCtx, mediatest.OpusPackets(t, mediatest.FixtureSilkNB), 20*time.Millisecond)
	return c
}

// call places a call and returns its call_id with the states seen until
// want (or "ended", whichever comes first).
func call(t *testing.T, c *sigclient.Client, to, want string, metadata map[string]any) (string, []sigclient.CallState) {
	t.Helper()
	msg := map[string]any{"type": "call", "request_id": "req-1", "to": to}
	if metadata != nil {
		msg["metadata"] = metadata
	}
	require.NoError(t, c.Send(msg))
	return untilState(t, c, want)
}

// untilState reads call_state messages until want or ended.
func untilState(t *testing.T, c *sigclient.Client, want string) (string, []sigclient.CallState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var (
		seen   []sigclient.CallState
		callID string
	)
	for {
		m, err := c.Next(ctx, "call_state", "error")
		require.NoError(t, err, "waiting for %s after %v", want, stateNames(seen))
		if m.Type == "error" {
			var e sigclient.ErrorMsg
			require.NoError(t, m.Decode(&e))
			t.Fatalf("bridge refused: %s: %s", e.Code, e.Message)
		}
		var cs sigclient.CallState
		require.NoError(t, m.Decode(&cs))
		seen = append(seen, cs)
		callID = cs.CallID
		if cs.State == want || cs.State == "ended" {
			return callID, seen
		}
	}
}

func stateNames(states []sigclient.CallState) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = s.State
	}
	return out
}

// sleepAudio lets audio flow for the tone checks.
func sleepAudio() { time.Sleep(3 * time.Second) }

// received is the downlink audio the client decoded, from a fresh start.
func received(c *sigclient.Client) harness.Audio {
	pcm, _, _ := c.Received()
	return harness.AudioFromInt16(pcm, 8000)
}

// webhookSink receives webhook POSTs and verifies each signature per
// Standard Webhooks (computed here, independently of the bridge's code).
type webhookSink struct {
	URL string
	mu  sync.Mutex
	// events are the verified bodies; guarded by mu.
	events []map[string]any
	// bad counts requests whose signature did not verify; guarded by mu.
	bad int
}

// newWebhookSink listens on 127.0.0.1 inside ns (nil = root).
func newWebhookSink(t *testing.T, ns *harness.Netns) *webhookSink {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(webhookSecret, "whsec_"))
	require.NoError(t, err)
	s := &webhookSink{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		ok := false
		for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
			ok = ok || hmac.Equal([]byte(sig), []byte(want))
		}
		var ev map[string]any
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ok || id == "" || json.Unmarshal(body, &ev) != nil {
			s.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		s.events = append(s.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	require.NoError(t, ns.Do(func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err == nil {
			srv.Listener.Close()
			srv.Listener = l
		}
		return err
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// completed waits for the call.completed event of callID.
func (s *webhookSink) completed(t *testing.T, callID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, ev := range s.events {
			c, _ := ev["call"].(map[string]any)
			if ev["type"] == "call.completed" && c != nil && c["call_id"] == callID {
				s.mu.Unlock()
				return c
			}
		}
		bad := s.bad
		s.mu.Unlock()
		require.Zero(t, bad, "webhook requests with a bad signature")
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no call.completed for %s", callID)
	return nil
}

// bridgeConfig are the parts of the e2e bridge's YAML that tests vary;
// everything else (the test seat, secrets, codecs, debug logs) is fixed.
type bridgeConfig struct {
	httpHost  string            // default 127.0.0.1
	iceIP     string            // webrtc.ice_interfaces; default 127.0.0.1
	sipListen string            // default UDP on a free 127.0.0.1 port
	trunk     string            // sip.trunk, a SIP URI
	rtpPorts  int               // how many RTP ports; default 40
	sip       map[string]string // more sip.* keys, values in YAML
	hookURL   string            // webhook.url
	webhook   map[string]string // more webhook.* keys, values in YAML
	storeDSN  string            // default sqlite://bridge.db in the bridge's directory
}

// bridgeYAML renders c as the bridge's configuration file.
func bridgeYAML(t *testing.T, c bridgeConfig) string {
	t.Helper()
	if c.httpHost == "" {
		c.httpHost = "127.0.0.1"
	}
	if c.iceIP == "" {
		c.iceIP = "127.0.0.1"
	}
	if c.sipListen == "" {
		c.sipListen = fmt.Sprintf("udp:127.0.0.1:%d", harness.FreeUDPPort(t))
	}
	if c.rtpPorts == 0 {
		c.rtpPorts = 40
	}
	if c.storeDSN == "" {
		c.storeDSN = "sqlite://bridge.db"
	}
	lo := harness.FreeUDPRange(t, c.rtpPorts) &^ 1 // even (RFC 3550 §11)
	return fmt.Sprintf(`
http:
  listen: "%s:%d"
  allowed_origins: ["*"]
auth:
  token_secret: %q
  admin_token: %q
sip:
  listen: %q
  trunk: %q
  rtp_ports: "%d-%d"
  codecs: ["PCMU", "PCMA"]
%swebrtc:
  ice_interfaces: [%q]
  # Chromium runs on the bridge's host or in its namespace: its host
  # candidates are the bridge's own addresses.
  allow_local_candidates: true
dialing:
  allowed_number_types: ["unknown"]   # the fictional 555-01xx range
  calls_per_minute: 0
limits:
  sessions_per_seat: 0
seats:
  - id: %q
    sip_username: %q
    sip_password: %q
    caller_ids: [%q]
    country: "US"
webhook:
  url: %q
  secret: %q
  allow_private: true
%sstore:
  dsn: %q
log:
  level: debug
`, c.httpHost, harness.FreeTCPPort(t), tokenSecret, adminToken, c.sipListen, c.trunk, lo, lo+c.rtpPorts-1,
		yamlKeys(c.sip), c.iceIP, seatID, seatUser, seatPass, callerID, c.hookURL, webhookSecret,
		yamlKeys(c.webhook), c.storeDSN)
}

// yamlKeys renders extra keys of a section, indented, in a stable order.
func yamlKeys(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %s\n", k, m[k])
	}
	return b.String()
}
