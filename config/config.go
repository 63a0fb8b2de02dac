// Package config is the bridge's one YAML configuration file (docs/CONFIG.md).
//
// Load reads a file, applies BRIDGE_* environment overrides and defaults;
// Validate rejects contradictions with messages a person can act on.
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	// HTTP is the listener of widget, WebSocket, admin API and metrics.
	HTTP HTTP `yaml:"http"`
	// Auth holds the token secret and admin token.
	Auth Auth `yaml:"auth"`
	// SIP is the trunk side.
	SIP SIP `yaml:"sip"`
	// WebRTC is the browser side's ICE configuration.
	WebRTC WebRTC `yaml:"webrtc"`
	// Dialing limits where and how fast seats may call (toll-fraud guard).
	Dialing Dialing `yaml:"dialing"`
	// Seats are the agent positions; a token's sub must name one.
	Seats []Seat `yaml:"seats"`
	// Webhook is the call event postback.
	Webhook Webhook `yaml:"webhook"`
	// Store keeps call records and the webhook outbox.
	Store Store `yaml:"store"`
	// Log configures the process logger.
	Log Log `yaml:"log"`
	// Limits bounds what one seat's sessions may use.
	Limits Limits `yaml:"limits"`
	// Metrics protects /metrics.
	Metrics Metrics `yaml:"metrics"`
}

// HTTP is the one listener for the widget, WebSocket, stats page, admin API and /metrics.
type HTTP struct {
	// Listen is host:port of the HTTP server.
	Listen string `yaml:"listen"`
	// AllowedOrigins are the WebSocket Origins accepted; empty = same origin only; "*" = any.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Hostnames are the names (host or host:port) browsers reach the bridge
	// by; in same-origin mode a Host header naming anything else is refused
	// (DNS rebinding). Empty = only IP literals and localhost.
	Hostnames []string `yaml:"hostnames"`
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection with no request for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps open HTTP connections (WebSockets included); 0 = no cap.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps open HTTP connections from one source address; 0 = no cap.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxPendingWebSockets caps WebSockets that have not yet sent hello; 0 = no cap.
	MaxPendingWebSockets int `yaml:"max_pending_websockets"`
	// MaxPendingWebSocketsPerIP caps those from one source address; 0 = no cap.
	MaxPendingWebSocketsPerIP int `yaml:"max_pending_websockets_per_ip"`
}

// Auth holds the secrets of the browser side.
type Auth struct {
	// TokenSecret is the HS256 key for seat tokens.
	TokenSecret string `yaml:"token_secret"`
	// AdminToken is the bearer token for the stats page and admin API.
	AdminToken string `yaml:"admin_token"`
	// MaxTokenLifetime refuses seat tokens whose exp lies further than this
	// after their iat (or after now when iat is absent).
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	// ClockSkew is the leeway allowed on exp, nbf and iat.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// SingleUseTokens requires a jti claim and refuses a token whose jti
	// already opened a session (resume excepted).
	SingleUseTokens bool `yaml:"single_use_tokens"`
}

// SIP is the trunk side.
type SIP struct {
	// Listen is transport:host:port of the bridge's user agent, e.g. "udp:127.0.0.1:5070".
	Listen string `yaml:"listen"`
	// Trunk is the SIP URI INVITEs are sent to (the outbound proxy); transport= param allowed.
	Trunk string `yaml:"trunk"`
	// ExternalIP is written into SDP c= and Contact when the bridge is behind NAT.
	ExternalIP string `yaml:"external_ip"`
	// RTPPorts is the "low-high" UDP port range for the SIP leg's RTP.
	RTPPorts string `yaml:"rtp_ports"`
	// Codecs is the offer order on the SIP leg: PCMU and/or PCMA.
	Codecs []string `yaml:"codecs"`
	// Domain is the host part of From/To URIs; defaults to the trunk's host.
	Domain string `yaml:"domain"`
	// RingTimeout is how long an unanswered call rings before CANCEL (status no-answer).
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// MaxCallDuration ends an answered call after this long; 0 = unlimited.
	MaxCallDuration time.Duration `yaml:"max_call_duration"`
	// MediaTimeout ends an answered call when no RTP arrives from the trunk for this long.
	MediaTimeout time.Duration `yaml:"media_timeout"`
	// InviteTimeout ends a call whose INVITE got no response at all (status 408,
	// Q.850 102); default 32 s (RFC 3261 Timer B).
	InviteTimeout time.Duration `yaml:"invite_timeout"`
	// SessionExpires is the session interval the bridge asks for (RFC 4028);
	// 0 = no session timer. Default 1800 s.
	SessionExpires time.Duration `yaml:"session_expires"`
	// MinSE is the smallest session interval the bridge accepts (RFC 4028 Min-SE); default 90 s.
	MinSE time.Duration `yaml:"min_se"`
	// OptionsInterval is how often the trunk is probed with OPTIONS; 0 = never.
	// While the trunk does not answer, calls are refused at once with trunk_unavailable.
	OptionsInterval time.Duration `yaml:"options_interval"`
	// AllowedSources are extra networks (CIDR, or a single IP) whose SIP
	// requests the bridge answers, beside the trunk's own addresses (its
	// host's DNS answers and the sources of its responses). Requests from
	// anywhere else are dropped without a response.
	AllowedSources []string `yaml:"allowed_sources"`
	// MediaNetworks are networks (CIDR, or a single IP) the trunk's RTP may
	// come from besides its SDP address and its SIP addresses: carriers
	// whose media servers differ from their SIP proxies. Symmetric RTP
	// latches to a source in them once per SDP.
	MediaNetworks []string `yaml:"media_networks"`
	// TLS configures sip: URIs with transport=tls and a tls: listener.
	TLS SIPTLS `yaml:"tls"`
}

// SIPTLS is the TLS configuration of the SIP leg.
type SIPTLS struct {
	// CAFile is a PEM bundle of CAs trusted for the trunk's certificate; empty = system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the bridge's certificate: client certificate toward the
	// trunk (mutual TLS), and server certificate of a tls: listener.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the trunk's certificate; default the trunk host.
	ServerName string `yaml:"server_name"`
}

// WebRTC is the browser side's ICE configuration.
type WebRTC struct {
	// UDPPort, when non-zero, carries all ICE traffic on one UDP port (UDP mux).
	UDPPort int `yaml:"udp_port"`
	// PortRange is "low-high" for ephemeral ICE ports when UDPPort is 0; empty = OS choice.
	PortRange string `yaml:"port_range"`
	// NAT1To1IPs are public IPs advertised as host candidates (1:1 NAT).
	NAT1To1IPs []string `yaml:"nat_1to1_ips"`
	// ICEInterfaces restricts ICE to these interface names or IPs; ["127.0.0.1"] = loopback only.
	ICEInterfaces []string `yaml:"ice_interfaces"`
	// ICEServers are handed to clients in `ready`.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// AllowLocalCandidates lets the bridge send STUN to loopback and its own
	// addresses named in a client's candidates (tests on one host). Loopback is
	// also allowed when ice_interfaces holds only loopback addresses.
	AllowLocalCandidates bool `yaml:"allow_local_candidates"`
}

// ICEServer is an RTCIceServer as the browser expects it.
type ICEServer struct {
	// URLs are stun:, stuns:, turn: or turns: URIs (RFC 7064, RFC 7065).
	URLs []string `yaml:"urls" json:"urls"`
	// Username and Credential authenticate to a TURN server.
	Username   string `yaml:"username,omitempty" json:"username,omitempty"`
	Credential string `yaml:"credential,omitempty" json:"credential,omitempty"`
}

// Seat is one agent position: its SIP credentials and its own caller IDs.
type Seat struct {
	// ID names the seat in tokens ("sub"), logs and webhooks.
	ID string `yaml:"id" json:"id"`
	// SIPUsername is the digest username for the trunk's 401/407 challenges.
	SIPUsername string `yaml:"sip_username" json:"sip_username"`
	// SIPPassword is the digest password; it never leaves the bridge.
	SIPPassword string `yaml:"sip_password" json:"-"`
	// CallerIDs are the DIDs provisioned to the seat, E.164; the first is the default.
	CallerIDs []string `yaml:"caller_ids" json:"caller_ids"`
	// Country is the ISO 3166 region used to normalize dialed numbers, e.g. "US";
	// defaults to the country of the first caller id.
	Country string `yaml:"country" json:"country"`
	// Disabled refuses the seat's tokens.
	Disabled bool `yaml:"disabled" json:"disabled"`
	// WebhookURL overrides webhook.url for this seat's calls.
	WebhookURL string `yaml:"webhook_url" json:"webhook_url,omitempty"`
	// MaxCalls is the number of simultaneous calls; default 1.
	MaxCalls int `yaml:"max_calls" json:"max_calls"`
	// AllowedCountries replaces dialing.allowed_countries for this seat.
	AllowedCountries []string `yaml:"allowed_countries" json:"allowed_countries,omitempty"`
}

// Dialing limits the destinations and the call rate of every seat.
type Dialing struct {
	// AllowedCountries are the ISO 3166 regions that may be called, e.g.
	// ["US", "CA"]; empty = any. A seat's allowed_countries replaces it.
	AllowedCountries []string `yaml:"allowed_countries"`
	// BlockedPrefixes are E.164 prefixes never dialed, e.g. premium-rate
	// ranges ["+1900", "+44909"].
	BlockedPrefixes []string `yaml:"blocked_prefixes"`
	// CallsPerMinute limits each seat's new calls; 0 = unlimited.
	CallsPerMinute int `yaml:"calls_per_minute"`
	// AllowedNumberTypes lifts the default refusal of high-risk number
	// types: premium_rate, shared_cost, satellite, unknown.
	AllowedNumberTypes []string `yaml:"allowed_number_types"`
	// Emergency is what happens to an emergency number (911, 112, 999 and
	// the seat country's own): "refuse" (emergency_not_supported) or "dial"
	// (sent to the trunk as dialed).
	Emergency string `yaml:"emergency"`
}

// Webhook is where call events are posted.
type Webhook struct {
	// URL receives every seat's call events unless the seat sets webhook_url; empty = no postback.
	URL string `yaml:"url"`
	// Secret is the Standard Webhooks signing secret: "whsec_" + base64 of 24 to 64 random bytes.
	Secret string `yaml:"secret"`
	// Timeout of one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	// AllowPrivate permits loopback/private targets (demo and tests).
	AllowPrivate bool `yaml:"allow_private"`
	// Events are the event types posted; call.completed is always posted.
	Events []string `yaml:"events"`
	// Template, when set, is a Go text/template over the event that renders the request body.
	Template string `yaml:"template"`
	// ContentType is the Content-Type of the body; a template must render valid JSON when it is JSON.
	ContentType string `yaml:"content_type"`
	// Headers are extra request headers sent with every delivery.
	Headers map[string]string `yaml:"headers"`
}

// Store is where call records and the webhook outbox live.
type Store struct {
	// DSN selects the store: "sqlite://relative/path.db" or
	// "sqlite:///absolute/path.db" (one bridge), or a PostgreSQL URL
	// "postgres://user:password@host:port/database?sslmode=…" (also
	// "postgresql://"), which several bridge nodes may share.
	DSN string `yaml:"dsn"`
	// NodeID names this bridge among the nodes sharing the store; unique
	// per running bridge and kept across restarts. "" = the host name.
	NodeID string `yaml:"node_id"`
}

// Log configures the process logger.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text (logfmt-like) or json.
	Format string `yaml:"format"`
}

// Limits bounds the resources one seat's browser sessions may hold.
type Limits struct {
	// SessionsPerSeat caps the live signaling sessions of one seat; 0 = no cap.
	SessionsPerSeat int `yaml:"sessions_per_seat"`
	// CandidatesPerSession caps the ICE candidates one session may trickle; 0 = no cap.
	CandidatesPerSession int `yaml:"candidates_per_session"`
	// StatsPerMinute caps stats uploads per call; 0 = no cap.
	StatsPerMinute int `yaml:"stats_per_minute"`
	// StatsMaxBytes is the largest stats upload kept.
	StatsMaxBytes int `yaml:"stats_max_bytes"`
	// RequestsPerSecond caps in-call requests (hold, dtmf) per session; 0 = no cap.
	RequestsPerSecond int `yaml:"requests_per_second"`
}

// Metrics protects the Prometheus endpoint.
type Metrics struct {
	// Token, when set, is the bearer token /metrics requires.
	Token string `yaml:"token"`
	// Listen, when set, serves /metrics on this host:port only (not on http.listen).
	Listen string `yaml:"listen"`
}
