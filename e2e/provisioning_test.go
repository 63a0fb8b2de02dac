//go:build e2e

package e2e

// Provisioning across bridge processes: two bridge binaries share one
// PostgreSQL store; a seat made through one's API calls through the other
// at once, and disabling it closes its sessions on both.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/signaling"
	"github.com/callbridge/callbridge/signaling/sigclient"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
)

// adminDo sends an admin API request to b and decodes the JSON reply into out (if not nil).
func adminDo(t *testing.T, b *harness.Bridge, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.URL()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("X-Actor", "e2e")
	resp, err := b.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	}
	return resp.StatusCode
}

// waitSeatClosed waits for the seat_unavailable error and the socket's end.
func waitSeatClosed(t *testing.T, c *sigclient.Client, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	em, err := c.NextError(ctx)
	require.NoError(t, err, "node %s: no error before the socket closed", node)
	assert.Equal(t, signaling.CodeSeatUnavailable, em.Code, "node %s", node)
	for {
		if _, err := c.Next(ctx, "no-such-type"); err != nil {
			require.ErrorContains(t, err, "socket closed", "node %s", node)
			return
		}
	}
}

func TestProvisionedSeatAcrossNodes(t *testing.T) {
	harness.BuildBridge(t)
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	uas, port := sippTrunk(t, "uas", "-rtp_echo")
	trunk := fmt.Sprintf("sip:127.0.0.1:%d", port)

	start := func(node string) *testBridge {
		hooks := newWebhookSink(t, nil)
		cfg := bridgeYAML(t, bridgeConfig{trunk: trunk, hookURL: hooks.URL + "/hooks", storeDSN: dsn,
			sip:    map[string]string{"ring_timeout": "15s", "options_interval": "0s"},
			nodeID: node, extra: "provisioning:\n  poll_interval: 1s\n",
		})
		return &testBridge{Bridge: harness.StartBridge(t, cfg), hooks: hooks}
	}
	a, b := start("node-a"), start("node-b")

	// The CRM creates a seat on node A ...
	var seat map[string]any
	status := adminDo(t, a.Bridge, "POST", "/v1/admin/seats", map[string]any{
		"id": "agent-new", "dids": []string{"+14155550190"}, "country": "US",
	}, &seat)
	require.Equal(t, http.StatusCreated, status, "%v", seat)

	// ... and the agent calls through node B at once.
	tok, err := auth.Mint([]byte(tokenSecret), "agent-new", time.Hour, nil)
	require.NoError(t, err)
	cb := connectClient(t, b.WSURL(), tok)
	callID, states := call(t, cb, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
	assert.Equal(t, "+14155550190", states[0].From, "the new seat's DID")
	waitSIP(t, uas, "< INVITE")

	// A second session of the seat on node A.
	ca := connectClient(t, a.WSURL(), tok)

	// Disabled through node B: both nodes close the seat's sessions, and
	// the call on B ends.
	status = adminDo(t, b.Bridge, "POST", "/v1/admin/seats/agent-new/disable", nil, &seat)
	require.Equal(t, http.StatusOK, status, "%v", seat)
	waitSeatClosed(t, cb, "b")
	waitSeatClosed(t, ca, "a")
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "agent-new", ev["seat"])

	// The audit log, read through either node, says who did what.
	var log struct {
		Entries []map[string]any `json:"entries"`
	}
	require.Equal(t, http.StatusOK, adminDo(t, a.Bridge, "GET", "/v1/admin/audit?kind=seat&key=agent-new", nil, &log))
	require.Len(t, log.Entries, 2)
	assert.Equal(t, "disable", log.Entries[0]["action"])
	assert.Equal(t, "admin:e2e", log.Entries[0]["actor"])
	assert.Equal(t, "create", log.Entries[1]["action"])

	// A disabled seat's token is refused on both nodes.
	for _, n := range []*testBridge{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := sigclient.Dial(ctx, n.WSURL(), tok, sigclient.Options{ICEIPs: []string{"127.0.0.1"}})
		cancel()
		require.Error(t, err)
	}
}
