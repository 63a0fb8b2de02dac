package signaling

import (
	"encoding/json"
	"net/http"
)

// CodeOriginNotAllowed is the code in the body of the 403 that refuses a
// page whose origin is not in http.allowed_origins.
const CodeOriginNotAllowed = "origin_not_allowed"

// refuseOrigin answers a request from a page whose origin is not allowed:
// 403, so the WebSocket handshake fails as before, with a JSON reason that
// the refused page itself may read (Access-Control-Allow-Origin: its
// origin, Fetch standard §3.2). A browser gives a page no detail of a
// failed handshake; the widget asks this URL again with fetch() to learn
// why. The reason names only the page's own origin.
func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	s.log.Warn("websocket refused: origin not in http.allowed_origins", "origin", origin, "remote", r.RemoteAddr)
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"code":    CodeOriginNotAllowed,
		"message": "The bridge does not accept pages from " + origin + ": add it to http.allowed_origins.",
		"origin":  origin,
	})
}
