package webhook

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/callbridge/callbridge/config"
)

// headerName is an RFC 9110 §5.6.2 token.
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// checkWebhookURL rejects non-HTTP URLs and literal loopback/private targets
// unless webhook.allow_private is set (names are checked again at delivery).
func checkURL(c *config.Config, v *config.Problems, key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.Add(key, "%q is not an http(s) URL", raw)
		return
	}
	if c.Webhook.AllowPrivate {
		return
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		v.Add(key, "%q is a loopback target; set webhook.allow_private: true to allow it (demo and tests only)", raw)
		return
	}
	if ip, err := netip.ParseAddr(h); err == nil && !IsPublicIP(ip) {
		v.Add(key, "%q is a loopback/private address; set webhook.allow_private: true to allow it", raw)
	}
}

// CheckConfig validates the webhook.* keys and the seats' webhook_url, for
// config.Validate.
func CheckConfig(c *config.Config, v *config.Problems) {
	for i, s := range c.Seats {
		if s.WebhookURL != "" {
			checkURL(c, v, fmt.Sprintf("seats[%d] (%s).webhook_url", i, s.ID), s.WebhookURL)
		}
	}
	w := &c.Webhook
	if w.URL != "" {
		checkURL(c, v, "webhook.url", w.URL)
	}
	anyURL := w.URL != ""
	for _, s := range c.Seats {
		anyURL = anyURL || s.WebhookURL != ""
	}
	switch {
	case w.Secret == "" && anyURL:
		v.Add("webhook.secret", "not set but a webhook URL is; generate one with `echo whsec_$(openssl rand -base64 32)`")
	case w.Secret != "":
		if _, err := ParseSecret(w.Secret); err != nil {
			v.Add("webhook.secret", "%v", strings.TrimPrefix(err.Error(), ErrBadSecret.Error()+": "))
		}
	}
	if w.Timeout <= 0 || w.Timeout > 5*time.Minute {
		v.Add("webhook.timeout", "%s: must be between 1ms and 5m (default %s)", w.Timeout, config.DefaultWebhookTimeout)
	}
	known := map[string]bool{config.EventInitiated: true, config.EventRinging: true, config.EventAnswered: true, config.EventCompleted: true}
	for i, e := range w.Events {
		if !known[e] {
			v.Add(fmt.Sprintf("webhook.events[%d]", i), "unknown event type %q; want call.initiated, call.ringing, call.answered or call.completed", e)
		}
	}
	if strings.TrimSpace(w.ContentType) == "" || strings.ContainsAny(w.ContentType, "\r\n") {
		v.Add("webhook.content_type", "%q is not a media type", w.ContentType)
	}
	for name, val := range w.Headers {
		lower := strings.ToLower(name)
		switch {
		case !headerName.MatchString(name):
			v.Add("webhook.headers", "%q is not a valid header name", name)
		case strings.HasPrefix(lower, "webhook-") || lower == "content-type" || lower == "content-length" || lower == "host" || lower == "transfer-encoding":
			v.Add("webhook.headers", "%q is set by the bridge and cannot be overridden", name)
		case strings.ContainsAny(val, "\r\n"):
			v.Add("webhook.headers", "value of %q contains a line break", name)
		}
	}
	if w.Template != "" {
		if err := CheckTemplate(w.Template, w.ContentType); err != nil {
			v.Add("webhook.template", "%v", err)
		}
	}
}

// ConfigFrom returns the delivery settings of webhook.* and the seats'
// webhook_url overrides, for webhook.NewSender or webhook.NewOutbox, with
// store.node_id as the outbox's node.
func ConfigFrom(c *config.Config) SenderConfig {
	seatURLs := map[string]string{}
	for _, s := range c.Seats {
		if s.WebhookURL != "" {
			seatURLs[s.ID] = s.WebhookURL
		}
	}
	return SenderConfig{
		URL:          c.Webhook.URL,
		SeatURLs:     seatURLs,
		Secret:       c.Webhook.Secret,
		Timeout:      c.Webhook.Timeout,
		AllowPrivate: c.Webhook.AllowPrivate,
		Events:       c.Webhook.Events,
		Template:     c.Webhook.Template,
		ContentType:  c.Webhook.ContentType,
		Headers:      c.Webhook.Headers,
		Node:         c.Store.NodeID,
	}
}
