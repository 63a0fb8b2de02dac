package webhook

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
)

// Templates that put outside data (metadata, the trunk's hangup reason)
// into the body without {{json …}} are refused at start-up: hostile values
// would break the JSON or inject keys.
func TestTemplateHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		ok         bool
	}{
		{"metadata inside quotes", `{"id": {{json .Call.CallID}}, "note": "{{index .Call.Metadata "contact_id"}}"}`, false},
		{"metadata field inside quotes", `{"id": {{json .Call.CallID}}{{with .Call.Metadata}}, "c": "{{.contact_id}}"{{end}}}`, false},
		{"metadata as a bare value", `{"id": {{json .Call.CallID}}{{with .Call.Metadata}}, "c": {{.contact_id}}{{end}}}`, false},
		{"reason inside quotes", `{"id": {{json .Call.CallID}}{{with .Call.Hangup}}, "why": "{{.Reason}}"{{end}}}`, false},
		{"printf %q", `{"id": {{json .Call.CallID}}{{with .Call.Metadata}}, "c": {{printf "%q" .contact_id}}{{end}}}`, false},
		{"json-escaped metadata", `{"id": {{json .Call.CallID}}, "note": {{json (index .Call.Metadata "contact_id")}}}`, true},
		{"json-escaped reason", `{"id": {{json .Call.CallID}}{{with .Call.Hangup}}, "why": {{json .Reason}}{{end}}}`, true},
		{"whole metadata", `{"id": {{json .Call.CallID}}, "meta": {{json .Call.Metadata}}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTemplate(tc.tmpl, "application/json")
			if tc.ok {
				assert.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrTemplate)
				assert.Contains(t, err.Error(), "json")
			}
		})
	}
	assert.NoError(t, CheckTemplate(`call {{.Call.CallID}} ended: {{with .Call.Hangup}}{{.Reason}}{{end}}`, "text/plain"),
		"a non-JSON body is not judged as JSON")
}

// A template that fails on one event at delivery does not lose the event:
// the standard body is sent, signed, and the fallback is counted.
func TestTemplateFailureFallsBackToStandardBody(t *testing.T) {
	// Passes the start-up checks, but an event whose metadata lacks
	// contact_id fails (missingkey=error).
	tmpl := `{{if .Call.Metadata}}{"c": {{json .Call.Metadata.contact_id}}}{{else}}{"c": null}{{end}}`
	require.NoError(t, CheckTemplate(tmpl, "application/json"))

	t.Run("outbox", func(t *testing.T) {
		env := newOutboxEnv(t, SenderConfig{Template: tmpl})
		ev := callEvents("c-fallback")[3]
		ev.Call.Metadata = map[string]any{"other": `"}`}
		require.NoError(t, env.ob.Publish(context.Background(), ev))
		r := env.rc.next()
		require.NoError(t, r.Err, "signed")
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		got := decodeEvent(t, r.Body)
		assert.Equal(t, ev.ID, got.ID)
		assert.Equal(t, record.TypeCompleted, got.Type)
		assert.Equal(t, uint64(1), env.ob.TemplateFallbacks())
		c, err := env.st.GetCall(context.Background(), "c-fallback")
		require.NoError(t, err)
		assert.True(t, c.Final, "the record is completed")
	})
	t.Run("sender", func(t *testing.T) {
		rc := newReceiver(t, testSecret)
		s := newTestSender(t, SenderConfig{URL: rc.URL(), Template: tmpl})
		ev := callEvents("c-fallback-2")[3]
		ev.Call.Metadata = map[string]any{"other": 1}
		require.NoError(t, s.Publish(context.Background(), ev))
		r := rc.next()
		require.NoError(t, r.Err)
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &body))
		assert.Equal(t, ev.ID, body["id"])
	})
}
