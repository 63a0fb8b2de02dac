package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/callbridge/callbridge/record"
)

// Renderer turns an event into the request body: the standard JSON event,
// or a configured text/template.
type Renderer struct {
	tmpl        *template.Template // nil = standard JSON
	contentType string
	fallbacks   atomic.Uint64 // bodies sent as the standard event because the template failed
}

// templateFuncs are available in body templates (docs/WEBHOOKS.md).
var templateFuncs = template.FuncMap{
	// json writes any value as a JSON literal: {{json .Call.To}} -> "+1415…".
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// rfc3339 formats a time as the events do, or "" when zero.
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(record.TimeFormat)
	},
	"unix": func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.Unix()
	},
	"unixms": func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	},
	"mul":   func(a, b int) int { return a * b },
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
}

// NewRenderer parses tmpl (empty = the standard JSON event) and checks it by
// rendering sample events; with a JSON content type the output must be
// valid JSON. contentType empty means application/json.
func NewRenderer(tmpl, contentType string) (*Renderer, error) {
	if contentType == "" {
		contentType = "application/json"
	}
	r := &Renderer{contentType: contentType}
	if tmpl == "" {
		return r, nil
	}
	t, err := template.New("webhook").Option("missingkey=error").Funcs(templateFuncs).Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	r.tmpl = t
	for _, ev := range SampleEvents() {
		if _, err := r.Render(ev); err != nil {
			return nil, fmt.Errorf("rendering a sample %s event: %w", ev.Type, err)
		}
	}
	if err := r.checkHostile(); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckTemplate reports whether tmpl is a usable body template for
// contentType (config validation calls it at start-up).
func CheckTemplate(tmpl, contentType string) error {
	_, err := NewRenderer(tmpl, contentType)
	return err
}

// ContentType is the Content-Type of rendered bodies.
func (r *Renderer) ContentType() string { return r.contentType }

// Render returns the body for ev, or an error when the template fails or,
// under a JSON content type, renders invalid JSON.
func (r *Renderer) Render(ev record.Event) ([]byte, error) {
	if r.tmpl == nil {
		return json.Marshal(ev)
	}
	return r.execute(ev)
}

// Body is what is delivered for ev: the template's output, or when the
// template fails on this event, the standard event as application/json,
// counted in Fallbacks, so an event is never lost to its template. err is
// the template's failure (nil when it rendered), for the log.
func (r *Renderer) Body(ev record.Event) (body []byte, contentType string, err error) {
	body, err = r.Render(ev)
	if err == nil {
		return body, r.contentType, nil
	}
	r.fallbacks.Add(1)
	std, merr := json.Marshal(ev)
	if merr != nil {
		return nil, "", fmt.Errorf("webhook: encode event: %w", merr)
	}
	return std, DefaultContentType, err
}

// Fallbacks is how many bodies were sent as the standard event because
// the template failed.
func (r *Renderer) Fallbacks() uint64 { return r.fallbacks.Load() }

// DefaultContentType is the Content-Type of the standard event body.
const DefaultContentType = "application/json"

func (r *Renderer) execute(ev record.Event) ([]byte, error) {
	var b bytes.Buffer
	if err := r.tmpl.Execute(&b, ev); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if isJSON(r.contentType) && !json.Valid(b.Bytes()) {
		return nil, fmt.Errorf("%w: output is not valid JSON (content type %s); use {{json .Field}} to quote values", ErrTemplate, r.contentType)
	}
	return b.Bytes(), nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// SampleEvents are the events a template is checked against: a bare
// call.initiated (no hangup, no quality, no metadata) and a full
// call.completed.
func SampleEvents() []record.Event {
	start := time.Date(2026, 11, 26, 17, 4, 1, 4e6, time.UTC)
	bare := record.CallRecord{
		CallID: "5d1c2a7e-0000-4000-8000-000000000000", Seat: "agent-7", Direction: record.DirectionOutbound,
		From: "+14155550100", To: "+442071838750", Status: record.StatusInitiated, StartedAt: start,
	}
	full := bare
	full.Status = record.StatusCompleted
	full.AnsweredAt = start.Add(8546 * time.Millisecond)
	full.EndedAt = full.AnsweredAt.Add(60 * time.Second)
	full.DurationS = 60
	full.Hangup = &record.Cause{By: record.ByRemote, SIPCode: 200, Q850: 16, Reason: "Normal call clearing"}
	full.SIPCallID = "a84b4c76e66710@127.0.0.1"
	full.Metadata = map[string]any{"contact_id": "003xx000004TmiQ"}
	rtt := 42.5
	full.Quality = &record.Quality{MOS: 4.31,
		Uplink:   record.LegQuality{Packets: 3000, Lost: 2, JitterMS: 3.1, JitterMaxMS: 9.4, MOSMean: 4.36, MOSWorst: 4.31},
		Downlink: record.LegQuality{Packets: 2998, JitterMS: 1.2, JitterMaxMS: 2.5, MOSMean: 4.31, MOSWorst: 4.28, RTTMs: &rtt}}
	return []record.Event{
		{Type: record.TypeInitiated, ID: "evt_sample1", CreatedAt: start, Call: bare},
		{Type: record.TypeCompleted, ID: "evt_sample2", CreatedAt: full.EndedAt, Call: full},
	}
}
