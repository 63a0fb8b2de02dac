package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// valid returns a configuration that passes Validate.
func valid() *Config {
	c := &Config{
		Auth: Auth{TokenSecret: strings.Repeat("k", 32), AdminToken: "admin-token-0123456789"},
		SIP:  SIP{Trunk: "sip:127.0.0.1:5080"},
		Seats: []Seat{
			{ID: "agent-7", SIPUsername: "agent7", SIPPassword: "pw", CallerIDs: []string{"+14155550100"}, Country: "US"},
			{ID: "agent-8", CallerIDs: []string{"+442071838750", "+442071838751"}},
		},
		Webhook: Webhook{URL: "https://crm.example.com/hooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	}
	presetSwitches(c)
	c.SetDefaults()
	return c
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadSpecExample(t *testing.T) {
	c, err := Load("testdata/spec.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())

	assert.Equal(t, "127.0.0.1:8080", c.HTTP.Listen)
	assert.Equal(t, []string{"https://crm.example.com"}, c.HTTP.AllowedOrigins)
	assert.Equal(t, "sip:127.0.0.1:5080", c.SIP.Trunk)
	assert.Equal(t, "127.0.0.1", c.SIP.Domain, "domain defaults to the trunk host")
	assert.Equal(t, []string{"PCMU", "PCMA"}, c.SIP.Codecs)
	assert.Equal(t, 60*time.Second, c.SIP.RingTimeout)
	assert.Equal(t, 30*time.Second, c.SIP.MediaTimeout)
	assert.Equal(t, 10*time.Second, c.Webhook.Timeout)
	assert.Equal(t, DefaultWebhookEvents(), c.Webhook.Events)
	assert.Equal(t, "sqlite:///var/lib/bridge/bridge.db", c.Store.DSN)

	seat, ok := c.Seat("agent-7")
	require.True(t, ok)
	assert.Equal(t, "agent7", seat.SIPUsername)
	assert.Equal(t, 1, seat.MaxCalls)
	_, ok = c.Seat("nobody")
	assert.False(t, ok)

	tr, host, port := c.SIP.ListenParts()
	assert.Equal(t, []any{"udp", "127.0.0.1", 5070}, []any{tr, host, port})
	lo, hi := c.SIP.RTPPortRange()
	assert.Equal(t, []int{20000, 20999}, []int{lo, hi})
}

func TestDefault(t *testing.T) {
	c := Default()
	assert.Equal(t, DefaultHTTPListen, c.HTTP.Listen)
	assert.Equal(t, DefaultSIPListen, c.SIP.Listen)
	assert.Equal(t, DefaultRTPPorts, c.SIP.RTPPorts)
	assert.Equal(t, []string{"PCMU", "PCMA"}, c.SIP.Codecs)
	assert.Equal(t, DefaultRingTimeout, c.SIP.RingTimeout)
	assert.Equal(t, DefaultMediaTimeout, c.SIP.MediaTimeout)
	assert.Equal(t, DefaultWebhookTimeout, c.Webhook.Timeout)
	assert.Equal(t, DefaultStoreDSN, c.Store.DSN)
	assert.Equal(t, "info", c.Log.Level)
	assert.Equal(t, "text", c.Log.Format)
	// Default alone lacks a secret, trunk and seats, and says so.
	err := c.Validate()
	require.ErrorIs(t, err, ErrInvalid)
	for _, key := range []string{"auth.token_secret", "sip.trunk", "seats:"} {
		assert.Contains(t, err.Error(), key)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown seat field", "seats:\n  - id: a\n    caller_ids: [\"+14155550100\"]\n    colour: red\n", []string{"line 4", "colour", "seats[]"}},
		{"unknown top-level key", "http:\n  listen: 127.0.0.1:1\nsips: {}\n", []string{"line 3", "sips"}},
		{"unknown nested key", "sip:\n  trunk: sip:a\n  rtp_port: 1-2\n", []string{"line 3", "rtp_port", "sip"}},
		{"bad duration", "sip:\n  ring_timeout: soon\n", []string{"line 2", "soon"}},
		{"bad yaml", "http: [\n", []string{"line"}},
		{"wrong type", "webrtc:\n  udp_port: many\n", []string{"line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.yaml))
			require.ErrorIs(t, err, ErrParse)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, ErrParse)
}

func TestLoadEmptyFile(t *testing.T) {
	c, err := Load(writeFile(t, "# nothing but a comment\n"))
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
}

func TestLoadEnvOverridesFile(t *testing.T) {
	t.Setenv("BRIDGE_HTTP_LISTEN", "127.0.0.1:9999")
	t.Setenv("BRIDGE_SIP_TRUNK", "sip:10.0.0.1:5060;transport=tcp")
	c, err := Load("testdata/spec.yaml")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9999", c.HTTP.Listen)
	assert.Equal(t, "sip:10.0.0.1:5060;transport=tcp", c.SIP.Trunk)
	assert.Equal(t, "10.0.0.1", c.SIP.Domain)
	assert.Equal(t, "udp:127.0.0.1:5070", c.SIP.Listen, "keys without a variable keep the file's value")
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{"strings", []string{"BRIDGE_AUTH_TOKEN_SECRET=abc", "BRIDGE_WEBHOOK_SECRET=whsec_x", "BRIDGE_STORE_DSN=sqlite://x.db"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "abc", c.Auth.TokenSecret)
			assert.Equal(t, "whsec_x", c.Webhook.Secret)
			assert.Equal(t, "sqlite://x.db", c.Store.DSN)
		}},
		{"comma list", []string{"BRIDGE_WEBRTC_ICE_INTERFACES=127.0.0.1, eth0 ,"}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"127.0.0.1", "eth0"}, c.WebRTC.ICEInterfaces)
		}},
		{"json list", []string{`BRIDGE_HTTP_ALLOWED_ORIGINS=["https://a.example","*"]`}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"https://a.example", "*"}, c.HTTP.AllowedOrigins)
		}},
		{"numbers, bools, durations", []string{"BRIDGE_WEBRTC_UDP_PORT=3478", "BRIDGE_WEBHOOK_ALLOW_PRIVATE=true", "BRIDGE_SIP_RING_TIMEOUT=45s", "BRIDGE_SIP_MAX_CALL_DURATION=2h"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 3478, c.WebRTC.UDPPort)
			assert.True(t, c.Webhook.AllowPrivate)
			assert.Equal(t, 45*time.Second, c.SIP.RingTimeout)
			assert.Equal(t, 2*time.Hour, c.SIP.MaxCallDuration)
		}},
		{"seats as JSON with file key names", []string{`BRIDGE_SEATS=[{"id":"a","sip_username":"u","sip_password":"p","caller_ids":["+14155550100"],"max_calls":2}]`}, func(t *testing.T, c *Config) {
			require.Len(t, c.Seats, 1)
			assert.Equal(t, Seat{ID: "a", SIPUsername: "u", SIPPassword: "p", CallerIDs: []string{"+14155550100"}, MaxCalls: 2}, c.Seats[0])
		}},
		{"ice servers and headers as JSON", []string{`BRIDGE_WEBRTC_ICE_SERVERS=[{"urls":["stun:stun.example:3478"]}]`, `BRIDGE_WEBHOOK_HEADERS={"X-Api-Key":"k"}`}, func(t *testing.T, c *Config) {
			assert.Equal(t, []ICEServer{{URLs: []string{"stun:stun.example:3478"}}}, c.WebRTC.ICEServers)
			assert.Equal(t, map[string]string{"X-Api-Key": "k"}, c.Webhook.Headers)
		}},
		{"empty and foreign variables ignored", []string{"BRIDGE_HTTP_LISTEN=", "BRIDGE_NOPE=1", "HTTP_LISTEN=x"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "", c.HTTP.Listen)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{}
			require.NoError(t, ApplyEnv(c, tt.env))
			tt.check(t, c)
		})
	}
}

func TestApplyEnvErrors(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"bad int", "BRIDGE_WEBRTC_UDP_PORT=many", "BRIDGE_WEBRTC_UDP_PORT"},
		{"bad bool", "BRIDGE_SEATS_X=1", ""}, // not a key: ignored
		{"bad duration", "BRIDGE_SIP_MEDIA_TIMEOUT=30", "duration"},
		{"seats not JSON", "BRIDGE_SEATS=agent-7", "want JSON"},
		{"unknown seat key", `BRIDGE_SEATS=[{"id":"a","colour":"red"}]`, "colour"},
		{"bool", "BRIDGE_WEBHOOK_ALLOW_PRIVATE=yes", "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ApplyEnv(&Config{}, []string{tt.env})
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrEnv)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// Every key of the file has a variable, and the variable names are the ones
// the documentation promises.
func TestEveryKeyHasEnvVar(t *testing.T) {
	keys := Keys()
	for _, k := range []string{"http.listen", "auth.token_secret", "sip.trunk", "webrtc.ice_interfaces", "webhook.secret", "seats", "store.dsn"} {
		assert.Contains(t, keys, k)
	}
	c := &Config{}
	var env []string
	for _, k := range keys {
		env = append(env, EnvVar(k)+"=")
	}
	require.NoError(t, ApplyEnv(c, env))
	assert.Equal(t, "BRIDGE_WEBRTC_NAT_1TO1_IPS", EnvVar("webrtc.nat_1to1_ips"))
}

func TestValidateOK(t *testing.T) {
	c := valid()
	require.NoError(t, c.Validate())
	s, _ := c.Seat("agent-8")
	assert.Equal(t, "GB", s.Country, "country derived from the first caller id")
	assert.Equal(t, 1, s.MaxCalls)

	// Fictional 555-01xx caller ids are fine, and their country derives too.
	c.Seats = append(c.Seats, Seat{ID: "test", CallerIDs: []string{"+15550100001"}})
	c.SetDefaults()
	require.NoError(t, c.Validate())
	s, _ = c.Seat("test")
	assert.Equal(t, "US", s.Country)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"duplicate caller id across seats", func(c *Config) { c.Seats[1].CallerIDs = []string{"+14155550100"} },
			[]string{"seats[1] (agent-8)", "+14155550100", `seat "agent-7"`}},
		{"caller id not E.164", func(c *Config) { c.Seats[0].CallerIDs = []string{"(415) 555-0100"} }, []string{"seats[0] (agent-7)", "not E.164"}},
		{"no caller ids", func(c *Config) { c.Seats[0].CallerIDs = nil }, []string{"caller_ids is empty"}},
		{"duplicate seat id", func(c *Config) { c.Seats[1].ID = "agent-7" }, []string{"also seats[0]'s id"}},
		{"bad seat id", func(c *Config) { c.Seats[0].ID = "agent 7/x" }, []string{"id \"agent 7/x\""}},
		{"bad country", func(c *Config) { c.Seats[0].Country = "XX" }, []string{"country \"XX\""}},
		{"max calls", func(c *Config) { c.Seats[0].MaxCalls = -1 }, []string{"max_calls -1"}},
		{"no seats and no admin api", func(c *Config) { c.Seats = nil; c.Auth.AdminToken = "" }, []string{"seats: no seats"}},
		{"bad port range", func(c *Config) { c.SIP.RTPPorts = "30000-20000" }, []string{"sip.rtp_ports", "above high port"}},
		{"port range garbage", func(c *Config) { c.SIP.RTPPorts = "lots" }, []string{"sip.rtp_ports", "low-high"}},
		{"privileged ports", func(c *Config) { c.SIP.RTPPorts = "10-20" }, []string{"1024-65535"}},
		{"single port", func(c *Config) { c.SIP.RTPPorts = "20000-20000" }, []string{"one port"}},
		{"trunk does not parse", func(c *Config) { c.SIP.Trunk = "sip:a.example:port" }, []string{"sip.trunk", "RFC 3261"}},
		{"trunk not sip", func(c *Config) { c.SIP.Trunk = "http://x" }, []string{"sip.trunk"}},
		{"trunk without host", func(c *Config) { c.SIP.Trunk = "sip:" }, []string{"sip.trunk", "no host"}},
		{"trunk bad transport", func(c *Config) { c.SIP.Trunk = "sip:a.example;transport=sctp" }, []string{"transport=sctp"}},
		{"no trunk", func(c *Config) { c.SIP.Trunk = "" }, []string{"sip.trunk: not set"}},
		{"unknown codec", func(c *Config) { c.SIP.Codecs = []string{"PCMU", "G729"} }, []string{"sip.codecs[1]", "G729"}},
		{"duplicate codec", func(c *Config) { c.SIP.Codecs = []string{"PCMU", "PCMU"} }, []string{"listed twice"}},
		{"short token secret", func(c *Config) { c.Auth.TokenSecret = "short" }, []string{"auth.token_secret", "too short"}},
		{"admin token equals secret", func(c *Config) { c.Auth.AdminToken = c.Auth.TokenSecret }, []string{"auth.admin_token", "differ"}},
		{"bad listen address", func(c *Config) { c.HTTP.Listen = "8080" }, []string{"http.listen"}},
		{"bad sip listen transport", func(c *Config) { c.SIP.Listen = "sctp:127.0.0.1:5060" }, []string{"sip.listen"}},
		{"sip listen in rtp range", func(c *Config) { c.SIP.Listen = "udp:127.0.0.1:20002" }, []string{"sip.listen", "inside sip.rtp_ports"}},
		{"bad origin", func(c *Config) { c.HTTP.AllowedOrigins = []string{"crm.example.com"} }, []string{"http.allowed_origins[0]"}},
		{"bad external ip", func(c *Config) { c.SIP.ExternalIP = "my.host" }, []string{"sip.external_ip"}},
		{"udp port in rtp range", func(c *Config) { c.WebRTC.UDPPort = 20500 }, []string{"webrtc.udp_port", "inside sip.rtp_ports"}},
		{"ice ranges overlap", func(c *Config) { c.WebRTC.PortRange = "20900-21100" }, []string{"webrtc.port_range", "overlaps"}},
		{"udp port and range", func(c *Config) { c.WebRTC.UDPPort = 3478; c.WebRTC.PortRange = "40000-40100" }, []string{"webrtc.port_range", "remove one"}},
		{"bad nat ip", func(c *Config) { c.WebRTC.NAT1To1IPs = []string{"1.2.3"} }, []string{"webrtc.nat_1to1_ips[0]"}},
		{"turn without credentials", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"turn:t.example"}}} }, []string{"webrtc.ice_servers[0]", "username and credential"}},
		{"bad ice scheme", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"http://t"}}} }, []string{"webrtc.ice_servers[0]"}},
		{"bad durations", func(c *Config) { c.SIP.RingTimeout = -1; c.SIP.MediaTimeout = -1 }, []string{"sip.ring_timeout", "sip.media_timeout"}},
		{"bad log", func(c *Config) { c.Log.Level = "loud"; c.Log.Format = "xml" }, []string{"log.level", "log.format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := valid()
	c.SIP.RTPPorts = "x"
	c.Auth.TokenSecret = ""
	c.Seats[0].CallerIDs = []string{"123"}
	err := c.Validate()
	var p Problems
	require.ErrorAs(t, err, &p)
	assert.Len(t, p, 3)
	assert.Contains(t, err.Error(), "(3 problems)")
}

func TestListenParts(t *testing.T) {
	tests := []struct {
		in        string
		transport string
		host      string
		port      int
	}{
		{"udp:127.0.0.1:5070", "udp", "127.0.0.1", 5070},
		{"TCP:0.0.0.0:5060", "tcp", "0.0.0.0", 5060},
		{"tls:[::1]:5061", "tls", "::1", 5061},
		{"127.0.0.1:5070", "udp", "127.0.0.1", 5070},
		{"[::1]:5070", "udp", "::1", 5070},
		{"sctp:1.2.3.4:5", "", "", 0},
		{"nonsense", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tr, h, p := SIP{Listen: tt.in}.ListenParts()
			assert.Equal(t, tt.transport, tr)
			assert.Equal(t, tt.host, h)
			assert.Equal(t, tt.port, p)
		})
	}
}

// docs/CONFIG.md documents every key with its variable.
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	require.NoError(t, err)
	for _, k := range Keys() {
		if k == "seats" {
			st := reflect.TypeOf(Seat{})
			for i := 0; i < st.NumField(); i++ {
				sk, _, _ := strings.Cut(st.Field(i).Tag.Get("yaml"), ",")
				assert.Contains(t, string(doc), "`seats[]."+sk+"`")
			}
		} else {
			assert.Contains(t, string(doc), "`"+k+"`", "key %s undocumented", k)
		}
		assert.Contains(t, string(doc), "`"+EnvVar(k)+"`", "variable of %s undocumented", k)
	}
}

func TestZeroSwitchesStayOff(t *testing.T) {
	c, err := Parse([]byte("sip:\n  session_expires: 0s\n  options_interval: 0s\n  media_timeout: 0s\n"))
	require.NoError(t, err)
	assert.Zero(t, c.SIP.SessionExpires)
	assert.Zero(t, c.SIP.OptionsInterval)
	assert.Zero(t, c.SIP.MediaTimeout)
	c, err = Parse([]byte("sip:\n  trunk: sip:127.0.0.1\n"))
	require.NoError(t, err)
	assert.Equal(t, DefaultSessionExpires, c.SIP.SessionExpires)
	assert.Equal(t, DefaultOptionsInterval, c.SIP.OptionsInterval)
	c = Default()
	require.NoError(t, ApplyEnv(c, []string{"BRIDGE_SIP_OPTIONS_INTERVAL=0s"}))
	c.SetDefaults()
	assert.Zero(t, c.SIP.OptionsInterval)
}
