package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
)

func TestEventJSON(t *testing.T) {
	ev := SampleEvents()[1]
	ev.CreatedAt = time.Date(2026, 11, 26, 18, 5, 9, 120_456_789, time.FixedZone("CET", 3600))
	got, err := json.Marshal(ev)
	require.NoError(t, err)
	want := `{
	  "type": "call.completed",
	  "id": "evt_sample2",
	  "created_at": "2026-11-26T17:05:09.120Z",
	  "call": {
	    "call_id": "5d1c2a7e-0000-4000-8000-000000000000",
	    "seat": "agent-7",
	    "direction": "outbound",
	    "from": "+14155550100",
	    "to": "+442071838750",
	    "status": "completed",
	    "started_at": "2026-11-26T17:04:01.004Z",
	    "answered_at": "2026-11-26T17:04:09.550Z",
	    "ended_at": "2026-11-26T17:05:09.550Z",
	    "duration_s": 60,
	    "hangup": {"by": "remote", "sip_code": 200, "q850": 16, "reason": "Normal call clearing"},
	    "sip_call_id": "a84b4c76e66710@127.0.0.1",
	    "metadata": {"contact_id": "003xx000004TmiQ"},
	    "quality": {
	      "mos": 4.31,
	      "uplink":   {"packets": 3000, "lost": 2, "discarded": 0, "jitter_ms": 3.1, "jitter_max_ms": 9.4, "mos_mean": 4.36, "mos_worst": 4.31, "one_way_seconds": 0, "silent": false},
	      "downlink": {"packets": 2998, "lost": 0, "discarded": 0, "jitter_ms": 1.2, "jitter_max_ms": 2.5, "mos_mean": 4.31, "mos_worst": 4.28, "rtt_ms": 42.5, "one_way_seconds": 0, "silent": false},
	      "one_way_audio": false
	    }
	  }
	}`
	assert.JSONEq(t, want, string(got))

	var back record.Event
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, ev.ID, back.ID)
	assert.True(t, ev.CreatedAt.Truncate(time.Millisecond).Equal(back.CreatedAt))
	assert.Equal(t, ev.Call.Hangup, back.Call.Hangup)
	assert.Equal(t, ev.Call.Quality, back.Call.Quality)
	assert.Equal(t, ev.Call.Metadata, back.Call.Metadata)
}

func TestEventJSONUnsetFields(t *testing.T) {
	ev := SampleEvents()[0]
	got, err := json.Marshal(ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got, &m))
	call := m["call"].(map[string]any)
	assert.Nil(t, call["answered_at"])
	assert.Contains(t, call, "answered_at", "unset times are null, not absent")
	assert.Nil(t, call["ended_at"])
	assert.NotContains(t, call, "hangup")
	assert.NotContains(t, call, "quality")
	assert.NotContains(t, call, "interrupted")
	assert.Equal(t, "initiated", call["status"])
}

func TestEventValidate(t *testing.T) {
	good := record.NewEvent(record.TypeRinging, record.CallRecord{CallID: "c1"})
	require.NoError(t, good.Validate())
	assert.Regexp(t, `^evt_[0-9a-f]{32}$`, good.ID)

	for name, ev := range map[string]record.Event{
		"unknown type": {Type: "call.exploded", ID: "evt_1", Call: record.CallRecord{CallID: "c"}},
		"no call id":   {Type: record.TypeRinging, ID: "evt_1"},
		"no id":        {Type: record.TypeRinging, Call: record.CallRecord{CallID: "c"}},
		"dot in id":    {Type: record.TypeRinging, ID: "evt.1", Call: record.CallRecord{CallID: "c"}},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, ev.Validate(), record.ErrBadEvent)
		})
	}
}
