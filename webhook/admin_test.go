package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
)

func adminGet(t *testing.T, h http.Handler, method, target string, wantStatus int) map[string]any {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	require.Equal(t, wantStatus, rec.Code, "%s %s: %s", method, target, body)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	return m
}

func TestAdminAPI(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{}, WithSchedule([]time.Duration{time.Second}))
	var mu sync.Mutex
	failing := map[string]bool{} // guarded by mu
	env.rc.answer(func(_ int, r *http.Request) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if failing[r.Header.Get(HeaderID)] {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	a := callEvents("call-a")
	b := callEvents("call-b")
	b[3].Call.Seat, b[3].Call.Status = "agent-9", record.StatusBusy
	for i := range b {
		b[i].Call.Seat = "agent-9"
	}
	mu.Lock()
	failing[b[3].ID] = true
	mu.Unlock()
	for i := range a {
		require.NoError(t, env.ob.Publish(context.Background(), a[i]))
		require.NoError(t, env.ob.Publish(context.Background(), b[i]))
	}
	env.waitEvent(t, a[3].ID, state(store.StateDelivered))
	env.waitEvent(t, b[3].ID, attempts(1))
	env.clock.Advance(time.Second)
	env.ob.Kick()
	env.waitEvent(t, b[3].ID, state(store.StateDead))

	h := http.NewServeMux()
	MountAdmin(h, func(h http.Handler) http.Handler { return h }, env.ob, testLogger(t))

	m := adminGet(t, h, "GET", "/v1/admin/records", http.StatusOK)
	assert.Len(t, m["records"], 2)
	m = adminGet(t, h, "GET", "/v1/admin/records?seat=agent-9", http.StatusOK)
	recs := m["records"].([]any)
	require.Len(t, recs, 1)
	rec := recs[0].(map[string]any)["record"].(map[string]any)
	assert.Equal(t, "call-b", rec["call_id"])
	assert.Equal(t, "busy", rec["status"])
	m = adminGet(t, h, "GET", "/v1/admin/records?status=completed", http.StatusOK)
	assert.Len(t, m["records"], 1)
	m = adminGet(t, h, "GET", "/v1/admin/records?limit=1", http.StatusOK)
	assert.Len(t, m["records"], 1)
	next := m["next_cursor"].(string)
	require.NotEmpty(t, next)
	m = adminGet(t, h, "GET", "/v1/admin/records?limit=1&cursor="+url.QueryEscape(next), http.StatusOK)
	assert.Len(t, m["records"], 1)
	assert.Empty(t, m["next_cursor"])
	m = adminGet(t, h, "GET", "/v1/admin/records?since=2099-01-01T00:00:00Z", http.StatusOK)
	assert.Empty(t, m["records"])

	m = adminGet(t, h, "GET", "/v1/admin/records/call-b", http.StatusOK)
	assert.Equal(t, true, m["final"])
	evs := m["events"].([]any)
	require.Len(t, evs, 4)
	last := evs[3].(map[string]any)
	assert.Equal(t, "dead", last["state"])
	assert.Len(t, last["history"], 2)
	assert.Equal(t, "call.completed", last["event"].(map[string]any)["type"])

	m = adminGet(t, h, "GET", "/v1/admin/events?state=dead", http.StatusOK)
	dead := m["events"].([]any)
	require.Len(t, dead, 1)
	assert.Equal(t, b[3].ID, dead[0].(map[string]any)["id"])

	m = adminGet(t, h, "GET", "/v1/admin/events/"+b[3].ID, http.StatusOK)
	hist := m["history"].([]any)
	require.Len(t, hist, 2)
	assert.EqualValues(t, 500, hist[0].(map[string]any)["status_code"])
	assert.Contains(t, hist[0].(map[string]any)["error"], "HTTP 500")

	mu.Lock()
	failing[b[3].ID] = false
	mu.Unlock()
	m = adminGet(t, h, "POST", "/v1/admin/events/"+b[3].ID+"/redeliver", http.StatusAccepted)
	assert.Equal(t, "pending", m["state"])
	env.waitEvent(t, b[3].ID, state(store.StateDelivered))

	m = adminGet(t, h, "POST", "/v1/admin/events/redeliver-dead", http.StatusAccepted)
	assert.EqualValues(t, 0, m["requeued"])
	m = adminGet(t, h, "GET", "/v1/admin/endpoints", http.StatusOK)
	assert.Empty(t, m["disabled"])

	// Bad requests get a JSON error, never a panic.
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{"GET", "/v1/admin/records/nope", http.StatusNotFound},
		{"GET", "/v1/admin/events/nope", http.StatusNotFound},
		{"POST", "/v1/admin/events/nope/redeliver", http.StatusNotFound},
		{"GET", "/v1/admin/records?since=yesterday", http.StatusBadRequest},
		{"GET", "/v1/admin/records?limit=0", http.StatusBadRequest},
		{"GET", "/v1/admin/records?cursor=%00%01", http.StatusBadRequest},
		{"GET", "/v1/admin/events?state=lost", http.StatusBadRequest},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			m := adminGet(t, h, tc.method, tc.target, tc.status)
			e := m["error"].(map[string]any)
			assert.NotEmpty(t, e["code"])
			assert.False(t, strings.Contains(e["message"].(string), "panic"))
		})
	}
}

// The admin API never shows the secret a webhook URL carries in its query.
func TestAdminAPIRedactsURLSecrets(t *testing.T) {
	rc := newReceiver(t, testSecret)
	env := newOutboxEnv(t, SenderConfig{URL: rc.URL() + "?api_key=s3cret-crm-key"})
	ev := callEvents("call-r")[3]
	require.NoError(t, env.ob.Publish(context.Background(), ev))
	env.waitEvent(t, ev.ID, state(store.StateDelivered))
	h := http.NewServeMux()
	MountAdmin(h, func(h http.Handler) http.Handler { return h }, env.ob, testLogger(t))
	m := adminGet(t, h, "GET", "/v1/admin/events/"+ev.ID, http.StatusOK)
	assert.Equal(t, rc.URL()+"?api_key=REDACTED", m["url"])
	m = adminGet(t, h, "GET", "/v1/admin/events?call_id=call-r", http.StatusOK)
	assert.NotContains(t, fmt.Sprint(m), "s3cret")
}
