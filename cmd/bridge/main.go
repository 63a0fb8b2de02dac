// Command bridge runs callbridge: a WebRTC softphone widget on one side, a
// SIP trunk on the other. With no configuration it starts a demo with a
// built-in SIP test trunk on loopback.
//
//	bridge [--config FILE]                  run (demo mode without a config)
//	bridge token --seat ID [--ttl 1h]       print a seat token for development
//	bridge version
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return runToken(args[1:], stdout)
		case "version":
			fmt.Fprintln(stdout, "callbridge", version)
			return nil
		}
	}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", os.Getenv("BRIDGE_CONFIG"), "YAML configuration file (env BRIDGE_CONFIG); none = demo mode")
	if err := fs.Parse(args); err != nil {
		return err
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
func runToken(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	seat := fs.String("seat", "", "seat id (required)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	cfgPath := fs.String("config", os.Getenv("BRIDGE_CONFIG"), "configuration file with auth.token_secret")
	callerIDs := fs.String("caller-ids", "", "comma-separated subset of the seat's caller ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seat == "" {
		return errors.New("token: --seat is required")
	}
	secret := os.Getenv("BRIDGE_AUTH_TOKEN_SECRET")
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
		return errors.New("token: give --config FILE or BRIDGE_AUTH_TOKEN_SECRET")
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
	httpLn  net.Listener   // pre-bound HTTP listener, or nil
	sipConn net.PacketConn // pre-bound SIP socket, or nil
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
	ctx, stop := context.WithCancel(context.Background())
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
	sig := signaling.Handler(signaling.Options{
		Bridge:         b,
		API:            api,
		AllowedOrigins: cfg.HTTP.AllowedOrigins,
		ICEServers:     cfg.WebRTC.ICEServers,
		ResumeGrace:    cfg.WebRTC.ResumeGrace,
		PageGrace:      cfg.WebRTC.PageGrace,
		Logger:         log.With("component", "signaling"),
	})

	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "callbridge", Name: "sessions_active", Help: "Signaling sessions (browsers) connected or waiting to resume.",
	}, func() float64 { return float64(len(sig.Sessions())) }))

	httpMux := http.NewServeMux()
	httpMux.Handle("GET /v1/ws", sig)
	httpMux.Handle("GET "+web.SoftphonePath, web.Softphone())
	httpMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	httpMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	// Operator endpoints, each registered by its owner behind the admin token.
	admin := auth.RequireAdmin(cfg.Auth.AdminToken)
	b.MountAdmin(httpMux, admin)
	webhook.MountAdmin(httpMux, admin, outbox, log.With("component", "admin"))
	diag.Mount(httpMux, diagSource{b, sig}, admin)
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
	srv := &http.Server{Handler: httpMux, ReadHeaderTimeout: 10 * time.Second}
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
