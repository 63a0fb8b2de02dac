//go:build e2e

package e2e

// Demo mode of the real binary: `bridge` with no config, as the README's
// first command runs it. The built-in test trunk's numbers behave as the
// banner says.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

func TestDemoModeBinary(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreeTCPPort(t))
	b := harness.StartBridge(t, "",
		harness.BridgeEnv("BRIDGE_HTTP_LISTEN="+addr, "BRIDGE_WEBRTC_ICE_INTERFACES=127.0.0.1", "BRIDGE_LOG_LEVEL=debug"),
		harness.BridgeHTTPAddr(addr))
	b.WaitLog(t, "http://"+addr+"/demo/", callTimeout)

	hc := b.HTTPClient()
	resp, err := hc.Get(b.URL() + "/demo/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), "tel:")

	resp, err = hc.Get(b.URL() + "/demo/token")
	require.NoError(t, err)
	var tok struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(t, tok.Token)

	c := connectClient(t, b.WSURL(), tok.Token)
	for _, tc := range []struct {
		name   string
		to     string
		hearHz float64 // 0: the call must not be answered
		code   int     // cause.sip_code when not answered
	}{
		{name: "tone", to: "+1 555 010 0002", hearHz: 440},
		{name: "echo", to: "+1 555 010 0001", hearHz: clientHz},
		{name: "busy", to: "+1 555 010 0003", code: 486},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := "answered"
			if tc.hearHz == 0 {
				want = "ended"
			}
			callID, states := call(t, c, tc.to, want, nil)
			end := states[len(states)-1]
			if tc.hearHz == 0 {
				require.Equal(t, "ended", end.State)
				require.NotNil(t, end.Cause)
				assert.Equal(t, tc.code, end.Cause.SIPCode)
				return
			}
			require.Equal(t, "answered", end.State, "states: %v", stateNames(states))
			c.ResetReceived()
			sleepAudio()
			requireTone(t, received(c), tc.hearHz, 440, clientHz, farHz)
			require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
			_, states = untilState(t, c, "ended")
			require.Equal(t, "ended", states[len(states)-1].State)
		})
	}
}
