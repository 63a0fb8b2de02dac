package config_test

// The webhook.* and store.* sections are checked by the packages that own
// them; these tests run them as the bridge binary does.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/store/backend"
	"github.com/callbridge/callbridge/webhook"
)

var sections = []config.Check{webhook.CheckConfig, backend.CheckConfig}

func TestValidateSections(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		want   []string
	}{
		{"webhook secret without prefix", func(c *config.Config) { c.Webhook.Secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, []string{"webhook.secret", "whsec_"}},
		{"webhook secret not base64", func(c *config.Config) { c.Webhook.Secret = "whsec_!!!" }, []string{"webhook.secret", "base64"}},
		{"webhook secret too short", func(c *config.Config) { c.Webhook.Secret = "whsec_c2hvcnQ=" }, []string{"webhook.secret", "24 to 64"}},
		{"webhook url without secret", func(c *config.Config) { c.Webhook.Secret = "" }, []string{"webhook.secret: not set"}},
		{"webhook private target", func(c *config.Config) { c.Webhook.URL = "http://127.0.0.1:9000/h" }, []string{"webhook.url", "allow_private"}},
		{"webhook localhost target", func(c *config.Config) { c.Webhook.URL = "http://localhost/h" }, []string{"webhook.url", "allow_private"}},
		{"seat webhook private", func(c *config.Config) { c.Seats[0].WebhookURL = "http://10.1.2.3/h" }, []string{"seats[0] (agent-7).webhook_url"}},
		{"webhook url not http", func(c *config.Config) { c.Webhook.URL = "ftp://x/y" }, []string{"webhook.url", "http(s)"}},
		{"unknown event", func(c *config.Config) { c.Webhook.Events = []string{"call.exploded"} }, []string{"webhook.events[0]"}},
		{"reserved header", func(c *config.Config) { c.Webhook.Headers = map[string]string{"Webhook-Signature": "x"} }, []string{"webhook.headers", "cannot be overridden"}},
		{"webhook timeout", func(c *config.Config) { c.Webhook.Timeout = time.Hour }, []string{"webhook.timeout"}},
		{"bad postgres dsn", func(c *config.Config) { c.Store.DSN = "postgres://db/bridge?sslmode=sometimes" }, []string{"store.dsn", "postgres"}},
		{"unknown store", func(c *config.Config) { c.Store.DSN = "mysql://db/bridge" }, []string{"store.dsn", "sqlite://PATH", "postgres://"}},
		{"bad node id", func(c *config.Config) { c.Store.NodeID = "node one" }, []string{"store.node_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Valid()
			require.NoError(t, c.Validate(sections...))
			tt.mutate(c)
			err := c.Validate(sections...)
			require.ErrorIs(t, err, config.ErrInvalid)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSQLitePath(t *testing.T) {
	p, err := backend.SQLitePath("sqlite:///var/lib/bridge/bridge.db")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/bridge/bridge.db", p)
	p, err = backend.SQLitePath("sqlite://bridge.db")
	require.NoError(t, err)
	assert.Equal(t, "bridge.db", p)
	_, err = backend.SQLitePath("mysql://x")
	require.Error(t, err)
	_, err = backend.SQLitePath("postgres://db/bridge")
	require.Error(t, err, "not a file")
}

func TestStoreDSNs(t *testing.T) {
	for _, dsn := range []string{
		"sqlite://bridge.db",
		"postgres://bridge:pw@db.example:5432/bridge?sslmode=verify-full",
		"postgresql://bridge@10.0.0.5/bridge",
	} {
		t.Run(dsn, func(t *testing.T) {
			c := config.Valid()
			c.Store.DSN, c.Store.NodeID = dsn, "bridge-2.eu:1"
			require.NoError(t, c.Validate(sections...))
			assert.Equal(t, "bridge-2.eu:1", webhook.ConfigFrom(c).Node)
		})
	}
}

func TestWebhookTemplateValidation(t *testing.T) {
	tests := []struct {
		name, tmpl, contentType, want string
	}{
		{"does not parse", `{"id": {{.ID}`, "", "webhook.template"},
		{"not JSON", `{"to": {{.Call.To}}}`, "", "not valid JSON"},
		{"nil hangup on early events", `{"by": {{json .Call.Hangup.By}}}`, "", "call.initiated"},
		{"unknown field", `{"x": {{json .Call.Colour}}}`, "", "Colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Valid()
			c.Webhook.Template = tt.tmpl
			err := c.Validate(sections...)
			require.ErrorIs(t, err, config.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	c := config.Valid()
	c.Webhook.Template = `{"CallObject": {{json .Call.CallID}}{{with .Call.Hangup}}, "by": {{json .By}}{{end}}}`
	require.NoError(t, c.Validate(sections...))
	c.Webhook.Template = `call {{.Call.CallID}} ended`
	c.Webhook.ContentType = "text/plain"
	require.NoError(t, c.Validate(sections...), "non-JSON bodies are fine with a non-JSON content type")
}

func TestWebhookConfig(t *testing.T) {
	c := config.Valid()
	c.Seats[1].WebhookURL = "https://other.example/h"
	w := webhook.ConfigFrom(c)
	assert.Equal(t, c.Webhook.URL, w.URL)
	assert.Equal(t, map[string]string{"agent-8": "https://other.example/h"}, w.SeatURLs)
	assert.Equal(t, 10*time.Second, w.Timeout)
	assert.Equal(t, c.Webhook.Secret, w.Secret)
}

func TestAllowPrivate(t *testing.T) {
	c := config.Valid()
	c.Webhook.URL = "http://127.0.0.1:9000/h"
	c.Webhook.AllowPrivate = true
	require.NoError(t, c.Validate(sections...))
}
