package signaling

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

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
