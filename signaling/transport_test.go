package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

func dialRaw(t *testing.T, url string, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// closeCode reads until the socket closes and returns the close code.
func closeCode(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if ok := asCloseError(err, &ce); ok {
				return ce.Code
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

func TestTransport(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.HTTP.AllowedOrigins = []string{"https://crm.example.com"} })

	t.Run("no hello in time closes 4401", func(t *testing.T) {
		ws, _, err := dialRaw(t, e.wsURL, "")
		require.NoError(t, err)
		assert.Equal(t, 4401, closeCode(t, ws))
	})
	t.Run("bad token: unauthorized then 4401", func(t *testing.T) {
		ws, _, err := dialRaw(t, e.wsURL, "")
		require.NoError(t, err)
		require.NoError(t, ws.WriteJSON(map[string]any{"type": "hello", "token": "not-a-jwt"}))
		var m map[string]any
		require.NoError(t, ws.ReadJSON(&m))
		assert.Equal(t, "error", m["type"])
		assert.Equal(t, "unauthorized", m["code"])
		assert.Equal(t, 4401, closeCode(t, ws))
	})
	t.Run("expired token", func(t *testing.T) {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": seatID, "exp": time.Now().Add(-time.Minute).Unix(), "iat": time.Now().Add(-time.Hour).Unix(),
		}).SignedString([]byte(e.cfg.Auth.TokenSecret))
		require.NoError(t, err)
		_, err = sigclient.Dial(context.Background(), e.wsURL, tok, sigclient.Options{})
		require.ErrorContains(t, err, "unauthorized")
	})
	t.Run("unknown seat", func(t *testing.T) {
		tok, err := auth.Mint([]byte(e.cfg.Auth.TokenSecret), "nobody", time.Hour, nil)
		require.NoError(t, err)
		_, err = sigclient.Dial(context.Background(), e.wsURL, tok, sigclient.Options{})
		require.ErrorContains(t, err, "unauthorized")
	})
	t.Run("oversized frame closes 4400", func(t *testing.T) {
		ws, _, err := dialRaw(t, e.wsURL, "")
		require.NoError(t, err)
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","token":"`+strings.Repeat("a", 70<<10)+`"}`)))
		assert.Equal(t, 4400, closeCode(t, ws))
	})
	t.Run("non-JSON before hello closes 4400", func(t *testing.T) {
		ws, _, err := dialRaw(t, e.wsURL, "")
		require.NoError(t, err)
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("hello?")))
		assert.Equal(t, 4400, closeCode(t, ws))
	})
	t.Run("other type before hello closes 4400", func(t *testing.T) {
		ws, _, err := dialRaw(t, e.wsURL, "")
		require.NoError(t, err)
		require.NoError(t, ws.WriteJSON(map[string]any{"type": "call", "to": "+15550100001"}))
		assert.Equal(t, 4400, closeCode(t, ws))
	})
	t.Run("foreign origin refused with 403", func(t *testing.T) {
		_, resp, err := dialRaw(t, e.wsURL, "https://evil.example.com")
		require.Error(t, err)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	t.Run("a refused page can read why", func(t *testing.T) {
		// What the widget does after its handshake failed: a plain GET in
		// CORS mode, readable only with Access-Control-Allow-Origin.
		req, err := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(e.wsURL, "ws"), nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "https://evil.example.com")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "https://evil.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
		var body struct{ Code, Message string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		assert.Equal(t, "origin_not_allowed", body.Code)
		assert.Contains(t, body.Message, "http.allowed_origins")
	})
	t.Run("an allowed page learns nothing from a plain GET", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(e.wsURL, "ws"), nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "https://crm.example.com")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("allowed origin accepted", func(t *testing.T) {
		c, err := sigclient.Dial(context.Background(), e.wsURL, e.token(t), sigclient.Options{Origin: "https://crm.example.com"})
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, seatID, c.Ready.Seat)
		assert.Equal(t, []string{callerID, callerID2}, c.Ready.CallerIDs)
		assert.NotEmpty(t, c.Ready.SessionID)
	})
	t.Run("token caller_ids narrow the seat's", func(t *testing.T) {
		c, err := sigclient.Dial(context.Background(), e.wsURL, e.token(t, callerID2), sigclient.Options{})
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, []string{callerID2}, c.Ready.CallerIDs)
	})
	// After all that abuse the bridge still serves a session.
	c, err := sigclient.Dial(context.Background(), e.wsURL, e.token(t), sigclient.Options{})
	require.NoError(t, err)
	c.Close()
}

// A candidate trickled ahead of its offer is kept for the offer, not refused.
func TestCandidateBeforeOffer(t *testing.T) {
	e := newEnv(t, nil)
	ws, _, err := dialRaw(t, e.wsURL, "")
	require.NoError(t, err)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "hello", "token": e.token(t)}))
	var ready map[string]any
	require.NoError(t, ws.ReadJSON(&ready))
	require.Equal(t, "ready", ready["type"])

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer pc.Close()
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)

	require.NoError(t, ws.WriteJSON(map[string]any{"type": "candidate", "candidate": map[string]any{
		"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}))
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "offer", "sdp": offer.SDP}))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m map[string]any
		require.NoError(t, ws.ReadJSON(&m))
		if m["type"] == "candidate" {
			continue
		}
		require.Equal(t, "answer", m["type"], "got %v", m)
		return
	}
}
