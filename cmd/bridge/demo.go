package main

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
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/demotrunk"
	"github.com/callbridge/callbridge/web"
	"github.com/callbridge/callbridge/webhook"
)

// Demo mode identities (docs/DEMO.md).
const (
	demoSeat     = "demo-agent"
	demoCallerID = "+15550100100"
	demoSIPUser  = "demo"
	demoSIPPass  = "demo-password"
)

// runDemo starts the bridge with the built-in SIP test trunk on loopback,
// a demo seat, and the demo CRM page. None of it exists when a config file
// is given.
func runDemo(stdout io.Writer) error {
	cfg := config.Default()
	if err := config.ApplyEnv(cfg, os.Environ()); err != nil {
		return err
	}
	cfg.Auth.TokenSecret = randomHex(32)
	// The demo keeps its call records in a scratch database of its own.
	dbDir, err := os.MkdirTemp("", "callbridge-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dbDir)
	cfg.Store.DSN = "sqlite://" + filepath.Join(dbDir, "demo.db")
	cfg.Auth.AdminToken = randomHex(16)
	log := newLogger(cfg.Log, os.Stderr)

	trunkConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo trunk: %w", err)
	}
	trunk, err := demotrunk.New(demotrunk.Options{
		Logger:   log.With("component", "demotrunk"),
		RTPHost:  "127.0.0.1",
		Username: demoSIPUser,
		Password: demoSIPPass,
	})
	if err != nil {
		return err
	}
	go func() { _ = trunk.Serve(context.Background(), trunkConn) }()

	sipConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.SIP.Listen = "udp:" + sipConn.LocalAddr().String()
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w (set BRIDGE_HTTP_LISTEN to another address)", cfg.HTTP.Listen, err)
	}
	cfg.HTTP.Listen = httpLn.Addr().String()
	cfg.SIP.Trunk = "sip:" + trunkConn.LocalAddr().String()
	cfg.SIP.RTPPorts = "31000-31999"
	cfg.Seats = []config.Seat{{
		ID:          demoSeat,
		SIPUsername: demoSIPUser,
		SIPPassword: demoSIPPass,
		CallerIDs:   []string{demoCallerID},
		Country:     "US",
		MaxCalls:    100, // the load generator places many calls at once
	}}
	// The demo numbers are the fictional 555-01xx range (number type
	// unknown), the demo's browser runs on the bridge's own host, and the
	// load generator opens many sessions and calls from one seat
	// (SECURITY.md: none of this is for production).
	cfg.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown}
	cfg.Dialing.CallsPerMinute = 0
	cfg.WebRTC.AllowLocalCandidates = true
	cfg.Limits.SessionsPerSeat = 0
	// Every demo client comes from loopback: per-address caps would cap
	// the load generator; the totals still hold.
	cfg.HTTP.MaxConnectionsPerIP = 0
	cfg.HTTP.MaxPendingWebSocketsPerIP = 0
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	cfg.Webhook.Secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	cfg.Webhook.AllowPrivate = true
	inbox := &demoInbox{secret: cfg.Webhook.Secret, log: log}

	ex := &extras{
		httpLn:  httpLn,
		sipConn: sipConn,
		routes: func(mux *http.ServeMux) {
			mux.Handle("GET "+web.DemoPrefix, web.Demo())
			mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, web.DemoPrefix, http.StatusFound)
			})
			mux.HandleFunc("GET /demo/token", func(w http.ResponseWriter, _ *http.Request) {
				tok, err := auth.Mint([]byte(cfg.Auth.TokenSecret), demoSeat, time.Hour, nil)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
			})
			mux.Handle("POST /demo/webhook", inbox)
			mux.HandleFunc("GET /demo/events", inbox.list)
		},
		cleanup: func() { _ = trunk.Close(); _ = trunkConn.Close() },
		banner: func(httpAddr string) string {
			return fmt.Sprintf(`
callbridge demo is running.

  Open  http://%s/demo/  and click a number:
    +1 555 010 0001  echo (you hear yourself)
    +1 555 010 0002  tone
    +1 555 010 0003  busy
    +1 555 010 0004  rings, never answers
    +1 555 010 0005  early media, then answer
    +1 555 010 0006  answers, hangs up after 3 s

  Admin token for /v1/admin/ and the stats page: %s
  Stop with Ctrl-C.
`, httpAddr, cfg.Auth.AdminToken)
		},
	}
	cfg.Webhook.URL = "http://" + cfg.HTTP.Listen + "/demo/webhook"
	if err := cfg.Validate(sections...); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	return serve(cfg, ex, stdout)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demoInbox is the demo's webhook receiver: it verifies each event's
// signature, as a CRM would, and keeps the last few for the demo page.
type demoInbox struct {
	secret string
	log    *slog.Logger
	mu     sync.Mutex
	events []json.RawMessage // guarded by mu
}

func (d *demoInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(d.secret, r.Header, body, 5*time.Minute); err != nil {
		d.log.Warn("demo webhook: bad signature", "error", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	d.mu.Lock()
	d.events = append(d.events, json.RawMessage(body))
	if len(d.events) > 50 {
		d.events = d.events[len(d.events)-50:]
	}
	d.mu.Unlock()
	d.log.Info("demo webhook received (signature verified)", "webhook_id", r.Header.Get("webhook-id"))
	w.WriteHeader(http.StatusNoContent)
}

func (d *demoInbox) list(w http.ResponseWriter, _ *http.Request) {
	d.mu.Lock()
	ev := append([]json.RawMessage{}, d.events...)
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ev)
}
