package main

import (
	"encoding/json"
	"net/http"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/diag"
	"github.com/callbridge/callbridge/signaling"
)

// mountAdmin adds the operator endpoints behind auth.admin_token.
func mountAdmin(mux *http.ServeMux, cfg *config.Config, b *bridge.Bridge, sig *signaling.Server, records http.Handler, tokens *auth.Guard) {
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
	mux.Handle("GET /v1/admin/revocations", guard(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"revocations": tokens.Revocations()})
	}))
	mux.Handle("POST /v1/admin/revocations", guard(func(w http.ResponseWriter, r *http.Request) {
		revoke(w, r, cfg, tokens)
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

// revoke adds an entry to the token revocation list: {"seat": "agent-7"}
// refuses the seat's tokens issued until now, {"token_id": "…"} one token;
// the sessions they opened are closed with token_revoked.
func revoke(w http.ResponseWriter, r *http.Request, cfg *config.Config, tokens *auth.Guard) {
	var req struct {
		Seat    string `json:"seat"`
		TokenID string `json:"token_id"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "want {\"seat\": \"…\"} or {\"token_id\": \"…\"}: "+err.Error(), http.StatusBadRequest)
		return
	}
	var rev auth.Revocation
	switch {
	case (req.Seat == "") == (req.TokenID == ""):
		http.Error(w, "give exactly one of seat and token_id", http.StatusBadRequest)
		return
	case req.Seat != "":
		if _, ok := cfg.Seat(req.Seat); !ok {
			http.Error(w, "no such seat", http.StatusNotFound)
			return
		}
		rev = tokens.RevokeSeat(req.Seat)
	default:
		if len(req.TokenID) > 256 {
			http.Error(w, "token_id too long", http.StatusBadRequest)
			return
		}
		rev = tokens.RevokeToken(req.TokenID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(rev)
}
