// Package config is the bridge's one YAML configuration file (docs/CONFIG.md).
//
// Load reads a file, applies BRIDGE_* environment overrides and defaults;
// Validate rejects contradictions with messages a person can act on.
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	HTTP    HTTP    `yaml:"http"`
	Auth    Auth    `yaml:"auth"`
	SIP     SIP     `yaml:"sip"`
	WebRTC  WebRTC  `yaml:"webrtc"`
	Seats   []Seat  `yaml:"seats"`
	Webhook Webhook `yaml:"webhook"`
	Store   Store   `yaml:"store"`
	Log     Log     `yaml:"log"`
}

// HTTP is the one listener for the widget, WebSocket, stats page, admin API and /metrics.
type HTTP struct {
	// Listen is host:port of the HTTP server.
	Listen string `yaml:"listen"`
	// AllowedOrigins are the WebSocket Origins accepted; empty = same origin only; "*" = any.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Auth holds the secrets of the browser side.
type Auth struct {
	// TokenSecret is the HS256 key for seat tokens.
	TokenSecret string `yaml:"token_secret"`
	// AdminToken is the bearer token for the stats page and admin API.
	AdminToken string `yaml:"admin_token"`
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
}

// ICEServer is an RTCIceServer as the browser expects it.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username,omitempty" json:"username,omitempty"`
	Credential string   `yaml:"credential,omitempty" json:"credential,omitempty"`
}

// Seat is one agent position: its SIP credentials and its own caller IDs.
type Seat struct {
	ID          string `yaml:"id"`
	SIPUsername string `yaml:"sip_username"`
	SIPPassword string `yaml:"sip_password"`
	// CallerIDs are the DIDs provisioned to the seat, E.164; the first is the default.
	CallerIDs []string `yaml:"caller_ids"`
	// Country is the ISO 3166 region used to normalize dialed numbers, e.g. "US".
	Country string `yaml:"country"`
	// Disabled refuses the seat's tokens.
	Disabled bool `yaml:"disabled"`
	// WebhookURL overrides webhook.url for this seat's calls.
	WebhookURL string `yaml:"webhook_url"`
	// MaxCalls is the number of simultaneous calls; default 1.
	MaxCalls int `yaml:"max_calls"`
}

// Webhook is where call events are posted.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // "whsec_" + base64 key
	// Timeout of one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	// AllowPrivate permits loopback/private targets (demo and tests).
	AllowPrivate bool `yaml:"allow_private"`
}

// Store is where call records and the webhook outbox live.
type Store struct {
	DSN string `yaml:"dsn"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}
