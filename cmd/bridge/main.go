// Command bridge runs callbridge: a WebRTC softphone widget on one side, a
// SIP trunk on the other. With no configuration it starts a demo with a
// built-in SIP test trunk on loopback.
//
//	bridge [--config FILE]                  run (demo mode without a config)
//	bridge token --seat ID [--ttl 1h]       print a seat token for development
//	bridge version
//	bridge help
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/diag"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/signaling"
	"github.com/callbridge/callbridge/store/backend"
	"github.com/callbridge/callbridge/web"
	"github.com/callbridge/callbridge/webhook"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h among the run flags: usage printed
		}
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

// usage is what `bridge --help` prints.
const usage = `callbridge: a WebRTC softphone widget on one side, a SIP trunk on the other.

Usage:
  bridge [--config FILE]      run the bridge; with no configuration, a demo
                              with a built-in SIP test trunk on loopback
  bridge token --seat ID [--ttl 1h] [--caller-ids +1…,+1…] [--config FILE]
                              print a seat token (for testing; your CRM
                              backend mints them in production)
  bridge version              print the version
  bridge help                 print this help

The configuration file comes from --config or BRIDGE_CONFIG; every key can
also be set with its BRIDGE_* environment variable (docs/CONFIG.md).
`

// defaultConfigPaths are where `bridge token` looks for the configuration
// when neither --config, BRIDGE_CONFIG nor BRIDGE_AUTH_TOKEN_SECRET is set:
// the file the README's commands use, then the container's.
var defaultConfigPaths = []string{"bridge.yaml", "/etc/callbridge/bridge.yaml"}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return runToken(args[1:], stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "callbridge", version, "widget", web.WidgetVersion())
			return nil
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fs.String("config", os.Getenv("BRIDGE_CONFIG"), "YAML configuration file (env BRIDGE_CONFIG); none = demo mode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unknown command %q", fs.Arg(0))
	}
	if *cfgPath == "" {
		return runDemo(stdout)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(sections...); err != nil {
		return fmt.Errorf("%s:\n%w", *cfgPath, err)
	}
	return serve(cfg, nil, stdout)
}

// runToken prints a seat token: bridge token --seat ID [--ttl 1h].
func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seat := fs.String("seat", "", "seat id (required)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	cfgPath := fs.String("config", os.Getenv("BRIDGE_CONFIG"), "configuration file with auth.token_secret (default ./bridge.yaml, then /etc/callbridge/bridge.yaml)")
	callerIDs := fs.String("caller-ids", "", "comma-separated subset of the seat's caller ids")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *seat == "" {
		return errors.New("token: --seat is required")
	}
	secret := os.Getenv("BRIDGE_AUTH_TOKEN_SECRET")
	if *cfgPath == "" && secret == "" {
		for _, p := range defaultConfigPaths {
			if _, err := os.Stat(p); err == nil {
				*cfgPath = p
				break
			}
		}
	}
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		secret = cfg.Auth.TokenSecret
		if _, ok := cfg.Seat(*seat); !ok {
			return fmt.Errorf("token: no seat %q in %s", *seat, *cfgPath)
		}
	}
	if secret == "" {
		return fmt.Errorf("token: no configuration: give --config FILE (none at %s) or set BRIDGE_AUTH_TOKEN_SECRET", strings.Join(defaultConfigPaths, " or "))
	}
	var ids []string
	if *callerIDs != "" {
		ids = strings.Split(*callerIDs, ",")
	}
	tok, err := auth.Mint([]byte(secret), *seat, *ttl, ids)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// extras are what demo mode adds to the HTTP server.
type extras struct {
	ctx     context.Context // ends the server like SIGINT; nil = signals only (tests)
	httpLn  net.Listener    // pre-bound HTTP listener, or nil
	sipConn net.PacketConn  // pre-bound SIP socket, or nil
	routes  func(mux *http.ServeMux)
	cleanup func()
	banner  func(httpAddr string) string
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve wires and runs everything until SIGTERM (drain) or SIGINT (stop).
func serve(cfg *config.Config, ex *extras, stdout io.Writer) error {
	log := newLogger(cfg.Log, os.Stderr)
	// sipgo logs a few lines through its package logger; same format as ours.
	sip.SetDefaultLogger(log.With("component", "sip"))
	parent := context.Background()
	if ex != nil && ex.ctx != nil {
		parent = ex.ctx
	}
	ctx, stop := context.WithCancel(parent)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Call records and the webhook outbox: committed to the store before
	// anything else happens to them, delivered from there (WEBHOOKS.md).
	st, err := backend.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return fmt.Errorf("store.dsn: %w", err)
	}
	defer st.Close()
	outbox, err := webhook.NewOutbox(ctx, st, webhook.ConfigFrom(cfg), log.With("component", "webhook"))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = outbox.Close(dctx)
	}()
	var events record.Publisher = outbox
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "callbridge", Name: "store_up",
		Help: "1 while the store takes writes; 0 while call events are held in memory and new calls refused.",
	}, func() float64 {
		if outbox.Healthy() != nil {
			return 0
		}
		return 1
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "callbridge", Name: "store_held_events",
		Help: "Call events waiting in memory for the store to write again.",
	}, func() float64 { return float64(outbox.Held()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "callbridge", Name: "webhook_template_fallbacks_total",
		Help: "Webhook events sent with the standard body because webhook.template failed on them.",
	}, func() float64 { return float64(outbox.TemplateFallbacks()) }))

	b, err := bridge.New(cfg, bridge.WithLogger(log), bridge.WithEvents(events), bridge.WithMetrics(bridge.NewMetrics(reg)))
	if err != nil {
		return err
	}
	defer b.Close()

	transport, host, port := cfg.SIP.ListenParts()
	sipAddr := net.JoinHostPort(host, fmt.Sprint(port))
	switch {
	case ex != nil && ex.sipConn != nil:
		go func() { _ = b.ServeSIP(ex.sipConn) }()
		defer ex.sipConn.Close()
	case transport == "tls":
		if b.TLSConfig() == nil || len(b.TLSConfig().Certificates) == 0 {
			return fmt.Errorf("sip.listen %s: a tls listener needs sip.tls.cert_file and key_file", cfg.SIP.Listen)
		}
		l, err := tls.Listen("tcp", sipAddr, b.TLSConfig())
		if err != nil {
			return fmt.Errorf("sip.listen %s: %w", cfg.SIP.Listen, err)
		}
		go func() { _ = b.ServeSIPTLS(l) }()
		defer l.Close()
	case transport == "tcp":
		l, err := net.Listen("tcp", sipAddr)
		if err != nil {
			return fmt.Errorf("sip.listen %s: %w", cfg.SIP.Listen, err)
		}
		go func() { _ = b.ServeSIPStream(l) }()
		defer l.Close()
	default:
		pc, err := net.ListenPacket("udp", sipAddr)
		if err != nil {
			return fmt.Errorf("sip.listen %s: %w", cfg.SIP.Listen, err)
		}
		go func() { _ = b.ServeSIP(pc) }()
		defer pc.Close()
	}

	go b.ProbeTrunk(ctx)

	var mux net.PacketConn
	if cfg.WebRTC.UDPPort != 0 {
		mux, err = net.ListenPacket("udp", fmt.Sprintf(":%d", cfg.WebRTC.UDPPort))
		if err != nil {
			return fmt.Errorf("webrtc.udp_port %d: %w", cfg.WebRTC.UDPPort, err)
		}
		defer mux.Close()
	}
	api, err := signaling.NewAPI(cfg.WebRTC, log, mux)
	if err != nil {
		return err
	}
	tokens := auth.NewGuard(cfg.Auth.MaxTokenLifetime, cfg.Auth.ClockSkew, nil)
	sig := signaling.Handler(signaling.Options{
		Bridge:          b,
		API:             api,
		AllowedOrigins:  cfg.HTTP.AllowedOrigins,
		Hostnames:       cfg.HTTP.Hostnames,
		ICEServers:      cfg.WebRTC.ICEServers,
		Logger:          log.With("component", "signaling"),
		MaxPending:      cfg.HTTP.MaxPendingWebSockets,
		MaxPendingPerIP: cfg.HTTP.MaxPendingWebSocketsPerIP,
		Limits:          cfg.Limits,
		Tokens:          tokens,
		CandidatePolicy: signaling.NewCandidatePolicy(cfg.WebRTC),
	})

	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "callbridge", Name: "sessions_active", Help: "Signaling sessions (browsers) connected or waiting to resume.",
	}, func() float64 { return float64(len(sig.Sessions())) }))

	httpMux := http.NewServeMux()
	httpMux.Handle("GET /v1/ws", sig)
	httpMux.Handle("GET "+web.SoftphonePath, web.Softphone())
	if cfg.Metrics.Listen == "" {
		httpMux.Handle("GET /metrics", metricsHandler(cfg.Metrics, reg))
	} else {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metricsHandler(cfg.Metrics, reg))
		msrv := newHTTPServer(cfg.HTTP, mmux)
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
	}
	httpMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	httpMux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if err := outbox.Healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: call records cannot be written\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	// Operator endpoints, each registered by its owner behind the admin token.
	admin := auth.RequireAdmin(cfg.Auth.AdminToken)
	b.MountAdmin(httpMux, admin)
	webhook.MountAdmin(httpMux, admin, outbox, log.With("component", "admin"))
	diag.Mount(httpMux, diagSource{b, sig}, admin)
	tokens.MountAdmin(httpMux, admin, func(id string) bool { _, ok := cfg.Seat(id); return ok })
	if ex != nil && ex.routes != nil {
		ex.routes(httpMux)
	}
	if ex != nil && ex.cleanup != nil {
		defer ex.cleanup()
	}

	var ln net.Listener
	if ex != nil && ex.httpLn != nil {
		ln = ex.httpLn
	} else if ln, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	ln = limitListener(cfg.HTTP, ln, reg)
	srv := newHTTPServer(cfg.HTTP, httpMux)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
			stop()
		}
	}()
	log.Info("callbridge listening", "http", ln.Addr().String(), "sip", cfg.SIP.Listen, "trunk", cfg.SIP.Trunk, "version", version)
	if ex != nil && ex.banner != nil {
		fmt.Fprint(stdout, ex.banner(ln.Addr().String()))
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sigs:
		if s == syscall.SIGTERM {
			log.Info("SIGTERM: draining calls; send SIGINT to stop at once")
			dctx, cancel := context.WithCancel(context.Background())
			go func() { <-sigs; cancel() }()
			_ = b.Drain(dctx)
			cancel()
		} else {
			log.Info("SIGINT: stopping")
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.Shutdown(sctx)
	sig.Shutdown()
	_ = srv.Shutdown(sctx)
	return nil
}

// sections are the checks of the configuration sections that packages
// other than config own.
var sections = []config.Check{webhook.CheckConfig, backend.CheckConfig}
