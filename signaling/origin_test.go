package signaling_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
)

// Same-origin mode: a page whose name was rebound to the bridge's address
// sends Origin and Host of its own name; only listed names pass.
func TestSameOriginRefusesRebinding(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.HTTP.Hostnames = []string{"bridge.example.com"} })
	port := e.http.URL[strings.LastIndex(e.http.URL, ":")+1:]
	dial := func(host string) int {
		h := http.Header{}
		h.Set("Origin", "http://"+host)
		h.Set("Host", host)
		ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL, h)
		if err == nil {
			ws.Close()
			return http.StatusSwitchingProtocols
		}
		require.NotNil(t, resp, err)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, dial("evil.example:"+port), "a rebound name")
	assert.Equal(t, http.StatusSwitchingProtocols, dial("bridge.example.com:"+port), "a listed name")
	assert.Equal(t, http.StatusSwitchingProtocols, dial("127.0.0.1:"+port), "an IP literal")
	assert.Equal(t, http.StatusSwitchingProtocols, dial("localhost:"+port), "localhost")
}
