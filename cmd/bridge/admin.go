package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling"
)

// mountAdmin adds the operator endpoints behind auth.admin_token.
func mountAdmin(mux *http.ServeMux, cfg *config.Config, b *bridge.Bridge, sig *signaling.Server) {
	guard := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !adminAllowed(cfg.Auth.AdminToken, r) {
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
	mux.Handle("GET /v1/admin/trunk", guard(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.Trunk())
	}))
}

func adminAllowed(token string, r *http.Request) bool {
	if token == "" {
		return false
	}
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
