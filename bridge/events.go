package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/callbridge/callbridge/record"
)

// Event kinds a call publishes, in order.
const (
	eventInitiated = record.TypeInitiated
	eventRinging   = record.TypeRinging
	eventAnswered  = record.TypeAnswered
	eventCompleted = record.TypeCompleted
)

// publish hands every call event to the webhook publisher, which keeps
// the call record and posts the types webhook.events lists.
func (b *Bridge) publish(c *Call, typ string) {
	if b.events == nil {
		return
	}
	ev := record.NewEvent(typ, c.record(typ))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.events.Publish(ctx, ev); err != nil {
		c.log.Error("call event not recorded", "type", typ, "error", err)
	}
}

// record is the call as the webhook describes it (webhook.md, "Event").
func (c *Call) record(typ string) record.CallRecord {
	info := c.Info()
	rec := record.CallRecord{
		CallID:    info.CallID,
		Seat:      info.Seat,
		Direction: c.direction,
		From:      info.From,
		To:        info.To,
		StartedAt: info.StartedAt,
		SIPCallID: info.SIPCallID,
		Route:     info.Route,
		Trunk:     info.Trunk,
		Attempts:  info.Attempts,
	}
	c.mu.Lock()
	if c.answeredBy != nil {
		by := *c.answeredBy
		rec.AnsweredBy = &by
	}
	if typ == eventCompleted {
		rec.MissedReason = c.missed
	}
	c.mu.Unlock()
	if len(c.Metadata) > 0 {
		var m map[string]any
		if json.Unmarshal(c.Metadata, &m) == nil {
			rec.Metadata = m
		}
	}
	switch typ {
	case eventInitiated:
		rec.Status = record.StatusInitiated
	case eventRinging:
		rec.Status = record.StatusRinging
	case eventAnswered:
		rec.Status = record.StatusAnswered
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
		rec.Hangup = info.Cause
	}
	if typ == eventCompleted && (info.Media.Uplink != nil || info.Media.Downlink != nil) {
		q := info.Quality()
		rec.Quality = &q
	}
	return rec
}
