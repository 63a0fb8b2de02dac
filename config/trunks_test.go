package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func withTrunks() *Config {
	c := valid()
	c.SIP.Trunk = ""
	c.Trunks = []Trunk{
		{Name: "a", Address: "sip:a.carrier.example:5060"},
		{Name: "b", Address: "sip:b.carrier.example;transport=tcp", Credentials: CredentialsTrunk, Username: "acct", Password: "pw",
			Codecs: []string{"pcma"}, MaxCalls: 30,
			Identity: TrunkIdentity{Header: "ppi", Privacy: "id", FromHost: "carrier-b.example", UserPhone: true},
			Headers:  map[string]string{"X-Account": "{{.Seat}}"}},
	}
	c.Routes = []Route{
		{ID: "uk", Prefix: "+44", Trunks: []RouteTarget{{Trunk: "b"}, {Trunk: "a"}}},
		{ID: "rest", Prefix: "+", Trunks: []RouteTarget{{Trunk: "a"}}},
	}
	c.SetDefaults()
	return c
}

func TestTrunksValid(t *testing.T) {
	c := withTrunks()
	require.NoError(t, c.Validate())
	list := c.TrunkList()
	require.Len(t, list, 2)
	a, b := list[0], list[1]
	assert.Equal(t, []string{"PCMU", "PCMA"}, a.Codecs, "sip.codecs by default")
	assert.Equal(t, []string{"PCMA"}, b.Codecs)
	assert.Equal(t, CredentialsSeat, a.Credentials)
	require.NotNil(t, a.OptionsInterval)
	assert.Equal(t, DefaultOptionsInterval, *a.OptionsInterval)
	assert.Equal(t, "carrier-b.example", b.Identity.FromHost)
}

func TestTrunkShorthand(t *testing.T) {
	c := valid()
	off := time.Duration(0)
	c.SIP.OptionsInterval = off
	list := c.TrunkList()
	require.Len(t, list, 1)
	assert.Equal(t, DefaultTrunkName, list[0].Name)
	assert.Equal(t, "sip:127.0.0.1:5080", list[0].Address)
	assert.Equal(t, "127.0.0.1", list[0].Identity.FromHost, "sip.domain defaults to the trunk's host")
	assert.Equal(t, off, *list[0].OptionsInterval)
}

func TestTrunksValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"both shorthand and list", func(c *Config) { c.SIP.Trunk = "sip:x.example" }, []string{"sip.trunk", "one or the other"}},
		{"neither", func(c *Config) { c.Trunks, c.Routes = nil, nil }, []string{"sip.trunk: not set"}},
		{"no name", func(c *Config) { c.Trunks[0].Name = "" }, []string{"trunks[0].name"}},
		{"duplicate name", func(c *Config) { c.Trunks[1].Name = "a" }, []string{"trunks[1].name", "also trunks[0]"}},
		{"no address", func(c *Config) { c.Trunks[0].Address = "" }, []string{"trunks[0].address: not set"}},
		{"bad address", func(c *Config) { c.Trunks[0].Address = "http://x" }, []string{"trunks[0].address"}},
		{"bad transport", func(c *Config) { c.Trunks[0].Transport = "sctp" }, []string{"trunks[0].transport"}},
		{"trunk credentials without user", func(c *Config) { c.Trunks[1].Username = "" }, []string{"trunks[1].username"}},
		{"bad credentials", func(c *Config) { c.Trunks[0].Credentials = "both" }, []string{"trunks[0].credentials"}},
		{"bad codec", func(c *Config) { c.Trunks[0].Codecs = []string{"G729"} }, []string{"trunks[0].codecs[0]"}},
		{"max calls", func(c *Config) { c.Trunks[0].MaxCalls = -1 }, []string{"trunks[0].max_calls"}},
		{"identity header", func(c *Config) { c.Trunks[0].Identity.Header = "rpid" }, []string{"trunks[0].identity.header"}},
		{"privacy", func(c *Config) { c.Trunks[0].Identity.Privacy = "id;secret" }, []string{"trunks[0].identity.privacy"}},
		{"from host", func(c *Config) { c.Trunks[0].Identity.FromHost = "a@b" }, []string{"trunks[0].identity.from_host"}},
		{"reserved header", func(c *Config) { c.Trunks[0].Headers = map[string]string{"P-Asserted-Identity": "x"} }, []string{"trunks[0].headers.P-Asserted-Identity"}},
		{"bad template", func(c *Config) { c.Trunks[0].Headers = map[string]string{"X-A": "{{.Seat"} }, []string{"trunks[0].headers.X-A", "template"}},
		{"route without match", func(c *Config) { c.Routes[0].Prefix = "" }, []string{"routes[0].prefix"}},
		{"route bad prefix", func(c *Config) { c.Routes[0].Prefix = "44" }, []string{"routes[0].prefix"}},
		{"route bad country", func(c *Config) { c.Routes[0].Prefix, c.Routes[0].Country = "", "UK" }, []string{"routes[0].country", "UK"}},
		{"route unknown trunk", func(c *Config) { c.Routes[1].Trunks[0].Trunk = "z" }, []string{"routes[1].trunks[0].trunk", `"z"`}},
		{"route duplicate id", func(c *Config) { c.Routes[1].ID = "uk" }, []string{"routes[1].id"}},
		{"route no trunks", func(c *Config) { c.Routes[0].Trunks = nil }, []string{"routes[0].trunks"}},
		{"config seats mode", func(c *Config) { c.Provisioning.ConfigSeats = "merge" }, []string{"provisioning.config_seats"}},
		{"poll interval", func(c *Config) { c.Provisioning.PollInterval = time.Hour }, []string{"provisioning.poll_interval"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := withTrunks()
			tt.mutate(c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestTrunksFromYAMLAndEnv(t *testing.T) {
	c, err := Parse([]byte(`
auth: {token_secret: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", admin_token: "admin-token-0123456789"}
trunks:
  - name: a
    address: "sip:a.example"
    options_interval: 0s
    identity: {header: pai, privacy: none, from_host: a.example, user_phone: true}
routes:
  - {id: all, prefix: "+", trunks: [{trunk: a}]}
`))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Len(t, c.Trunks, 1)
	require.NotNil(t, c.Trunks[0].OptionsInterval)
	assert.Zero(t, *c.Trunks[0].OptionsInterval, "an explicit 0 turns probing off")
	assert.Equal(t, TrunkIdentity{Header: "pai", Privacy: "none", FromHost: "a.example", UserPhone: true}, c.Trunks[0].Identity)
	assert.Equal(t, ConfigSeatsDeclarative, c.Provisioning.ConfigSeats)

	require.NoError(t, ApplyEnv(c, []string{
		`BRIDGE_TRUNKS=[{"name":"b","address":"sip:b.example","max_calls":4}]`,
		`BRIDGE_ROUTES=[{"id":"all","prefix":"+","trunks":[{"trunk":"b"}]}]`,
		`BRIDGE_PROVISIONING_CONFIG_SEATS=bootstrap`,
	}))
	c.SetDefaults()
	require.NoError(t, c.Validate())
	assert.Equal(t, "b", c.Trunks[0].Name)
	assert.Equal(t, 4, c.Trunks[0].MaxCalls)
	assert.Equal(t, ConfigSeatsBootstrap, c.Provisioning.ConfigSeats)
}
