package auth

import (
	"encoding/json"
	"net/http"
)

// MountAdmin registers the revocation list's operator endpoints, each
// behind guard (the admin token): GET /v1/admin/revocations lists the
// entries in force; POST /v1/admin/revocations with {"seat": "agent-7"}
// refuses the seat's tokens issued until now, with {"token_id": "…"} one
// token, and closes the sessions they opened. seatExists refuses unknown
// seats.
func (g *Guard) MountAdmin(mux *http.ServeMux, guard func(http.Handler) http.Handler, seatExists func(string) bool) {
	mux.Handle("GET /v1/admin/revocations", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"revocations": g.Revocations()})
	})))
	mux.Handle("POST /v1/admin/revocations", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.revoke(w, r, seatExists)
	})))
}

func (g *Guard) revoke(w http.ResponseWriter, r *http.Request, seatExists func(string) bool) {
	var req struct {
		Seat    string `json:"seat"`
		TokenID string `json:"token_id"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"seat": "…"} or {"token_id": "…"}: ` + err.Error()})
		return
	}
	var rev Revocation
	switch {
	case (req.Seat == "") == (req.TokenID == ""):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give exactly one of seat and token_id"})
		return
	case req.Seat != "":
		if !seatExists(req.Seat) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such seat"})
			return
		}
		rev = g.RevokeSeat(req.Seat)
	default:
		if len(req.TokenID) > 256 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "token_id longer than 256 characters"})
			return
		}
		rev = g.RevokeToken(req.TokenID)
	}
	writeJSON(w, http.StatusCreated, rev)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
