//go:build e2e

package e2e

// Crash safety of the real binary (WEBHOOKS.md, "Delivery"): the bridge is
// killed with SIGKILL mid-call or mid-delivery and restarted on the same
// config and SQLite file. Every event it had committed (read from the
// store file between the two runs) must reach the receiver, in order, with
// its webhook-id unchanged; a call that was up at the kill gets a
// call.completed with status failed, hangup.by bridge and interrupted.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/sqlite"
	"github.com/callbridge/callbridge/webhook"
)

// crashWait bounds each wait of the crash tests for a webhook or a commit.
const crashWait = 20 * time.Second

// hookAttempt is one signed request the receiver accepted as genuine.
type hookAttempt struct {
	ID     string         // webhook-id (equal to the event's id)
	Type   string         // event type
	CallID string         // call.call_id
	Call   map[string]any // the event's call record
	Acked  bool           // answered 2xx (false: held open until the bridge went away)
}

// Receiver modes for crashReceiver.hold: which requests are held open.
const (
	holdNone = ""  // answer every request 204
	holdAll  = "*" // hold every request open
	// any other value holds the requests of that event type only
)

// crashReceiver is a webhook endpoint that verifies every request with
// webhook.Verify and either answers 204 or holds the request open until the
// bridge's side of the connection goes away.
type crashReceiver struct {
	URL  string
	stop chan struct{} // closed at cleanup: releases held requests

	mu       sync.Mutex
	hold     string        // holdNone, holdAll or an event type; guarded by mu
	inflight int           // requests being held open; guarded by mu
	attempts []hookAttempt // every verified request in arrival order; guarded by mu
	bad      []string      // why requests were refused; guarded by mu
}

func newCrashReceiver(t *testing.T, hold string) *crashReceiver {
	t.Helper()
	s := &crashReceiver{hold: hold, stop: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.stop)
		srv.Close()
	})
	s.URL = srv.URL + "/hooks"
	return s
}

func (s *crashReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = webhook.Verify(webhookSecret, r.Header, body, 0)
	}
	var ev struct {
		Type string         `json:"type"`
		ID   string         `json:"id"`
		Call map[string]any `json:"call"`
	}
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err == nil && ev.ID != r.Header.Get("webhook-id") {
		err = fmt.Errorf("event id %q is not webhook-id %q", ev.ID, r.Header.Get("webhook-id"))
	}
	s.mu.Lock()
	if err != nil {
		s.bad = append(s.bad, err.Error())
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	callID, _ := ev.Call["call_id"].(string)
	hang := s.hold == holdAll || (s.hold != holdNone && s.hold == ev.Type)
	s.attempts = append(s.attempts, hookAttempt{ID: ev.ID, Type: ev.Type, CallID: callID, Call: ev.Call, Acked: !hang})
	if hang {
		s.inflight++
	}
	s.mu.Unlock()
	if !hang {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	select {
	case <-r.Context().Done(): // the bridge closed the connection (or died)
	case <-s.stop:
	}
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
}

// setHold changes which requests are held open from now on.
func (s *crashReceiver) setHold(hold string) {
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
}

// snapshot returns every attempt so far, the number held open now, and
// the refusals.
func (s *crashReceiver) snapshot() ([]hookAttempt, int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hookAttempt(nil), s.attempts...), s.inflight, append([]string(nil), s.bad...)
}

// delivered returns callID's events the receiver acknowledged, once each
// (deduplicated on webhook-id, as WEBHOOKS.md tells receivers to), in the
// order of their first acknowledgement.
func (s *crashReceiver) delivered(callID string) []hookAttempt {
	all, _, _ := s.snapshot()
	seen := map[string]bool{}
	var out []hookAttempt
	for _, a := range all {
		if a.Acked && a.CallID == callID && !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	return out
}

// waitDelivered waits until callID's call.completed has been acknowledged
// and returns the deduplicated deliveries of the call.
func (s *crashReceiver) waitDelivered(t *testing.T, callID string) []hookAttempt {
	t.Helper()
	waitUntil(t, crashWait, func() bool {
		for _, a := range s.delivered(callID) {
			if a.Type == record.TypeCompleted {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("call.completed of %s delivered; got %v", callID, attemptLines(s)) })
	_, _, bad := s.snapshot()
	require.Empty(t, bad, "requests that failed webhook.Verify")
	return s.delivered(callID)
}

// attemptLines describes every attempt, for failure messages.
func attemptLines(s *crashReceiver) []string {
	all, _, _ := s.snapshot()
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = fmt.Sprintf("%s %s acked=%v", a.Type, a.ID, a.Acked)
	}
	return out
}

// waitUntil polls cond every 50 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashRig is a bridge that can be killed and started again on the same
// config file and SQLite store, with baresip as its trunk.
type crashRig struct {
	cfg    string // the YAML both runs use: same ports, store and webhook
	dbPath string
	hooks  *crashReceiver
	far    *harness.Baresip
	bridge *harness.Bridge // the current run
}

// newCrashRig starts baresip (answering at once, or ringing until the
// test ends when answer is false) and the bridge.
func newCrashRig(t *testing.T, hooks *crashReceiver, answer bool) *crashRig {
	t.Helper()
	mode := "auto"
	if !answer {
		mode = "manual"
	}
	harness.BuildBridge(t) // before the peers start their timeouts
	farPort := harness.FreeUDPPort(t)
	far := harness.StartBaresip(t, harness.BaresipConfig{
		SIPPort: farPort,
		// The Request-URI user must match an account.
		Accounts: []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=%s;audio_codecs=PCMU,PCMA", dialedE164, farPort, mode)},
	})
	dbPath := filepath.Join(t.TempDir(), "store", "bridge.db")
	// webhook.timeout is long so that a held request is still in flight
	// when the test kills the bridge, however slow the machine.
	cfg := bridgeYAML(t, bridgeConfig{
		trunk: "sip:" + far.SIPAddr, hookURL: hooks.URL, storeDSN: "sqlite://" + dbPath,
		sip:     map[string]string{"ring_timeout": "15s"},
		webhook: map[string]string{"timeout": "60s"},
	})
	r := &crashRig{cfg: cfg, dbPath: dbPath, hooks: hooks, far: far}
	r.start(t)
	return r
}

// start runs the bridge binary (again) on the rig's config.
func (r *crashRig) start(t *testing.T) {
	t.Helper()
	r.bridge = harness.StartBridge(t, r.cfg)
}

// kill SIGKILLs the running bridge and returns what its store file holds
// for callID: the outbox entries in commit order and the call record.
func (r *crashRig) kill(t *testing.T, callID string) ([]store.Event, store.Call) {
	t.Helper()
	require.NoError(t, r.bridge.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, r.dbPath)
	require.NoError(t, err, "the store file after SIGKILL")
	defer st.Close()
	evs, _, err := st.ListEvents(ctx, store.EventFilter{CallID: callID, Limit: store.MaxLimit})
	require.NoError(t, err)
	call, err := st.GetCall(ctx, callID)
	require.NoError(t, err, "the call record of %s", callID)
	for _, e := range evs {
		t.Logf("committed before the kill: %s %s state=%s attempts=%d", e.Type, e.ID, e.State, e.Attempts)
	}
	return evs, call
}

// adminGet GETs an operator API path of the running bridge into v.
func (r *crashRig) adminGet(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.bridge.URL()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := r.bridge.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, v), "GET %s: %s", path, body)
}

// waitCommitted waits until the running bridge's outbox holds an event of
// type typ for callID.
func (r *crashRig) waitCommitted(t *testing.T, callID, typ string) {
	t.Helper()
	var types []string
	waitUntil(t, crashWait, func() bool {
		var page struct {
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		r.adminGet(t, "/v1/admin/events?call_id="+callID, &page)
		types = types[:0]
		for _, e := range page.Events {
			types = append(types, e.Type)
		}
		return strings.Contains(strings.Join(types, " "), typ)
	}, func() string { return fmt.Sprintf("%s committed for %s (outbox has %v)", typ, callID, types) })
}

// requireSameEvents asserts that the receiver got exactly the committed
// events, in commit order, followed by extra (the types of events the
// restarted bridge adds).
func requireSameEvents(t *testing.T, committed []store.Event, got []hookAttempt, extra ...string) {
	t.Helper()
	var wantIDs, gotIDs, gotTypes []string
	for _, e := range committed {
		wantIDs = append(wantIDs, e.ID)
	}
	for _, a := range got {
		gotIDs = append(gotIDs, a.ID)
		gotTypes = append(gotTypes, a.Type)
	}
	require.Len(t, gotIDs, len(wantIDs)+len(extra), "delivered %v", gotTypes)
	assert.Equal(t, wantIDs, gotIDs[:len(wantIDs)], "every committed event, same webhook-id, in commit order")
	for i, e := range committed {
		assert.Equal(t, e.Type, got[i].Type)
	}
	assert.Equal(t, append([]string{}, extra...), append([]string{}, gotTypes[len(wantIDs):]...))
}

func committedTypes(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// TestCrashMidCall: the bridge is killed while a call is up. After the
// restart the receiver must have every event committed before the kill, in
// order, then a call.completed that says the bridge lost the call; the
// record in the operator API says interrupted. In "answered in flight" the
// receiver holds call.answered open, so that event is still being sent at
// the kill and must be delivered after the restart, before the completion;
// in "ringing" the far end has not answered yet.
func TestCrashMidCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer bool   // the far end answers; else the kill comes while it rings
		hold   string // the event type in flight at the kill, or holdNone
	}{
		{name: "events delivered", answer: true, hold: holdNone},
		{name: "answered in flight", answer: true, hold: record.TypeAnswered},
		{name: "ringing", answer: false, hold: holdNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hooks := newCrashReceiver(t, tc.hold)
			rig := newCrashRig(t, hooks, tc.answer)
			c := connectClient(t, rig.bridge.WSURL(), seatToken(t))

			last := record.TypeAnswered
			want := "answered"
			if !tc.answer {
				last, want = record.TypeRinging, "ringing"
			}
			callID, states := call(t, c, dialed, want, map[string]any{"contact_id": "c-crash"})
			require.Equal(t, want, states[len(states)-1].State, "states: %v", stateNames(states))
			// The agent gets call_state just before the event is committed;
			// the test kills after the commit.
			rig.waitCommitted(t, callID, last)
			if tc.hold != holdNone {
				waitUntil(t, crashWait, func() bool { _, n, _ := hooks.snapshot(); return n == 1 },
					func() string { return fmt.Sprintf("%s in flight: %v", tc.hold, attemptLines(hooks)) })
			}
			time.Sleep(500 * time.Millisecond) // media up both ways, or ringing a while

			committed, rec := rig.kill(t, callID)
			assert.False(t, rec.Final, "the record of a call up at the kill is not final")
			types := committedTypes(committed)
			require.NotEmpty(t, types)
			assert.Equal(t, record.TypeInitiated, types[0])
			assert.Equal(t, last, types[len(types)-1])
			assert.Subset(t, []string{record.TypeInitiated, record.TypeRinging, record.TypeAnswered}, types)
			if tc.hold != holdNone {
				assert.Equal(t, store.StatePending, committed[len(committed)-1].State, "the held event was never acknowledged")
			}

			hooks.setHold(holdNone)
			rig.start(t)
			got := hooks.waitDelivered(t, callID)
			requireSameEvents(t, committed, got, record.TypeCompleted)

			done := got[len(got)-1].Call
			assert.Equal(t, record.StatusFailed, done["status"])
			assert.Equal(t, true, done["interrupted"], "call.completed of %v", done)
			assert.Equal(t, map[string]any{"contact_id": "c-crash"}, done["metadata"])
			if h, ok := done["hangup"].(map[string]any); assert.True(t, ok, "hangup in %v", done) {
				assert.Equal(t, "bridge", h["by"])
				assert.EqualValues(t, webhook.InterruptedQ850, h["q850"])
			}
			started, err := time.Parse(time.RFC3339Nano, fmt.Sprint(done["started_at"]))
			require.NoError(t, err, "started_at %v", done["started_at"])
			ended, err := time.Parse(time.RFC3339Nano, fmt.Sprint(done["ended_at"]))
			require.NoError(t, err, "ended_at %v", done["ended_at"])
			assert.False(t, ended.Before(started), "ended_at %s before started_at %s", ended, started)
			if tc.answer {
				answered, err := time.Parse(time.RFC3339Nano, fmt.Sprint(done["answered_at"]))
				require.NoError(t, err, "answered_at %v: the answer was recorded before the kill", done["answered_at"])
				assert.False(t, ended.Before(answered), "ended_at %s before answered_at %s", ended, answered)
			} else {
				assert.Nil(t, done["answered_at"], "never answered")
				assert.EqualValues(t, 0, done["duration_s"])
			}

			var stored struct {
				Record map[string]any `json:"record"`
				Final  bool           `json:"final"`
			}
			rig.adminGet(t, "/v1/admin/records/"+callID, &stored)
			assert.True(t, stored.Final)
			assert.Equal(t, true, stored.Record["interrupted"], "record %v", stored.Record)
			assert.Equal(t, record.StatusFailed, stored.Record["status"])
		})
	}
}

// TestCrashMidDelivery: the receiver holds every request open, so the
// first event of a call is in flight while the rest of the call's events
// are committed behind it (per-call order). The call ends normally; the
// bridge is killed with the delivery still in flight and restarted with
// the receiver answering. Every committed event must arrive once the
// receiver deduplicates, the first with the webhook-id of the attempt the
// kill cut off, and the call must not be reported as interrupted.
func TestCrashMidDelivery(t *testing.T) {
	hooks := newCrashReceiver(t, holdAll)
	rig := newCrashRig(t, hooks, true)
	c := connectClient(t, rig.bridge.WSURL(), seatToken(t))

	callID, states := call(t, c, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	_, states = untilState(t, c, "ended")
	require.Equal(t, "ended", states[len(states)-1].State)
	rig.waitCommitted(t, callID, record.TypeCompleted)

	attempts, inflight, _ := hooks.snapshot()
	require.Equal(t, 1, inflight, "one request held open at the kill: %v", attemptLines(hooks))
	require.NotEmpty(t, attempts)
	cut := attempts[len(attempts)-1]
	assert.Equal(t, record.TypeInitiated, cut.Type, "per-call order: nothing after the first event was sent")

	committed, rec := rig.kill(t, callID)
	assert.True(t, rec.Final, "the call ended before the kill")
	assert.Equal(t, []string{record.TypeInitiated, record.TypeRinging, record.TypeAnswered, record.TypeCompleted}, committedTypes(committed))
	for _, e := range committed {
		assert.Equal(t, store.StatePending, e.State, "%s was never acknowledged", e.Type)
	}
	require.Equal(t, cut.ID, committed[0].ID, "the attempt in flight was the first committed event")
	waitUntil(t, 5*time.Second, func() bool { _, n, _ := hooks.snapshot(); return n == 0 },
		func() string { return "the held request to see the connection close" })

	hooks.setHold(holdNone)
	rig.start(t)
	got := hooks.waitDelivered(t, callID)
	requireSameEvents(t, committed, got)
	assert.Equal(t, cut.ID, got[0].ID, "the retried first event keeps its webhook-id")

	done := got[len(got)-1].Call
	assert.Equal(t, "completed", done["status"])
	assert.Nil(t, done["interrupted"], "a call that ended before the kill was not interrupted")
	if h, ok := done["hangup"].(map[string]any); assert.True(t, ok, "hangup in %v", done) {
		assert.Equal(t, "agent", h["by"])
	}
	var completed int
	all, _, _ := hooks.snapshot()
	for _, a := range all {
		if a.CallID == callID && a.Type == record.TypeCompleted && a.Acked {
			completed++
		}
	}
	assert.Equal(t, 1, completed, "one call.completed: %v", attemptLines(hooks))
}
