package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/callbridge/callbridge/webhook"
)

// Event kinds a call publishes, in order.
const (
	eventInitiated = webhook.TypeInitiated
	eventRinging   = webhook.TypeRinging
	eventAnswered  = webhook.TypeAnswered
	eventCompleted = webhook.TypeCompleted
)

// publish hands every call event to the webhook publisher, which keeps
// the call record and posts the types webhook.events lists.
func (b *Bridge) publish(c *Call, typ string) {
	if b.events == nil {
		return
	}
	ev := webhook.NewEvent(typ, c.record(typ))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.events.Publish(ctx, ev); err != nil {
		c.log.Error("call event not recorded", "type", typ, "error", err)
	}
}

// record is the call as the webhook describes it (webhook.md, "Event").
func (c *Call) record(typ string) webhook.CallRecord {
	info := c.Info()
	rec := webhook.CallRecord{
		CallID:    info.CallID,
		Seat:      info.Seat,
		Direction: webhook.DirectionOutbound,
		From:      info.From,
		To:        info.To,
		StartedAt: info.StartedAt,
		SIPCallID: info.SIPCallID,
	}
	if len(c.Metadata) > 0 {
		var m map[string]any
		if json.Unmarshal(c.Metadata, &m) == nil {
			rec.Metadata = m
		}
	}
	switch typ {
	case eventInitiated:
		rec.Status = webhook.StatusInitiated
	case eventRinging:
		rec.Status = webhook.StatusRinging
	case eventAnswered:
		rec.Status = webhook.StatusAnswered
	case eventCompleted:
		rec.Status = info.Status
	}
	if info.AnsweredAt != nil {
		rec.AnsweredAt = *info.AnsweredAt
	}
	if info.EndedAt != nil {
		rec.EndedAt = *info.EndedAt
		if info.AnsweredAt != nil {
			rec.DurationS = int(info.EndedAt.Sub(*info.AnsweredAt) / time.Second)
		}
	}
	if info.Cause != nil && typ == eventCompleted {
		rec.Hangup = &webhook.Hangup{By: info.Cause.By, SIPCode: info.Cause.SIPCode, Q850: info.Cause.Q850, Reason: info.Cause.Reason}
	}
	if typ == eventCompleted && (info.Media.Uplink != nil || info.Media.Downlink != nil) {
		q := info.Quality()
		rec.Quality = &webhook.Quality{
			MOS:         q.MOS,
			Uplink:      webhook.LegQuality{Packets: int64(q.Uplink.Packets), Lost: q.Uplink.Lost, JitterMS: q.Uplink.JitterMs, Silent: q.Uplink.Silent},
			Downlink:    webhook.LegQuality{Packets: int64(q.Downlink.Packets), Lost: q.Downlink.Lost, JitterMS: q.Downlink.JitterMs, Silent: q.Downlink.Silent},
			OneWayAudio: q.OneWayAudio,
		}
	}
	return rec
}
