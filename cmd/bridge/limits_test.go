package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// running is a bridge started by serve, as main starts it, on loopback.
type running struct {
	cfg  *config.Config
	addr string // HTTP host:port
}

// startBridge runs serve with a loopback configuration adjusted by mutate,
// until the test ends.
func startBridge(t *testing.T, mutate func(*config.Config)) *running {
	t.Helper()
	cfg := config.Default()
	cfg.Auth.TokenSecret = testSecret
	cfg.Auth.AdminToken = "admin-token-0123456789"
	cfg.SIP.Listen = "udp:127.0.0.1:0"
	cfg.SIP.Trunk = "sip:127.0.0.1:9"
	cfg.SIP.OptionsInterval = 0
	cfg.SIP.RTPPorts = "32000-32099"
	cfg.WebRTC.ICEInterfaces = []string{"127.0.0.1"}
	cfg.Store.DSN = "sqlite://" + filepath.Join(t.TempDir(), "bridge.db")
	cfg.Log.Level = "error"
	cfg.Seats = []config.Seat{{ID: "agent-7", CallerIDs: []string{"+14155550100"}, Country: "US"}}
	if mutate != nil {
		mutate(cfg)
	}
	cfg.SetDefaults()
	require.NoError(t, cfg.Validate())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(cfg, &extras{ctx: ctx, httpLn: ln}, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	r := &running{cfg: cfg, addr: ln.Addr().String()}
	waitFor(t, "the bridge answers /healthz", func() bool {
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// waitFor polls cond until it holds; the deadline only guards a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric reads one sample of /metrics (0 when absent).
func (r *running) metric(t *testing.T, series string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+"/metrics", nil)
	if r.cfg.Metrics.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.Metrics.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "/metrics")
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return 0
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (r *running) token(t *testing.T) string {
	t.Helper()
	tok, err := auth.Mint([]byte(testSecret), "agent-7", time.Hour, nil)
	require.NoError(t, err)
	return tok
}

// A flood of idle connections and of WebSockets that never say hello,
// from other addresses, is capped, and a real client is still served.
func TestConnectionFloodIsCapped(t *testing.T) {
	r := startBridge(t, func(c *config.Config) {
		c.HTTP.MaxConnections = 200
		c.HTTP.MaxConnectionsPerIP = 20
		c.HTTP.MaxPendingWebSockets = 50
		c.HTTP.MaxPendingWebSocketsPerIP = 4
	})

	const flood = 60
	for range flood {
		dialFrom(t, "127.0.0.2", r.addr)
	}
	waitFor(t, "the connections over the per-address cap are refused", func() bool {
		return r.metric(t, `callbridge_http_connections_refused_total{reason="per_ip"}`) == flood-20
	})

	resp, err := http.Get("http://" + r.addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a client from another address is served")

	wsURL := "ws://" + r.addr + "/v1/ws"
	from3 := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).DialContext}
	for range 4 {
		ws, _, err := from3.Dial(wsURL, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ws.Close() })
	}
	_, resp, err = from3.Dial(wsURL, nil)
	require.Error(t, err, "a fifth socket without hello from one address is refused")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)

	c, err := sigclient.Dial(context.Background(), wsURL, r.token(t), sigclient.Options{})
	require.NoError(t, err, "a real client still gets a session")
	defer c.Close()
	assert.Equal(t, "agent-7", c.Ready.Seat)
}

// The total cap holds against many addresses.
func TestConnectionTotalCap(t *testing.T) {
	r := startBridge(t, func(c *config.Config) {
		c.HTTP.MaxConnections = 10
		c.HTTP.MaxConnectionsPerIP = 0
		c.HTTP.ReadHeaderTimeout = time.Second
	})
	for i := range 15 {
		dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), r.addr)
	}
	// A scrape needs a slot too: it gets one once the header timeout has
	// closed the flood's idle connections; the refusals are counted before.
	var refused float64
	waitFor(t, "connections over the total cap are refused", func() bool {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_, _ = io.WriteString(c, "GET /metrics HTTP/1.0\r\n\r\n")
		body, _ := io.ReadAll(c)
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, `callbridge_http_connections_refused_total{reason="total"} `); ok {
				refused, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		return refused >= 5
	})
	assert.GreaterOrEqual(t, refused, 5.0)
}

// Idle keep-alive connections and connections that never send a request
// are closed by the server.
func TestIdleConnectionsAreClosed(t *testing.T) {
	r := startBridge(t, func(c *config.Config) {
		c.HTTP.IdleTimeout = 300 * time.Millisecond
		c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	})
	keepAlive := dialFrom(t, "127.0.0.1", r.addr)
	_, err := io.WriteString(keepAlive, "GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(keepAlive)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	silent := dialFrom(t, "127.0.0.1", r.addr)

	for name, c := range map[string]io.Reader{"keep-alive": br, "silent": silent} {
		_ = keepAlive.SetReadDeadline(time.Now().Add(20 * time.Second)) // guards a hung test only
		_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "%s connection closed by the server", name)
	}
}
