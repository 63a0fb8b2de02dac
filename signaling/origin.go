package signaling

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
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

// sameOrigin is the check of same-origin mode (http.allowed_origins
// empty): the Origin must name the Host the request was sent to, and that
// Host must be one the bridge knows it is reached by. Trusting the Host
// header alone would let a DNS-rebinding page (evil.example resolving to
// the bridge) pass as the bridge's own origin, so a name must be listed in
// http.hostnames; IP literals and localhost cannot be rebound and pass.
func (s *Server) sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, host) {
		return false
	}
	return knownHost(host, s.opts.Hostnames)
}

// knownHost reports whether host (host or host:port, from the Host header)
// is an IP literal, localhost, or one of names (each host or host:port).
func knownHost(host string, names []string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return true
	}
	if name == "localhost" {
		return true
	}
	for _, n := range names {
		n = strings.ToLower(n)
		if strings.EqualFold(n, host) || (!strings.Contains(strings.Trim(n, "[]"), ":") && n == name) {
			return true
		}
	}
	return false
}
