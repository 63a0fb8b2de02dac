package config

import "github.com/callbridge/callbridge/webhook"

// WebhookConfig returns the delivery settings of webhook.* and the seats'
// webhook_url overrides, for webhook.NewSender or webhook.NewOutbox, with
// store.node_id as the outbox's node.
func (c *Config) WebhookConfig() webhook.SenderConfig {
	seatURLs := map[string]string{}
	for _, s := range c.Seats {
		if s.WebhookURL != "" {
			seatURLs[s.ID] = s.WebhookURL
		}
	}
	return webhook.SenderConfig{
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
