package signaling

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in, code string
	}{
		{"ping", `{"type":"ping"}`, ""},
		{"call", `{"type":"call","request_id":"r","to":"+15550100001","metadata":{"a":1}}`, ""},
		{"call null metadata", `{"type":"call","to":"+15550100001","metadata":null}`, ""},
		{"candidate null", `{"type":"candidate","candidate":null}`, ""},
		{"candidate object", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}`, ""},
		{"dtmf", `{"type":"dtmf","call_id":"c","digits":"123*#ABCD","duration_ms":80}`, ""},
		{"not json", `{type`, "bad_request"},
		{"array", `[]`, "bad_request"},
		{"no type", `{}`, "bad_request"},
		{"type not string", `{"type":5}`, "bad_request"},
		{"unknown type", `{"type":"dance"}`, "bad_request"},
		{"offer without sdp", `{"type":"offer"}`, "bad_request"},
		{"candidate string", `{"type":"candidate","candidate":"x"}`, "bad_request"},
		{"call without to", `{"type":"call","request_id":"r"}`, "bad_request"},
		{"metadata array", `{"type":"call","to":"1","metadata":[1]}`, "bad_request"},
		{"metadata too big", `{"type":"call","to":"1","metadata":{"a":"` + strings.Repeat("x", 5000) + `"}}`, "bad_request"},
		{"hangup without call id", `{"type":"hangup"}`, "unknown_call"},
		{"leaving", `{"type":"leaving"}`, ""},
		{"take", `{"type":"take","call_id":"c"}`, ""},
		{"take without call id", `{"type":"take"}`, "unknown_call"},
		{"dtmf bad digit", `{"type":"dtmf","call_id":"c","digits":"1E"}`, "bad_request"},
		{"dtmf too many", `{"type":"dtmf","call_id":"c","digits":"` + strings.Repeat("1", 33) + `"}`, "bad_request"},
		{"dtmf bad duration", `{"type":"dtmf","call_id":"c","digits":"1","duration_ms":5}`, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			var pe *ProtocolError
			require.True(t, errors.As(err, &pe), "error %v", err)
			assert.Equal(t, tc.code, pe.Code)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","token":"x"}`, `{"type":"call","to":"+1 555","metadata":{}}`,
		`{"type":"candidate","candidate":{"candidate":""}}`, `{"type":"dtmf","digits":"1"}`, `null`, `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Parse(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("refusal without a protocol code: %v", err)
			}
			return
		}
		if !knownTypes[msg.Type] {
			t.Fatalf("accepted unknown type %q", msg.Type)
		}
	})
}
