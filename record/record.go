// Package record is the shared vocabulary of a call as the outside world
// sees it: the call record and its events (docs/WEBHOOKS.md), statuses,
// hang-up causes (Q.850, RFC 3398) and quality. The bridge produces these,
// the webhook package signs and delivers them, the store keeps them; this
// package imports no other package of the project.
package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrBadEvent: an event lacks its type, id or call id.
var ErrBadEvent = errors.New("record: bad event")

// Event types (docs/WEBHOOKS.md).
const (
	TypeInitiated = "call.initiated"
	TypeRinging   = "call.ringing"
	TypeAnswered  = "call.answered"
	TypeCompleted = "call.completed"
)

// Call statuses. The last six are the final ones carried by
// call.completed; the first three are what earlier events carry.
const (
	StatusInitiated = "initiated"
	StatusRinging   = "ringing"
	StatusAnswered  = "answered"

	StatusCompleted = "completed" // answered, then ended
	StatusBusy      = "busy"      // 486/600 or Q.850 17
	StatusNoAnswer  = "no-answer" // ring timeout, 408/480
	StatusCanceled  = "canceled"  // the agent hung up before answer
	StatusFailed    = "failed"    // anything else
	StatusMissed    = "missed"    // an inbound call nobody answered; see MissedReason
)

// Call directions.
const (
	DirectionOutbound = "outbound" // placed by the agent
	DirectionInbound  = "inbound"  // from the trunk to a seat's DID
)

// Why an inbound call was missed (CallRecord.MissedReason).
const (
	MissedNoSession    = "no_session"     // no live session of the seat to ring
	MissedTimeout      = "timeout"        // nobody answered within inbound.ring_timeout
	MissedDeclined     = "declined"       // every ringing session declined
	MissedCallerHungUp = "caller_hung_up" // the caller hung up (CANCEL) while it rang
)

// AnsweredBy names who answered an inbound call: the seat and its
// signaling session.
type AnsweredBy struct {
	Seat      string `json:"seat"`
	SessionID string `json:"session_id"`
}

// Publisher receives every call event of the bridge, in call order. The
// implementation decides durability; Publish must not block on the network.
type Publisher interface {
	Publish(ctx context.Context, ev Event) error
}

// Event is one call event as posted.
type Event struct {
	// Type is one of the Type* constants.
	Type string
	// ID is "evt_" + a UUID; it is the webhook-id header, stable across retries.
	ID string
	// CreatedAt is when the event happened.
	CreatedAt time.Time
	// Call is the call record as of this event.
	Call CallRecord
}

// CallRecord is the call as the CRM sees it.
type CallRecord struct {
	CallID     string
	Seat       string
	Direction  string
	From       string
	To         string
	Status     string
	StartedAt  time.Time
	AnsweredAt time.Time // zero if never answered (JSON null)
	EndedAt    time.Time // zero until the end (JSON null)
	DurationS  int
	Hangup     *Cause // nil until the end
	SIPCallID  string
	Metadata   map[string]any
	Quality    *Quality // nil if no media flowed or not yet known
	// AnsweredBy is set on an answered inbound call.
	AnsweredBy *AnsweredBy
	// MissedReason says why an inbound call is missed (status missed).
	MissedReason string
	// Interrupted marks a call the bridge lost in a crash or restart; its
	// completion was written on the next start.
	Interrupted bool
	// Route is the route that chose the trunks; Trunk the trunk that
	// carried the call (or the last one tried); Attempts every trunk tried
	// or skipped, in order.
	Route    string
	Trunk    string
	Attempts []Attempt
}

// Attempt is one trunk a call tried (or skipped) on its way out.
type Attempt struct {
	Trunk string `json:"trunk"`
	// Result is answered, failover (the next trunk was tried), final (the
	// call ended with this trunk's answer) or skipped (not tried: down,
	// open, full).
	Result string `json:"result"`
	// Status is the SIP final status, 0 when none came.
	Status int `json:"status,omitempty"`
	// Reason says why: the status, no_response, or the skip reason.
	Reason    string `json:"reason,omitempty"`
	StartedAt Time   `json:"started_at"`
	// PDDMS is the post-dial delay: INVITE to first ringing or final response.
	PDDMS int64 `json:"pdd_ms,omitempty"`
}

// Quality summarizes the media of both directions.
type Quality struct {
	MOS         float64    `json:"mos"`
	Uplink      LegQuality `json:"uplink"`   // agent -> far end
	Downlink    LegQuality `json:"downlink"` // far end -> agent
	OneWayAudio bool       `json:"one_way_audio"`
	// Findings are the per-interval findings raised during the call, as
	// "direction:code" ("up" = agent -> far end), e.g. "down:high-jitter".
	Findings []string `json:"findings,omitempty"`
}

// LegQuality is one direction's RTP statistics (RFC 3550 §6.4.1).
type LegQuality struct {
	Packets  int64   `json:"packets"`
	Lost     int64   `json:"lost"`
	JitterMS float64 `json:"jitter_ms"` // mean over the call's seconds
	Silent   bool    `json:"silent"`    // no second of the call carried speech
	// Per-second figures over the call (record.Interval).
	Discarded     int64    `json:"discarded"`
	JitterMaxMS   float64  `json:"jitter_max_ms"`
	MOSMean       float64  `json:"mos_mean"`
	MOSWorst      float64  `json:"mos_worst"` // the worst second
	RTTMs         *float64 `json:"rtt_ms,omitempty"`
	OneWaySeconds int      `json:"one_way_seconds"` // dead while the other side spoke

	longestOneWay int // the longest such run, in seconds
}

// NewEventID returns a fresh "evt_" id.
func NewEventID() string {
	return "evt_" + strings.ReplaceAll(uuid.NewString(), "-", "")
}

// NewEvent returns an event of type typ for call, with a fresh id and the
// current time.
func NewEvent(typ string, call CallRecord) Event {
	return Event{Type: typ, ID: NewEventID(), CreatedAt: time.Now(), Call: call}
}

// Validate checks what every event needs.
func (e Event) Validate() error {
	switch e.Type {
	case TypeInitiated, TypeRinging, TypeAnswered, TypeCompleted:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrBadEvent, e.Type)
	}
	if e.Call.CallID == "" {
		return fmt.Errorf("%w: no call id", ErrBadEvent)
	}
	if e.ID == "" || strings.ContainsAny(e.ID, ". \r\n") {
		return fmt.Errorf("%w: id %q is empty or contains '.' or spaces", ErrBadEvent, e.ID)
	}
	return nil
}

// IsFinalStatus reports whether s is one of the statuses call.completed carries.
func IsFinalStatus(s string) bool {
	switch s {
	case StatusCompleted, StatusBusy, StatusNoAnswer, StatusCanceled, StatusFailed, StatusMissed:
		return true
	}
	return false
}

// TimeFormat is RFC 3339 with milliseconds, always in UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Time marshals as TimeFormat in UTC, or null when zero.
type Time struct{ T time.Time }

func (j Time) MarshalJSON() ([]byte, error) {
	if j.T.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + j.T.UTC().Format(TimeFormat) + `"`), nil
}

func (j *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		j.T = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	j.T = t.UTC()
	return nil
}

type eventJSON struct {
	Type      string     `json:"type"`
	ID        string     `json:"id"`
	CreatedAt Time       `json:"created_at"`
	Call      CallRecord `json:"call"`
}

// MarshalJSON writes the event exactly as docs/WEBHOOKS.md shows it.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(eventJSON{e.Type, e.ID, Time{e.CreatedAt}, e.Call})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{Type: w.Type, ID: w.ID, CreatedAt: w.CreatedAt.T, Call: w.Call}
	return nil
}

type callJSON struct {
	CallID      string         `json:"call_id"`
	Seat        string         `json:"seat"`
	Direction   string         `json:"direction"`
	From        string         `json:"from"`
	To          string         `json:"to"`
	Status      string         `json:"status"`
	StartedAt   Time           `json:"started_at"`
	AnsweredAt  Time           `json:"answered_at"`
	EndedAt     Time           `json:"ended_at"`
	DurationS   int            `json:"duration_s"`
	Hangup      *Cause         `json:"hangup,omitempty"`
	SIPCallID   string         `json:"sip_call_id,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Quality     *Quality       `json:"quality,omitempty"`
	AnsweredBy  *AnsweredBy    `json:"answered_by,omitempty"`
	Missed      string         `json:"missed_reason,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Route       string         `json:"route,omitempty"`
	Trunk       string         `json:"trunk,omitempty"`
	Attempts    []Attempt      `json:"attempts,omitempty"`
}

// MarshalJSON writes the record with the contract's field names; times are
// RFC 3339 UTC with milliseconds, unset times null.
func (c CallRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(callJSON{
		CallID: c.CallID, Seat: c.Seat, Direction: c.Direction, From: c.From, To: c.To,
		Status: c.Status, StartedAt: Time{c.StartedAt}, AnsweredAt: Time{c.AnsweredAt},
		EndedAt: Time{c.EndedAt}, DurationS: c.DurationS, Hangup: c.Hangup,
		SIPCallID: c.SIPCallID, Metadata: c.Metadata, Quality: c.Quality, Interrupted: c.Interrupted,
		AnsweredBy: c.AnsweredBy, Missed: c.MissedReason,
		Route: c.Route, Trunk: c.Trunk, Attempts: c.Attempts,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CallRecord) UnmarshalJSON(b []byte) error {
	var w callJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = CallRecord{
		CallID: w.CallID, Seat: w.Seat, Direction: w.Direction, From: w.From, To: w.To,
		Status: w.Status, StartedAt: w.StartedAt.T, AnsweredAt: w.AnsweredAt.T,
		EndedAt: w.EndedAt.T, DurationS: w.DurationS, Hangup: w.Hangup,
		SIPCallID: w.SIPCallID, Metadata: w.Metadata, Quality: w.Quality, Interrupted: w.Interrupted,
		AnsweredBy: w.AnsweredBy, MissedReason: w.Missed,
		Route: w.Route, Trunk: w.Trunk, Attempts: w.Attempts,
	}
	return nil
}
