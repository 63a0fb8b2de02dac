//go:build e2e

package e2e

// Scale-out (OPERATIONS.md, "Sizing and scaling"): two bridge nodes behind
// HAProxy (Debian's haproxy, round robin, a cookie for stickiness), sharing
// one PostgreSQL store. Calls go through both nodes; a node killed mid-call
// leaves its call recorded as interrupted (the other node takes it over
// when the dead node's heartbeat goes stale) while the other node keeps its
// own call and takes new ones.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
)

// The second seat of the scale-out test: one call at a time.
const (
	oneCallSeat     = "agent-8"
	oneCallCallerID = "+14155550101"
)

// takeoverWait bounds the wait for the surviving node to complete the dead
// node's call: its own heartbeat must have held for 4 heartbeats (60 s)
// and the dead node's for as long.
const takeoverWait = 150 * time.Second

func TestScaleOutBehindHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if pgtest.UnderCI() {
			t.Fatal("haproxy is not installed (Debian package haproxy)")
		}
		t.Skip("haproxy is not installed")
	}
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	harness.BuildBridge(t)

	// The trunk answers every INVITE and sends no media: calls stay up
	// (sip.media_timeout 0) until hung up.
	media, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = media.Close() })
	far := siptest.Start(t, siptest.Script{RTPPort: media.LocalAddr().(*net.UDPAddr).Port})

	hooks := newCrashReceiver(t, holdNone)
	nodes := map[string]*harness.Bridge{}
	var servers []string
	for _, id := range []string{"node-a", "node-b"} {
		cfg := bridgeYAML(t, bridgeConfig{trunk: "sip:" + far.Addr, hookURL: hooks.URL, storeDSN: dsn,
			sip: map[string]string{"media_timeout": "0s", "ring_timeout": "15s"}})
		// agent-7 may have three calls: the live node still counts the
		// dead node's call until that node's heartbeat is stale. The
		// second seat has one call, across both nodes.
		seats := fmt.Sprintf(`[{"id":%q,"sip_username":%q,"sip_password":%q,"caller_ids":[%q],"country":"US","max_calls":3},`+
			`{"id":%q,"caller_ids":[%q],"country":"US","max_calls":1}]`,
			seatID, seatUser, seatPass, callerID, oneCallSeat, oneCallCallerID)
		b := harness.StartBridge(t, cfg, harness.BridgeEnv("BRIDGE_STORE_NODE_ID="+id, "BRIDGE_SEATS="+seats))
		nodes[id] = b
		servers = append(servers, fmt.Sprintf("  server %s %s check cookie %s", id, b.HTTPAddr, id))
	}

	lbAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreeTCPPort(t))
	lbCfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(lbCfg, []byte(`global
  maxconn 200
defaults
  mode http
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  retries 3
  option redispatch
frontend bridges
  bind `+lbAddr+`
  default_backend bridges
backend bridges
  balance roundrobin
  cookie CBNODE insert indirect nocache
  option httpchk GET /metrics
  default-server inter 300ms fall 2 rise 1
`+strings.Join(servers, "\n")+"\n"), 0o600))
	lb := exec.Command(haproxy, "-f", lbCfg, "-db")
	var lbLog strings.Builder
	lb.Stdout, lb.Stderr = &lbLog, &lbLog
	require.NoError(t, lb.Start())
	t.Cleanup(func() {
		_ = lb.Process.Kill()
		_ = lb.Wait()
		if t.Failed() {
			t.Logf("haproxy:\n%s", lbLog.String())
		}
	})
	waitUntil(t, 20*time.Second, func() bool {
		res, err := http.Get("http://" + lbAddr + "/metrics")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, func() string { return "haproxy serving " + lbAddr })
	wsURL := "ws://" + lbAddr + "/v1/ws"

	// Two agents through the balancer: one call on each node.
	ca := connectClient(t, wsURL, seatToken(t))
	callA, _ := call(t, ca, dialedE164, "answered", nil)
	cb := connectClient(t, wsURL, seatToken(t))
	callB, _ := call(t, cb, dialedE164, "answered", nil)
	nodeOf := func(callID string) string {
		for id, b := range nodes {
			var page struct {
				Calls []struct {
					ID string `json:"call_id"`
				} `json:"calls"`
			}
			if adminGetJSON(t, b, "/v1/admin/calls", &page) != nil {
				continue
			}
			for _, c := range page.Calls {
				if c.ID == callID {
					return id
				}
			}
		}
		return ""
	}
	nodeA, nodeB := nodeOf(callA), nodeOf(callB)
	require.NotEmpty(t, nodeA, "call %s on no node", callA)
	require.NotEmpty(t, nodeB, "call %s on no node", callB)
	require.NotEqual(t, nodeA, nodeB, "round robin put both calls on %s", nodeA)

	// seats[].max_calls holds across nodes: the one-call seat's call on
	// one node makes the other node refuse its second call.
	oneTok, err := auth.Mint([]byte(tokenSecret), oneCallSeat, time.Hour, nil)
	require.NoError(t, err)
	cd := connectClient(t, nodes[nodeA].WSURL(), oneTok)
	callD, _ := call(t, cd, dialedE164, "answered", nil)
	ce := connectClient(t, nodes[nodeB].WSURL(), oneTok)
	require.NoError(t, ce.Send(map[string]any{"type": "call", "request_id": "second", "to": dialedE164}))
	refusal, err := ce.NextError(ctxTimeout(t, callTimeout))
	require.NoError(t, err)
	assert.Equal(t, "too_many_calls", refusal.Code, refusal.Message)
	require.NoError(t, cd.Send(map[string]any{"type": "hangup", "call_id": callD}))
	untilState(t, cd, "ended")

	// Kill the first call's node mid-call.
	require.NoError(t, nodes[nodeA].Kill())

	// The other node keeps its call and takes new ones through the
	// balancer (which has marked the dead node down or redispatches).
	cc := connectClient(t, wsURL, seatToken(t))
	callC, _ := call(t, cc, dialedE164, "answered", nil)
	assert.Equal(t, nodeB, nodeOf(callC), "the new call went to the live node")
	assert.Equal(t, nodeB, nodeOf(callB), "the live node's call is still up")

	// The dead node's call is completed as interrupted by the live one.
	var done map[string]any
	waitUntil(t, takeoverWait, func() bool {
		for _, a := range hooks.delivered(callA) {
			if a.Type == record.TypeCompleted {
				done = a.Call
				return true
			}
		}
		return false
	}, func() string { return "call.completed of " + callA + " from the surviving node" })
	assert.Equal(t, record.StatusFailed, done["status"])
	assert.Equal(t, true, done["interrupted"], "call.completed of %v", done)

	// The live node's calls end normally, recorded as completed.
	for _, x := range []struct {
		c  interface{ Send(any) error }
		id string
	}{{cb, callB}, {cc, callC}} {
		require.NoError(t, x.c.Send(map[string]any{"type": "hangup", "call_id": x.id}))
	}
	for _, id := range []string{callB, callC} {
		waitUntil(t, crashWait, func() bool {
			for _, a := range hooks.delivered(id) {
				if a.Type == record.TypeCompleted {
					assert.Equal(t, "completed", a.Call["status"], "call %s", id)
					assert.Nil(t, a.Call["interrupted"], "call %s", id)
					return true
				}
			}
			return false
		}, func() string { return "call.completed of " + id })
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// adminGetJSON GETs an operator API path of b into v.
func adminGetJSON(t *testing.T, b *harness.Bridge, path string, v any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.URL()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := b.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(v)
}
