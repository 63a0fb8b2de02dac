package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/sqlite"
)

// fakeClock is the outbox's schedule clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

type outboxEnv struct {
	ob    *Outbox
	st    store.Store
	clock *fakeClock
	rc    *receiver
}

func newOutboxEnv(t *testing.T, cfg SenderConfig, opts ...OutboxOption) *outboxEnv {
	t.Helper()
	env := &outboxEnv{st: openStore(t), clock: newFakeClock(), rc: newReceiver(t, testSecret)}
	if cfg.URL == "" {
		cfg.URL = env.rc.URL()
	}
	cfg.Secret = testSecret
	cfg.AllowPrivate = true
	opts = append([]OutboxOption{WithClock(env.clock), WithJitter(0), WithPollInterval(20 * time.Millisecond)}, opts...)
	ob, err := NewOutbox(context.Background(), env.st, cfg, testLogger(t), opts...)
	require.NoError(t, err)
	env.ob = ob
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	})
	return env
}

// waitEvent waits until the stored event satisfies ok.
func (env *outboxEnv) waitEvent(t *testing.T, id string, ok func(store.Event) bool) store.Event {
	t.Helper()
	var last store.Event
	require.Eventually(t, func() bool {
		ev, err := env.st.GetEvent(context.Background(), id)
		require.NoError(t, err)
		last = ev
		return ok(ev)
	}, 10*time.Second, 5*time.Millisecond, "event %s never reached the expected state; last: %+v", id, last)
	return last
}

func attempts(n int) func(store.Event) bool {
	return func(e store.Event) bool { return e.Attempts >= n }
}

func state(s string) func(store.Event) bool {
	return func(e store.Event) bool { return e.State == s }
}

func TestOutboxDeliversInOrderAndWritesCDR(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	env := newOutboxEnv(t, SenderConfig{})
	evs := callEvents("call-1")
	for _, ev := range evs {
		require.NoError(t, env.ob.Publish(context.Background(), ev))
	}
	for _, want := range evs {
		r := env.rc.next()
		require.NoError(t, r.Err)
		assert.Equal(t, want.ID, r.Header.Get(HeaderID))
		assert.Equal(t, want.Type, decodeEvent(t, r.Body).Type)
	}
	last := env.waitEvent(t, evs[3].ID, state(store.StateDelivered))
	assert.Equal(t, 1, last.Attempts)
	assert.Equal(t, http.StatusNoContent, last.LastStatus)

	c, err := env.st.GetCall(context.Background(), "call-1")
	require.NoError(t, err)
	assert.True(t, c.Final)
	assert.Equal(t, record.StatusCompleted, c.Status)
	var rec record.CallRecord
	require.NoError(t, json.Unmarshal(c.Record, &rec))
	assert.Equal(t, evs[3].Call.Hangup, rec.Hangup)
	assert.Equal(t, 60, rec.DurationS)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, env.ob.Close(ctx))
	env.rc.srv.Close()
	require.NoError(t, env.st.Close())
}

func TestOutboxRetriesOnSchedule(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{}, WithSchedule([]time.Duration{5 * time.Second, 5 * time.Minute}))
	env.rc.answer(func(n int, _ *http.Request) (int, http.Header) {
		if n < 2 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	ev := callEvents("c")[3]
	require.NoError(t, env.ob.Publish(context.Background(), ev))
	start := env.clock.Now()

	e := env.waitEvent(t, ev.ID, attempts(1))
	assert.Equal(t, store.StatePending, e.State)
	assert.Equal(t, start.Add(5*time.Second), e.NextAttemptAt)
	require.NoError(t, env.rc.next().Err)
	env.rc.none(100 * time.Millisecond) // no retry before the clock reaches it

	env.clock.Advance(5 * time.Second)
	env.ob.Kick()
	e = env.waitEvent(t, ev.ID, attempts(2))
	assert.Equal(t, store.StatePending, e.State)
	assert.Equal(t, start.Add(5*time.Second+5*time.Minute), e.NextAttemptAt)

	env.clock.Advance(5 * time.Minute)
	env.ob.Kick()
	e = env.waitEvent(t, ev.ID, state(store.StateDelivered))
	assert.Equal(t, 3, e.Attempts)

	as, err := env.st.Attempts(context.Background(), ev.ID)
	require.NoError(t, err)
	require.Len(t, as, 3)
	assert.Equal(t, []int{500, 500, 200}, []int{as[0].StatusCode, as[1].StatusCode, as[2].StatusCode})
	assert.Contains(t, as[0].Error, "HTTP 500")
	for range 2 {
		r := env.rc.next()
		require.NoError(t, r.Err)
		assert.Equal(t, ev.ID, r.Header.Get(HeaderID), "webhook-id stable across retries")
	}
}

func TestOutboxDeadAfterLastAttemptAndRedeliver(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{}, WithSchedule([]time.Duration{time.Second}))
	var fail sync.Map
	fail.Store("on", true)
	env.rc.answer(func(int, *http.Request) (int, http.Header) {
		if v, _ := fail.Load("on"); v == true {
			return http.StatusBadGateway, nil
		}
		return http.StatusOK, nil
	})
	ev := callEvents("c")[3]
	require.NoError(t, env.ob.Publish(context.Background(), ev))
	env.waitEvent(t, ev.ID, attempts(1))
	env.clock.Advance(time.Second)
	env.ob.Kick()
	e := env.waitEvent(t, ev.ID, state(store.StateDead))
	assert.Equal(t, 2, e.Attempts)
	assert.Contains(t, e.LastError, "HTTP 502")

	fail.Store("on", false)
	n, err := env.ob.RedeliverDead(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e = env.waitEvent(t, ev.ID, state(store.StateDelivered))
	assert.Equal(t, 3, e.Attempts)
	assert.Equal(t, 2, e.RetryBase)
}

func TestOutbox410DisablesEndpoint(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{})
	var gone sync.Map
	gone.Store("on", true)
	env.rc.answer(func(int, *http.Request) (int, http.Header) {
		if v, _ := gone.Load("on"); v == true {
			return http.StatusGone, nil
		}
		return http.StatusOK, nil
	})
	evs := callEvents("c")
	require.NoError(t, env.ob.Publish(context.Background(), evs[0]))
	e := env.waitEvent(t, evs[0].ID, state(store.StateDead))
	assert.Equal(t, 1, e.Attempts, "410 is not retried")
	eps, err := env.st.DisabledEndpoints(context.Background())
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, env.rc.URL(), eps[0].URL)

	// Later events to the disabled endpoint are parked without a request.
	require.NoError(t, env.ob.Publish(context.Background(), evs[1]))
	e = env.waitEvent(t, evs[1].ID, state(store.StateDead))
	assert.Contains(t, e.LastError, "endpoint disabled")
	assert.Equal(t, 1, env.rc.count())

	// An operator's redelivery re-enables it.
	gone.Store("on", false)
	require.NoError(t, env.ob.Redeliver(context.Background(), evs[0].ID))
	env.waitEvent(t, evs[0].ID, state(store.StateDelivered))
	eps, err = env.st.DisabledEndpoints(context.Background())
	require.NoError(t, err)
	assert.Empty(t, eps)
	require.ErrorIs(t, env.ob.Redeliver(context.Background(), "evt_nope"), ErrNotFound)
}

func TestOutboxHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"longer than schedule", "3600", time.Hour},
		{"shorter than schedule", "1", 5 * time.Second},
		{"capped", "9999999", MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newOutboxEnv(t, SenderConfig{}, WithSchedule([]time.Duration{5 * time.Second}))
			env.rc.answer(func(int, *http.Request) (int, http.Header) {
				return http.StatusTooManyRequests, http.Header{"Retry-After": {tt.retryAfter}}
			})
			ev := callEvents("c")[3]
			require.NoError(t, env.ob.Publish(context.Background(), ev))
			e := env.waitEvent(t, ev.ID, attempts(1))
			assert.Equal(t, store.StatePending, e.State)
			assert.Equal(t, 429, e.LastStatus)
			assert.Equal(t, env.clock.Now().Add(tt.want), e.NextAttemptAt)
		})
	}
}

func TestOutboxHangingReceiverTimesOut(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{Timeout: 200 * time.Millisecond})
	env.rc.answer(func(_ int, r *http.Request) (int, http.Header) {
		<-r.Context().Done()
		return http.StatusOK, nil
	})
	ev := callEvents("c")[3]
	require.NoError(t, env.ob.Publish(context.Background(), ev))
	e := env.waitEvent(t, ev.ID, attempts(1))
	assert.Equal(t, store.StatePending, e.State)
	assert.Zero(t, e.LastStatus)
	assert.NotEmpty(t, e.LastError)
}

func TestOutboxPerCallOrderUnderFailure(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{})
	a, b := callEvents("call-a"), callEvents("call-b")
	env.rc.answer(func(_ int, r *http.Request) (int, http.Header) {
		if r.Header.Get(HeaderID) == a[0].ID {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	for i := range a {
		require.NoError(t, env.ob.Publish(context.Background(), a[i]))
		require.NoError(t, env.ob.Publish(context.Background(), b[i]))
	}
	env.waitEvent(t, b[3].ID, state(store.StateDelivered))
	for _, ev := range a[1:] {
		e, err := env.st.GetEvent(context.Background(), ev.ID)
		require.NoError(t, err)
		assert.Zero(t, e.Attempts, "%s must wait for call-a's first event", ev.Type)
	}
}

func TestOutboxFiltersTypesButRecordsCDR(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{Events: []string{record.TypeCompleted}})
	evs := callEvents("c")
	for _, ev := range evs[:3] {
		require.NoError(t, env.ob.Publish(context.Background(), ev))
	}
	c, err := env.st.GetCall(context.Background(), "c")
	require.NoError(t, err)
	assert.False(t, c.Final)
	stored, _, err := env.st.ListEvents(context.Background(), store.EventFilter{CallID: "c"})
	require.NoError(t, err)
	assert.Empty(t, stored)
	require.NoError(t, env.ob.Publish(context.Background(), evs[3]))
	assert.Equal(t, record.TypeCompleted, decodeEvent(t, env.rc.next().Body).Type)
}

func TestOutboxPublishWithCancelledContext(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev := callEvents("c")[3]
	require.NoError(t, env.ob.Publish(ctx, ev), "a call's cancelled context must not lose its completion")
	env.waitEvent(t, ev.ID, state(store.StateDelivered))
}

func TestOutboxTemplateSignature(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{
		Template: `{"engagement":{"type":"CALL","timestamp":{{unixms .CreatedAt}}},"metadata":{"toNumber":{{json .Call.To}},"status":{{json (upper .Call.Status)}},"durationMilliseconds":{{mul .Call.DurationS 1000}}}}`,
	})
	ev := callEvents("c")[3]
	require.NoError(t, env.ob.Publish(context.Background(), ev))
	r := env.rc.next()
	require.NoError(t, r.Err, "the signature covers the templated body")
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &body))
	md := body["metadata"].(map[string]any)
	assert.Equal(t, "COMPLETED", md["status"])
	assert.EqualValues(t, 60000, md["durationMilliseconds"])
	e, err := env.st.GetEvent(context.Background(), ev.ID)
	require.NoError(t, err)
	assert.Equal(t, r.Body, e.Body, "the stored body is the sent body")
}

func TestOutboxRecoversOpenCalls(t *testing.T) {
	st := openStore(t)
	rc := newReceiver(t, testSecret)
	clock := newFakeClock()
	cfg := SenderConfig{URL: rc.URL(), Secret: testSecret, AllowPrivate: true}
	opts := []OutboxOption{WithClock(clock), WithJitter(0), WithPollInterval(20 * time.Millisecond)}

	ob, err := NewOutbox(context.Background(), st, cfg, testLogger(t), opts...)
	require.NoError(t, err)
	evs := callEvents("live")
	answered := evs[2]
	answered.Call.Status = record.StatusAnswered
	answered.Call.StartedAt = clock.Now().Add(-5 * time.Second)
	answered.Call.AnsweredAt = clock.Now()
	answered.Call.EndedAt, answered.Call.Hangup, answered.Call.DurationS = time.Time{}, nil, 0
	require.NoError(t, ob.Publish(context.Background(), answered))
	rc.next()
	require.NoError(t, ob.Close(context.Background()))

	clock.Advance(42 * time.Second)
	require.NoError(t, st.Touch(context.Background(), clock.Now())) // what the heartbeat does
	clock.Advance(time.Hour)                                        // the bridge is down for an hour

	ob, err = NewOutbox(context.Background(), st, cfg, testLogger(t), opts...)
	require.NoError(t, err)
	defer ob.Close(context.Background())
	r := rc.next()
	require.NoError(t, r.Err)
	got := decodeEvent(t, r.Body)
	assert.Equal(t, record.TypeCompleted, got.Type)
	assert.Equal(t, "live", got.Call.CallID)
	assert.Equal(t, record.StatusFailed, got.Call.Status)
	assert.True(t, got.Call.Interrupted)
	require.NotNil(t, got.Call.Hangup)
	assert.Equal(t, record.ByBridge, got.Call.Hangup.By)
	assert.Equal(t, 42, got.Call.DurationS, "ended at the last heartbeat, not at restart")

	c, err := st.GetCall(context.Background(), "live")
	require.NoError(t, err)
	assert.True(t, c.Final)
	open, err := st.OpenCalls(context.Background())
	require.NoError(t, err)
	assert.Empty(t, open)
}

func TestOutboxRefusesPrivateTarget(t *testing.T) {
	st := openStore(t)
	rc := newReceiver(t, testSecret)
	ob, err := NewOutbox(context.Background(), st, SenderConfig{URL: rc.URL(), Secret: testSecret}, testLogger(t), WithPollInterval(20*time.Millisecond))
	require.NoError(t, err)
	defer ob.Close(context.Background())
	ev := callEvents("c")[3]
	require.NoError(t, ob.Publish(context.Background(), ev))
	require.Eventually(t, func() bool {
		e, err := st.GetEvent(context.Background(), ev.ID)
		return err == nil && e.State == store.StateDead
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0, rc.count())
}

func TestOutboxPublishAfterClose(t *testing.T) {
	env := newOutboxEnv(t, SenderConfig{})
	require.NoError(t, env.ob.Close(context.Background()))
	require.ErrorIs(t, env.ob.Publish(context.Background(), callEvents("c")[0]), ErrClosed)
	require.NoError(t, env.ob.Close(context.Background()), "Close twice is fine")
}

func TestDefaultScheduleCoversADay(t *testing.T) {
	var total time.Duration
	for _, d := range DefaultSchedule() {
		total += d
	}
	assert.GreaterOrEqual(t, total, 24*time.Hour)
	o := &Outbox{schedule: DefaultSchedule(), jitter: DefaultJitter}
	for round := 1; round <= len(o.schedule); round++ {
		d := o.delay(round)
		base := o.schedule[round-1]
		assert.InDelta(t, float64(base), float64(d), float64(base)*DefaultJitter+1, "round "+strconv.Itoa(round))
	}
}
