package main

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/diag"
	"github.com/callbridge/callbridge/signaling"
)

// mountAdmin adds the operator endpoints behind auth.admin_token.
func mountAdmin(mux *http.ServeMux, cfg *config.Config, b *bridge.Bridge, sig *signaling.Server, records http.Handler) {
	guard := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.BearerMatches(cfg.Auth.AdminToken, r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
				http.Error(w, "admin token required", http.StatusUnauthorized)
				return
			}
			h(w, r)
		})
	}
	mux.Handle("GET /v1/admin/calls", guard(func(w http.ResponseWriter, r *http.Request) {
		calls := b.Calls()
		out := make([]bridge.CallInfo, 0, len(calls))
		for _, c := range calls {
			out = append(out, c.Info())
		}
		writeJSON(w, map[string]any{"calls": out})
	}))
	// Call records and webhook deliveries (WEBHOOKS.md, "Operator API").
	for _, route := range []string{"GET /v1/admin/records", "GET /v1/admin/records/{id}", "GET /v1/admin/events",
		"GET /v1/admin/events/{id}", "POST /v1/admin/events/{id}/redeliver", "POST /v1/admin/events/redeliver-dead",
		"GET /v1/admin/endpoints"} {
		mux.Handle(route, guard(records.ServeHTTP))
	}
	stats := diag.Handler(diagSource{b, sig}, cfg.Auth.AdminToken)
	mux.Handle("GET "+diag.PagePath, stats)
	mux.Handle("GET "+diag.APIPath, stats)
	mux.Handle("GET /v1/admin/trunk", guard(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.Trunk())
	}))
	// Go's profiler, for capacity work (docs/BENCHMARKS.md): a CPU profile
	// costs a few percent of one core while it runs.
	mux.Handle("GET /v1/admin/debug/pprof/profile", guard(pprof.Profile))
	mux.Handle("GET /v1/admin/debug/pprof/{name}", guard(func(w http.ResponseWriter, r *http.Request) {
		pprof.Handler(r.PathValue("name")).ServeHTTP(w, r)
	}))
}

// diagSource feeds the stats page from the bridge and the signaling
// sessions (the browsers' own getStats uploads).
type diagSource struct {
	b   *bridge.Bridge
	sig *signaling.Server
}

func (d diagSource) Calls() []bridge.CallInfo {
	calls := d.b.Calls()
	out := make([]bridge.CallInfo, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.Info())
	}
	return out
}

func (d diagSource) Recent() []bridge.CallInfo { return d.b.Recent() }

func (d diagSource) BrowserReport(callID string) *diag.BrowserReport {
	raw, at, ok := d.sig.BrowserStats(callID)
	if !ok {
		return nil
	}
	r, err := diag.ParseBrowserReport(raw, at)
	if err != nil {
		return nil
	}
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
