package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/nyaruka/phonenumbers"
)

// Problems is the error Validate returns: every problem found, each naming
// its key. It matches ErrInvalid with errors.Is.
type Problems []error

func (p Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d problem", ErrInvalid, len(p))
	if len(p) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, e := range p {
		b.WriteString("\n  - ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalid and every problem.
func (p Problems) Unwrap() []error { return append([]error{ErrInvalid}, p...) }

// seatIDPattern keeps seat ids safe in URLs, logs and JWT subjects.
var seatIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// sipTransports are the transports sipgo listens on.
var sipTransports = map[string]bool{"udp": true, "tcp": true, "tls": true, "ws": true, "wss": true}

// A Check validates the keys of a section another package owns (webhook.*
// is checked by the webhook package, store.* by the store's), adding each
// problem to p.
type Check func(c *Config, p *Problems)

// Validate checks the whole configuration and returns all problems at once
// (as Problems), each a message a person can act on; nil if there are none.
// The packages that own a section pass their Check; the bridge binary runs
// them all. It expects SetDefaults to have run (Load does that).
func (c *Config) Validate(sections ...Check) error {
	var v validator
	c.validateHTTP(&v)
	c.validateAuth(&v)
	c.validateSIP(&v)
	c.validateWebRTC(&v)
	c.validateSeats(&v)
	c.validateDialing(&v)
	c.validateLog(&v)
	c.validateLimits(&v)
	for _, check := range sections {
		check(c, &v)
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

type validator = Problems

// Add records a problem with key.
func (v *Problems) Add(key, format string, args ...any) { v.add(key, format, args...) }

func (v *validator) add(key, format string, args ...any) {
	*v = append(*v, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (c *Config) validateHTTP(v *validator) {
	if err := checkHostPort(c.HTTP.Listen); err != nil {
		v.add("http.listen", "%q: %v (want host:port, e.g. %q)", c.HTTP.Listen, err, DefaultHTTPListen)
	}
	for i, o := range c.HTTP.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			v.add(fmt.Sprintf("http.allowed_origins[%d]", i), "%q is not an origin (want scheme://host[:port] such as \"https://crm.example.com\", or \"*\")", o)
		}
	}
	for i, h := range c.HTTP.Hostnames {
		if h == "" || strings.ContainsAny(h, "/@ \t") {
			v.add(fmt.Sprintf("http.hostnames[%d]", i), "%q is not a host name (want host or host:port, e.g. \"bridge.example.com\")", h)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}} {
		if d.v <= 0 {
			v.add(d.key, "must be positive, e.g. 10s")
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"http.max_connections", c.HTTP.MaxConnections}, {"http.max_connections_per_ip", c.HTTP.MaxConnectionsPerIP},
		{"http.max_pending_websockets", c.HTTP.MaxPendingWebSockets}, {"http.max_pending_websockets_per_ip", c.HTTP.MaxPendingWebSocketsPerIP}} {
		if n.v < 0 {
			v.add(n.key, "must be 0 (no cap) or positive")
		}
	}
	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			v.add("metrics.listen", "%q: %v (want host:port, e.g. \"127.0.0.1:9090\")", c.Metrics.Listen, err)
		} else if c.Metrics.Listen == c.HTTP.Listen {
			v.add("metrics.listen", "is http.listen; leave it empty to serve /metrics there")
		}
	}
	if t := c.Metrics.Token; t != "" && len(t) < 16 {
		v.add("metrics.token", "%d characters is too short; use at least 16", len(t))
	}
}

func (c *Config) validateLimits(v *validator) {
	l := c.Limits
	for _, n := range []struct {
		key string
		v   int
	}{{"limits.sessions_per_seat", l.SessionsPerSeat}, {"limits.candidates_per_session", l.CandidatesPerSession},
		{"limits.stats_per_minute", l.StatsPerMinute}, {"limits.requests_per_second", l.RequestsPerSecond}} {
		if n.v < 0 {
			v.add(n.key, "must be 0 (no cap) or positive")
		}
	}
	if l.StatsMaxBytes < 1024 || l.StatsMaxBytes > 64<<10 {
		v.add("limits.stats_max_bytes", "%d: must be between 1024 and 65536", l.StatsMaxBytes)
	}
}

func (c *Config) validateAuth(v *validator) {
	switch n := len(c.Auth.TokenSecret); {
	case n == 0:
		v.add("auth.token_secret", "not set; generate one with `openssl rand -base64 48` (or set %s)", EnvVar("auth.token_secret"))
	case n < MinTokenSecretLen:
		v.add("auth.token_secret", "%d bytes is too short for HS256; use at least %d (e.g. `openssl rand -base64 48`)", n, MinTokenSecretLen)
	}
	if t := c.Auth.AdminToken; t != "" {
		if len(t) < 16 {
			v.add("auth.admin_token", "%d characters is too short to guess-proof the admin API; use at least 16", len(t))
		}
		if t == c.Auth.TokenSecret {
			v.add("auth.admin_token", "must differ from auth.token_secret")
		}
	}
	if c.Auth.MaxTokenLifetime <= 0 {
		v.add("auth.max_token_lifetime", "must be positive, e.g. 24h")
	}
	if c.Auth.ClockSkew < 0 || c.Auth.ClockSkew > 10*time.Minute {
		v.add("auth.clock_skew", "%s: must be between 0 and 10m", c.Auth.ClockSkew)
	}
}

func (c *Config) validateSIP(v *validator) {
	for key, list := range map[string][]string{"sip.allowed_sources": c.SIP.AllowedSources, "sip.media_networks": c.SIP.MediaNetworks} {
		for i, n := range list {
			if _, err := ParsePrefix(n); err != nil {
				v.add(fmt.Sprintf("%s[%d]", key, i), "%q: want a network such as 203.0.113.0/24 or an IP address", n)
			}
		}
	}
	s := &c.SIP
	transport, host, port, err := parseSIPListen(s.Listen)
	if err != nil {
		v.add("sip.listen", "%q: %v (want transport:host:port, e.g. %q)", s.Listen, err, DefaultSIPListen)
	}
	if s.Trunk == "" {
		v.add("sip.trunk", "not set; give the SIP URI of the trunk or outbound proxy, e.g. \"sip:sip.carrier.example:5060\"")
	} else {
		var u sip.Uri
		if err := sip.ParseUri(s.Trunk, &u); err != nil {
			v.add("sip.trunk", "%q does not parse as a SIP URI (RFC 3261 §19.1): %v", s.Trunk, err)
		} else {
			if u.Scheme != "sip" && u.Scheme != "sips" {
				v.add("sip.trunk", "%q: scheme must be sip or sips", s.Trunk)
			}
			if u.Host == "" {
				v.add("sip.trunk", "%q has no host", s.Trunk)
			}
			if t, ok := u.UriParams.Get("transport"); ok && !sipTransports[strings.ToLower(t)] {
				v.add("sip.trunk", "%q: transport=%s is not one of udp, tcp, tls, ws, wss", s.Trunk, t)
			}
		}
	}
	if s.ExternalIP != "" {
		if _, err := netip.ParseAddr(s.ExternalIP); err != nil {
			v.add("sip.external_ip", "%q is not an IP address", s.ExternalIP)
		}
	}
	lo, hi, err := parseRange(s.RTPPorts)
	if err != nil {
		v.add("sip.rtp_ports", "%q: %v", s.RTPPorts, err)
	} else if hi-lo+1 < 2 {
		v.add("sip.rtp_ports", "%q holds one port; RTP needs at least an even/odd pair (RFC 3550 §11)", s.RTPPorts)
	}
	if err == nil && transport == "udp" && port >= lo && port <= hi && host != "" {
		v.add("sip.listen", "port %d is inside sip.rtp_ports %s; move one of them", port, s.RTPPorts)
	}
	if len(s.Codecs) == 0 {
		v.add("sip.codecs", "empty; list PCMU and/or PCMA")
	}
	seen := map[string]bool{}
	for i, name := range s.Codecs {
		switch {
		case name != CodecPCMU && name != CodecPCMA:
			v.add(fmt.Sprintf("sip.codecs[%d]", i), "unknown codec %q; the SIP leg speaks PCMU and PCMA", name)
		case seen[name]:
			v.add(fmt.Sprintf("sip.codecs[%d]", i), "%s listed twice", name)
		}
		seen[name] = true
	}
	if s.Domain != "" && strings.ContainsAny(s.Domain, " \t@:;/") {
		v.add("sip.domain", "%q is not a host name", s.Domain)
	}
	if s.RingTimeout <= 0 {
		v.add("sip.ring_timeout", "must be positive, e.g. 60s")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"sip.media_timeout", s.MediaTimeout}, {"sip.invite_timeout", s.InviteTimeout},
		{"sip.session_expires", s.SessionExpires}, {"sip.options_interval", s.OptionsInterval}} {
		if d.v < 0 {
			v.add(d.key, "must be 0 (off) or positive, e.g. 30s")
		}
	}
	if s.SessionExpires > 0 && s.SessionExpires < s.MinSE {
		v.add("sip.session_expires", "%s is below sip.min_se %s (RFC 4028 §4)", s.SessionExpires, s.MinSE)
	}
	if s.MaxCallDuration < 0 {
		v.add("sip.max_call_duration", "must be 0 (unlimited) or positive")
	}
}

func (c *Config) validateWebRTC(v *validator) {
	w := &c.WebRTC
	if w.UDPPort < 0 || w.UDPPort > 65535 {
		v.add("webrtc.udp_port", "%d is not a port (0 = ephemeral ports)", w.UDPPort)
	}
	rtpLo, rtpHi, rtpErr := parseRange(c.SIP.RTPPorts)
	if w.UDPPort > 0 && rtpErr == nil && w.UDPPort >= rtpLo && w.UDPPort <= rtpHi {
		v.add("webrtc.udp_port", "%d is inside sip.rtp_ports %s; the two legs need separate ports", w.UDPPort, c.SIP.RTPPorts)
	}
	if t, _, p, err := parseSIPListen(c.SIP.Listen); err == nil && t == "udp" && w.UDPPort > 0 && p == w.UDPPort {
		v.add("webrtc.udp_port", "%d is also sip.listen's port", w.UDPPort)
	}
	if w.PortRange != "" {
		lo, hi, err := parseRange(w.PortRange)
		switch {
		case err != nil:
			v.add("webrtc.port_range", "%q: %v", w.PortRange, err)
		case w.UDPPort > 0:
			v.add("webrtc.port_range", "set together with webrtc.udp_port; with one UDP port no range is used, so remove one of them")
		case rtpErr == nil && lo <= rtpHi && rtpLo <= hi:
			v.add("webrtc.port_range", "%s overlaps sip.rtp_ports %s; the two legs need separate ports", w.PortRange, c.SIP.RTPPorts)
		}
	}
	for i, ip := range w.NAT1To1IPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			v.add(fmt.Sprintf("webrtc.nat_1to1_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	for i, name := range w.ICEInterfaces {
		if strings.TrimSpace(name) == "" {
			v.add(fmt.Sprintf("webrtc.ice_interfaces[%d]", i), "empty; give an interface name (eth0) or an IP")
		}
	}
	for i, s := range w.ICEServers {
		key := fmt.Sprintf("webrtc.ice_servers[%d]", i)
		if len(s.URLs) == 0 {
			v.add(key, "no urls")
		}
		for _, u := range s.URLs {
			scheme, _, _ := strings.Cut(u, ":")
			switch scheme {
			case "stun", "stuns":
			case "turn", "turns":
				if s.Username == "" || s.Credential == "" {
					v.add(key, "%q is a TURN server; it needs username and credential", u)
				}
			default:
				v.add(key, "%q: scheme must be stun, stuns, turn or turns (RFC 7064, RFC 7065)", u)
			}
		}
	}
}

func (c *Config) validateSeats(v *validator) {
	if len(c.Seats) == 0 {
		v.add("seats", "no seats; add at least one with id and caller_ids (or set %s to a JSON list)", EnvVar("seats"))
	}
	ids := map[string]int{}
	owner := map[string]string{} // caller id -> seat id
	regions := phonenumbers.GetSupportedRegions()
	for i, s := range c.Seats {
		key := fmt.Sprintf("seats[%d]", i)
		if s.ID != "" {
			key = fmt.Sprintf("seats[%d] (%s)", i, s.ID)
		}
		switch {
		case s.ID == "":
			v.add(key, "id is empty")
		case !seatIDPattern.MatchString(s.ID):
			v.add(key, "id %q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", s.ID)
		default:
			if j, dup := ids[s.ID]; dup {
				v.add(key, "id %q is also seats[%d]'s id", s.ID, j)
			}
			ids[s.ID] = i
		}
		if s.SIPPassword != "" && s.SIPUsername == "" {
			v.add(key, "sip_password is set but sip_username is empty")
		}
		if len(s.CallerIDs) == 0 {
			v.add(key, "caller_ids is empty; list the DIDs this seat may present, E.164, e.g. [\"+14155550100\"]")
		}
		mine := map[string]bool{}
		for _, id := range s.CallerIDs {
			switch {
			case !isE164(id):
				v.add(key, "caller id %q is not E.164 (write it as +<country code><number>, no spaces, e.g. \"+14155550100\")", id)
			case mine[id]:
				v.add(key, "caller id %s is listed twice", id)
			case owner[id] != "" && owner[id] != s.ID:
				v.add(key, "caller id %s is also provisioned to seat %q; a DID belongs to one seat", id, owner[id])
			}
			mine[id] = true
			if owner[id] == "" {
				owner[id] = s.ID
			}
		}
		switch {
		case s.Country == "":
			v.add(key, "country is not set and cannot be derived from the caller ids; set an ISO 3166 code such as \"US\"")
		case !regions[strings.ToUpper(s.Country)]:
			v.add(key, "country %q is not an ISO 3166 region code known to the number parser (e.g. \"US\", \"GB\")", s.Country)
		}
		if s.MaxCalls < 1 {
			v.add(key, "max_calls %d must be at least 1", s.MaxCalls)
		}
	}
}

func (c *Config) validateLog(v *validator) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.add("log.format", "%q: want text or json", c.Log.Format)
	}
}

// RTPPortRange returns sip.rtp_ports' bounds, or 0, 0 if it does not parse.
func (s SIP) RTPPortRange() (lo, hi int) {
	lo, hi, err := parseRange(s.RTPPorts)
	if err != nil {
		return 0, 0
	}
	return lo, hi
}

// ListenParts splits sip.listen ("udp:127.0.0.1:5070", "tcp:[::1]:5060")
// into transport, host and port; a missing transport means udp. All zero if
// it does not parse.
func (s SIP) ListenParts() (transport, host string, port int) {
	t, h, p, err := parseSIPListen(s.Listen)
	if err != nil {
		return "", "", 0
	}
	return t, h, p
}

// ICEPortRange returns webrtc.port_range's bounds, or 0, 0 if unset or bad.
func (w WebRTC) ICEPortRange() (lo, hi int) {
	lo, hi, err := parseRange(w.PortRange)
	if err != nil {
		return 0, 0
	}
	return lo, hi
}

// Seat returns the seat with the given id.
func (c *Config) Seat(id string) (*Seat, bool) {
	for i := range c.Seats {
		if c.Seats[i].ID == id {
			return &c.Seats[i], true
		}
	}
	return nil, false
}

func parseSIPListen(s string) (transport, host string, port int, err error) {
	transport = "udp"
	if t, rest, ok := strings.Cut(s, ":"); ok && sipTransports[strings.ToLower(t)] {
		transport, s = strings.ToLower(t), rest
	} else if ok && !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
		return "", "", 0, fmt.Errorf("unknown transport %q (want udp, tcp, tls, ws or wss)", t)
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", "", 0, fmt.Errorf("bad port %q", p)
	}
	return transport, h, port, nil
}

func checkHostPort(s string) error {
	_, p, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", p)
	}
	return nil
}

// parseRange parses "low-high" with 1024 <= low <= high <= 65535.
func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("want a port range low-high, e.g. %q", DefaultRTPPorts)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("want a port range low-high, e.g. %q", DefaultRTPPorts)
	case lo < 1024 || hi > 65535:
		return 0, 0, fmt.Errorf("ports must lie within 1024-65535")
	case lo > hi:
		return 0, 0, fmt.Errorf("low port %d is above high port %d", lo, hi)
	}
	return lo, hi, nil
}

var e164Prefix = regexp.MustCompile(`^\+[0-9]{1,14}$`)

func (c *Config) validateDialing(v *validator) {
	checkCountries := func(key string, list []string) {
		for i, cc := range list {
			if !phonenumbers.GetSupportedRegions()[strings.ToUpper(cc)] {
				v.add(fmt.Sprintf("%s[%d]", key, i), "%q is not an ISO 3166 region phone numbers know (e.g. \"US\", \"GB\")", cc)
			}
		}
	}
	checkCountries("dialing.allowed_countries", c.Dialing.AllowedCountries)
	for i, p := range c.Dialing.BlockedPrefixes {
		if !e164Prefix.MatchString(p) {
			v.add(fmt.Sprintf("dialing.blocked_prefixes[%d]", i), "%q: want + and 1 to 14 digits, e.g. \"+1900\"", p)
		}
	}
	if c.Dialing.CallsPerMinute < 0 {
		v.add("dialing.calls_per_minute", "must be 0 (unlimited) or positive")
	}
	for i, t := range c.Dialing.AllowedNumberTypes {
		switch t {
		case NumberTypePremiumRate, NumberTypeSharedCost, NumberTypeSatellite, NumberTypeUnknown:
		default:
			v.add(fmt.Sprintf("dialing.allowed_number_types[%d]", i), "%q: want premium_rate, shared_cost, satellite or unknown", t)
		}
	}
	switch c.Dialing.Emergency {
	case EmergencyRefuse, EmergencyDial:
	default:
		v.add("dialing.emergency", "%q: want refuse or dial", c.Dialing.Emergency)
	}
	for i, s := range c.Seats {
		checkCountries(fmt.Sprintf("seats[%d].allowed_countries", i), s.AllowedCountries)
	}
}

// isE164 reports whether s is written as E.164: '+', a non-zero digit, 7
// to 15 digits in all (ITU-T E.164 §6).
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParsePrefix reads a network as CIDR ("203.0.113.0/24") or a single IP
// address (a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
