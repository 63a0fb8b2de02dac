package config

import (
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/nyaruka/phonenumbers"
)

// Defaults of every key that has one (docs/CONFIG.md lists them all).
const (
	// DefaultHTTPListen is http.listen.
	DefaultHTTPListen = "127.0.0.1:8080"
	// DefaultSIPListen is sip.listen.
	DefaultSIPListen = "udp:127.0.0.1:5070"
	// DefaultRTPPorts is sip.rtp_ports.
	DefaultRTPPorts = "20000-20999"
	// DefaultRingTimeout is sip.ring_timeout.
	DefaultRingTimeout = 60 * time.Second
	// DefaultMediaTimeout is sip.media_timeout.
	DefaultMediaTimeout = 30 * time.Second
	// DefaultInviteTimeout is sip.invite_timeout: RFC 3261 Timer B (64*T1).
	DefaultInviteTimeout = 32 * time.Second
	// DefaultSessionExpires is sip.session_expires (RFC 4028 §4 recommends 1800 s).
	DefaultSessionExpires = 1800 * time.Second
	// DefaultMinSE is sip.min_se: the RFC 4028 §4 minimum of 90 s.
	DefaultMinSE = 90 * time.Second
	// DefaultOptionsInterval is sip.options_interval.
	DefaultOptionsInterval = 30 * time.Second
	// DefaultMaxCallDuration is sip.max_call_duration (0 = unlimited).
	DefaultMaxCallDuration = 0
	// MinTokenSecretLen is the shortest auth.token_secret accepted, in bytes
	// (auth.MinSecretLen: the size of the HS256 output).
	MinTokenSecretLen = 32
	// DefaultWebhookTimeout is webhook.timeout.
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultWebhookContentType is webhook.content_type.
	DefaultWebhookContentType = "application/json"
	// DefaultStoreDSN is store.dsn: an SQLite file in the working directory.
	DefaultStoreDSN = "sqlite://callbridge.db"
	// DefaultLogLevel is log.level.
	DefaultLogLevel = "info"
	// DefaultLogFormat is log.format.
	DefaultLogFormat = "text"
	// DefaultSeatMaxCalls is seats[].max_calls.
	DefaultSeatMaxCalls = 1
	// DefaultReadHeaderTimeout is http.read_header_timeout.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is http.idle_timeout.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxConnections is http.max_connections.
	DefaultMaxConnections = 4096
	// DefaultMaxConnectionsPerIP is http.max_connections_per_ip: room for an
	// office of agents behind one NAT address.
	DefaultMaxConnectionsPerIP = 256
	// DefaultMaxPendingWebSockets is http.max_pending_websockets.
	DefaultMaxPendingWebSockets = 512
	// DefaultMaxPendingWebSocketsPerIP is http.max_pending_websockets_per_ip.
	DefaultMaxPendingWebSocketsPerIP = 32
	// DefaultMaxTokenLifetime is auth.max_token_lifetime.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// DefaultClockSkew is auth.clock_skew.
	DefaultClockSkew = 30 * time.Second
	// DefaultCallsPerMinute is dialing.calls_per_minute.
	DefaultCallsPerMinute = 10
	// DefaultEmergency is dialing.emergency.
	DefaultEmergency = EmergencyRefuse
	// DefaultSessionsPerSeat is limits.sessions_per_seat.
	DefaultSessionsPerSeat = 4
	// DefaultCandidatesPerSession is limits.candidates_per_session.
	DefaultCandidatesPerSession = 64
	// DefaultStatsPerMinute is limits.stats_per_minute.
	DefaultStatsPerMinute = 20
	// DefaultStatsMaxBytes is limits.stats_max_bytes.
	DefaultStatsMaxBytes = 16 << 10
	// DefaultRequestsPerSecond is limits.requests_per_second.
	DefaultRequestsPerSecond = 5
)

// dialing.emergency values.
const (
	EmergencyRefuse = "refuse"
	EmergencyDial   = "dial"
)

// High-risk number types that dialing.allowed_number_types may allow.
const (
	NumberTypePremiumRate = "premium_rate"
	NumberTypeSharedCost  = "shared_cost"
	NumberTypeSatellite   = "satellite"
	NumberTypeUnknown     = "unknown"
)

// Codec names accepted in sip.codecs.
const (
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
)

// Webhook event types accepted in webhook.events (docs/WEBHOOKS.md).
const (
	EventInitiated = "call.initiated"
	EventRinging   = "call.ringing"
	EventAnswered  = "call.answered"
	EventCompleted = "call.completed"
)

// DefaultCodecs is sip.codecs: the offer order on the SIP leg.
func DefaultCodecs() []string { return []string{CodecPCMU, CodecPCMA} }

// DefaultWebhookEvents is webhook.events: all four call events.
func DefaultWebhookEvents() []string {
	return []string{EventInitiated, EventRinging, EventAnswered, EventCompleted}
}

// Default returns a configuration with every default set and nothing else:
// no seats, no secrets, no trunk.
func Default() *Config {
	c := &Config{}
	presetSwitches(c)
	c.SetDefaults()
	return c
}

// presetSwitches sets the defaults of the keys where 0 means "off"
// (sip.media_timeout, sip.invite_timeout, sip.session_expires,
// sip.options_interval, the http connection caps, dialing.calls_per_minute,
// the limits) before the file and the environment are read, so
// an explicit 0 in either is kept rather than replaced by the default.
func presetSwitches(c *Config) {
	c.SIP.MediaTimeout = DefaultMediaTimeout
	c.SIP.InviteTimeout = DefaultInviteTimeout
	c.SIP.SessionExpires = DefaultSessionExpires
	c.SIP.OptionsInterval = DefaultOptionsInterval
	c.HTTP.MaxConnections = DefaultMaxConnections
	c.HTTP.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	c.HTTP.MaxPendingWebSockets = DefaultMaxPendingWebSockets
	c.HTTP.MaxPendingWebSocketsPerIP = DefaultMaxPendingWebSocketsPerIP
	c.Dialing.CallsPerMinute = DefaultCallsPerMinute
	c.Limits = Limits{
		SessionsPerSeat:      DefaultSessionsPerSeat,
		CandidatesPerSession: DefaultCandidatesPerSession,
		StatsPerMinute:       DefaultStatsPerMinute,
		RequestsPerSecond:    DefaultRequestsPerSecond,
	}
}

// SetDefaults fills every unset key that has a default. Load calls it after
// the file and the environment; a configuration built in code calls it
// before Validate.
func (c *Config) SetDefaults() {
	setStr(&c.HTTP.Listen, DefaultHTTPListen)
	setStr(&c.SIP.Listen, DefaultSIPListen)
	setStr(&c.SIP.RTPPorts, DefaultRTPPorts)
	if len(c.SIP.Codecs) == 0 {
		c.SIP.Codecs = DefaultCodecs()
	}
	for i, name := range c.SIP.Codecs {
		c.SIP.Codecs[i] = strings.ToUpper(strings.TrimSpace(name))
	}
	if c.SIP.Domain == "" && c.SIP.Trunk != "" {
		var u sip.Uri
		if err := sip.ParseUri(c.SIP.Trunk, &u); err == nil {
			c.SIP.Domain = u.Host
		}
	}
	setDur(&c.SIP.RingTimeout, DefaultRingTimeout)
	setDur(&c.SIP.MinSE, DefaultMinSE)
	setDur(&c.Webhook.Timeout, DefaultWebhookTimeout)
	setStr(&c.Webhook.ContentType, DefaultWebhookContentType)
	if len(c.Webhook.Events) == 0 {
		c.Webhook.Events = DefaultWebhookEvents()
	}
	setStr(&c.Store.DSN, DefaultStoreDSN)
	setDur(&c.HTTP.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDur(&c.HTTP.IdleTimeout, DefaultIdleTimeout)
	setDur(&c.Auth.MaxTokenLifetime, DefaultMaxTokenLifetime)
	setDur(&c.Auth.ClockSkew, DefaultClockSkew)
	setStr(&c.Dialing.Emergency, DefaultEmergency)
	if c.Limits.StatsMaxBytes == 0 {
		c.Limits.StatsMaxBytes = DefaultStatsMaxBytes
	}
	setStr(&c.Log.Level, DefaultLogLevel)
	setStr(&c.Log.Format, DefaultLogFormat)
	for i := range c.Seats {
		s := &c.Seats[i]
		if s.MaxCalls == 0 {
			s.MaxCalls = DefaultSeatMaxCalls
		}
		if s.Country == "" && len(s.CallerIDs) > 0 {
			if n, err := phonenumbers.Parse(s.CallerIDs[0], ""); err == nil {
				r := phonenumbers.GetRegionCodeForNumber(n)
				if r == "" || r == "ZZ" {
					// Fictional ranges (555-01xx) are not valid numbers; take
					// the country code's main country instead.
					r = phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
				}
				if r != "ZZ" && r != "001" {
					s.Country = r
				}
			}
		}
		s.Country = strings.ToUpper(s.Country)
	}
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}
