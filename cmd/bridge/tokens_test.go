package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

func (r *running) admin(t *testing.T, method, path, reqBody string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(reqBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+r.cfg.Auth.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// Revoking a seat or a token id through the admin API closes the sessions
// they opened and refuses the tokens from then on.
func TestRevocationClosesLiveSessions(t *testing.T) {
	r := startBridge(t, nil)
	wsURL := "ws://" + r.addr + "/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name string
		body func(jti string) string
	}{
		{"by token id", func(jti string) string { return `{"token_id":"` + jti + `"}` }},
		{"by seat", func(string) string { return `{"seat":"agent-7"}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := r.token(t)
			c, err := sigclient.Dial(ctx, wsURL, tok, sigclient.Options{})
			require.NoError(t, err)
			defer c.Close()

			resp, _ := r.admin(t, http.MethodPost, "/v1/admin/revocations", tc.body(jtiOf(t, tok)))
			require.Equal(t, http.StatusCreated, resp.StatusCode)

			e, err := c.NextError(ctx)
			require.NoError(t, err)
			assert.Equal(t, "token_revoked", e.Code)
			_, err = c.Next(ctx, "never")
			require.ErrorContains(t, err, "socket closed", "the session is closed")

			_, err = sigclient.Dial(ctx, wsURL, tok, sigclient.Options{})
			require.ErrorContains(t, err, "revoked", "the token is refused from then on")
		})
	}
	resp, body := r.admin(t, http.MethodGet, "/v1/admin/revocations", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Revocations []map[string]any `json:"revocations"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Len(t, list.Revocations, 2)

	for _, bad := range []string{`{}`, `{"seat":"agent-7","token_id":"x"}`, `{"seat":"nobody"}`, `{"colour":"red"}`} {
		resp, _ := r.admin(t, http.MethodPost, "/v1/admin/revocations", bad)
		assert.GreaterOrEqual(t, resp.StatusCode, 400, bad)
	}
}

// With single-use tokens, a token opens one session only.
func TestSingleUseTokens(t *testing.T) {
	r := startBridge(t, func(c *config.Config) { c.Auth.SingleUseTokens = true })
	wsURL := "ws://" + r.addr + "/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok := r.token(t)
	c, err := sigclient.Dial(ctx, wsURL, tok, sigclient.Options{})
	require.NoError(t, err)
	c.Close()
	_, err = sigclient.Dial(ctx, wsURL, tok, sigclient.Options{})
	require.ErrorContains(t, err, "already used")
}

func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var claims struct {
		JTI string `json:"jti"`
	}
	raw, err := decodeSegment(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &claims))
	require.NotEmpty(t, claims.JTI)
	return claims.JTI
}

// /metrics answers only with metrics.token, or only on metrics.listen.
func TestMetricsAuth(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		r := startBridge(t, func(c *config.Config) { c.Metrics.Token = "metrics-token-0123456789" })
		resp, err := http.Get("http://" + r.addr + "/metrics")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Zero(t, r.metric(t, "callbridge_sessions_active"), "with the token it answers (metric asserts 200)")
	})
	t.Run("separate listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		r := startBridge(t, func(c *config.Config) { c.Metrics.Listen = addr })
		resp, err := http.Get("http://" + r.addr + "/metrics")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "not on http.listen")
		waitFor(t, "metrics.listen answers", func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	})
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
