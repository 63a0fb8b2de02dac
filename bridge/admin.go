package bridge

import (
	"encoding/json"
	"net/http"
)

// MountAdmin registers the bridge's operator endpoints, each behind guard
// (the admin token): GET /v1/admin/calls (the calls in progress),
// GET /v1/admin/trunk (the trunk's OPTIONS health) and GET
// /v1/admin/routing (every trunk's state and figures).
func (b *Bridge) MountAdmin(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/admin/calls", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"calls": b.CallInfos()})
	})))
	mux.Handle("GET /v1/admin/trunk", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, b.Trunk())
	})))
	// Every trunk's live state (OPTIONS, breaker, calls) and the attempts,
	// answers, failovers, ASR and post-dial delay per trunk and route.
	mux.Handle("GET /v1/admin/routing", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		trunks, routes := b.routeMetrics.Snapshot()
		writeJSON(w, map[string]any{"gates": b.TrunkGates(), "trunks": trunks, "routes": routes})
	})))
}

// CallInfos returns a snapshot of every call in progress.
func (b *Bridge) CallInfos() []CallInfo {
	calls := b.Calls()
	out := make([]CallInfo, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.Info())
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
