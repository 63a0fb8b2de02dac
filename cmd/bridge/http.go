package main

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/connlimit"
)

// newHTTPServer is the server of http.listen with the timeouts of http.*.
// Hijacked WebSockets leave these timeouts behind; signaling has its own.
func newHTTPServer(cfg config.HTTP, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// limitListener caps ln's connections per http.max_connections and
// http.max_connections_per_ip, counting refusals in reg.
func limitListener(cfg config.HTTP, ln net.Listener, reg prometheus.Registerer) net.Listener {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "callbridge", Name: "http_connections_refused_total",
		Help: "HTTP connections closed at accept because a cap (http.max_connections, http.max_connections_per_ip) was reached, by reason.",
	}, []string{"reason"})
	if reg != nil {
		reg.MustRegister(refused)
	}
	return connlimit.Listen(ln, connlimit.Options{
		Max:      cfg.MaxConnections,
		PerIP:    cfg.MaxConnectionsPerIP,
		OnRefuse: func(reason string, _ netip.Addr) { refused.WithLabelValues(reason).Inc() },
	})
}

// metricsHandler serves reg, behind metrics.token when it is set.
func metricsHandler(cfg config.Metrics, reg *prometheus.Registry) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if cfg.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.BearerMatches(cfg.Token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge metrics"`)
			http.Error(w, "metrics token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
