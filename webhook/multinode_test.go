package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/postgres"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
	"github.com/callbridge/callbridge/store/sqlite"
)

// sharedStores opens two handles on one new database, as two bridge
// nodes would.
type sharedStores func(t *testing.T) (store.Store, store.Store)

// The multi-node tests run on both stores: SQLite (two handles on one
// file) and PostgreSQL (one throwaway server, a database per test;
// skipped without its binaries outside CI). Each backend's setup returns
// the opener of its tests' databases.
func multiNodeStores() map[string]func(t *testing.T) sharedStores {
	return map[string]func(t *testing.T) sharedStores{
		"sqlite": func(*testing.T) sharedStores {
			return func(t *testing.T) (store.Store, store.Store) {
				path := filepath.Join(t.TempDir(), "bridge.db")
				a, err := sqlite.Open(context.Background(), path)
				require.NoError(t, err)
				b, err := sqlite.Open(context.Background(), path)
				require.NoError(t, err)
				t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
				return a, b
			}
		},
		"postgres": func(t *testing.T) sharedStores {
			srv := pgtest.Start(t)
			return func(t *testing.T) (store.Store, store.Store) {
				dsn := srv.NewDatabase(t)
				a, err := postgres.Open(context.Background(), dsn)
				require.NoError(t, err)
				b, err := postgres.Open(context.Background(), dsn)
				require.NoError(t, err)
				t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
				return a, b
			}
		},
	}
}

func TestMultiNode(t *testing.T) {
	for name, setup := range multiNodeStores() {
		t.Run(name, func(t *testing.T) {
			open := setup(t)
			t.Run("NoDoubleDeliveryAndPerCallOrder", func(t *testing.T) { testNoDoubleDelivery(t, open) })
			t.Run("LapsedClaimTakenOver", func(t *testing.T) { testLapsedClaim(t, open) })
			t.Run("OnlyDeadNodesCallsRecovered", func(t *testing.T) { testDeadNodeCalls(t, open) })
		})
	}
}

// orderReceiver checks, as requests arrive, that no event is being
// delivered twice at once and that a call's event is only sent once the
// call's earlier events got their 2xx. It fails the first attempt of
// every third event to make the nodes retry.
type orderReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	inFlight  map[string]bool // guarded by mu: webhook-id being answered
	tries     map[string]int  // guarded by mu: requests per webhook-id
	ok        map[string]int  // guarded by mu: 2xx answers per webhook-id
	delivered map[string]int  // guarded by mu: call_id -> events with a 2xx
	byNode    map[string]int  // guarded by mu: 2xx per X-Node header
	errs      []string        // guarded by mu
}

var eventOrder = map[string]int{record.TypeInitiated: 0, record.TypeRinging: 1, record.TypeAnswered: 2, record.TypeCompleted: 3}

func newOrderReceiver(t *testing.T) *orderReceiver {
	rc := &orderReceiver{t: t, inFlight: map[string]bool{}, tries: map[string]int{}, ok: map[string]int{},
		delivered: map[string]int{}, byNode: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *orderReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(HeaderID)
	var ev record.Event
	err := Verify(testSecret, r.Header, body, 0)
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	rc.mu.Lock()
	if err != nil {
		rc.errs = append(rc.errs, fmt.Sprintf("%s: %v", id, err))
	}
	if rc.inFlight[id] {
		rc.errs = append(rc.errs, id+" sent again while an attempt was in flight")
	}
	if want := rc.delivered[ev.Call.CallID]; eventOrder[ev.Type] != want {
		rc.errs = append(rc.errs, fmt.Sprintf("%s %s sent with %d of its call's events delivered", ev.Call.CallID, ev.Type, want))
	}
	rc.inFlight[id] = true
	rc.tries[id]++
	fail := rc.tries[id] == 1 && len(rc.tries)%3 == 0
	rc.mu.Unlock()

	time.Sleep(2 * time.Millisecond) // widen the window a second sender would hit

	rc.mu.Lock()
	delete(rc.inFlight, id)
	if !fail {
		rc.ok[id]++
		rc.delivered[ev.Call.CallID]++
		rc.byNode[r.Header.Get("X-Node")]++
	}
	rc.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func multiNodeOutbox(t *testing.T, st store.Store, url, node string, opts ...OutboxOption) *Outbox {
	t.Helper()
	cfg := SenderConfig{URL: url, Secret: testSecret, AllowPrivate: true, Node: node, Headers: map[string]string{"X-Node": node}}
	opts = append([]OutboxOption{WithJitter(0), WithPollInterval(5 * time.Millisecond), WithConcurrency(4),
		WithSchedule([]time.Duration{10 * time.Millisecond, 10 * time.Millisecond})}, opts...)
	ob, err := NewOutbox(context.Background(), st, cfg, testLogger(t), opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	})
	return ob
}

// Two nodes publish calls into one store and both deliver: every event
// reaches the receiver once, never twice at once, in order per call.
func testNoDoubleDelivery(t *testing.T, open sharedStores) {
	sa, sb := open(t)
	rc := newOrderReceiver(t)
	nodes := []*Outbox{
		multiNodeOutbox(t, sa, rc.srv.URL, "node-a"),
		multiNodeOutbox(t, sb, rc.srv.URL, "node-b"),
	}
	const calls = 16
	var ids []string
	var wg sync.WaitGroup
	errs := make(chan error, calls*4)
	for i := range calls {
		evs := callEvents(fmt.Sprintf("call-%02d", i))
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range evs { // a call's events come from its own node, in order
				errs <- nodes[i%2].Publish(context.Background(), ev)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		evs, _, err := sa.ListEvents(context.Background(), store.EventFilter{State: store.StateDelivered, Limit: store.MaxLimit})
		require.NoError(t, err)
		return len(evs) == len(ids)
	}, 30*time.Second, 10*time.Millisecond, "every event is delivered")

	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Empty(t, rc.errs)
	for _, id := range ids {
		assert.Equal(t, 1, rc.ok[id], "event %s acknowledged %d times", id, rc.ok[id])
	}
	for i := range calls {
		assert.Equal(t, 4, rc.delivered[fmt.Sprintf("call-%02d", i)])
	}
	assert.Positive(t, rc.byNode["node-a"], "node-a delivered some events")
	assert.Positive(t, rc.byNode["node-b"], "node-b delivered some events")
	retried := 0
	for _, n := range rc.tries {
		if n > 1 {
			retried++
		}
	}
	assert.Positive(t, retried, "some events were retried")
}

// A node that died holding a claim keeps the event from every other node
// until the claim's lease lapses; then another node delivers it.
func testLapsedClaim(t *testing.T, open sharedStores) {
	sa, sb := open(t)
	rc := newReceiver(t, testSecret)
	clock := newFakeClock()
	ctx := context.Background()

	// The dead node recorded a call's events and claimed the first.
	ob := multiNodeOutbox(t, sa, rc.URL(), "node-dead", WithClock(clock))
	require.NoError(t, ob.Close(ctx))
	evs := callEvents("call-1")
	for _, ev := range evs[:2] {
		rec := store.Call{ID: "call-1", Seat: ev.Call.Seat, Status: "ringing", StartedAt: clock.Now(), Record: []byte(`{}`), Node: "node-dead"}
		require.NoError(t, sa.Record(ctx, rec, &store.Event{ID: ev.ID, CallID: "call-1", Type: ev.Type, CreatedAt: clock.Now(),
			URL: rc.URL(), ContentType: "application/json", Body: []byte(`{"n":1}`), Payload: []byte(`{}`), NextAttemptAt: clock.Now()}))
	}
	claimed, err := sa.Claim(ctx, "node-dead", clock.Now(), DefaultTimeout+claimMargin, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	multiNodeOutbox(t, sb, rc.URL(), "node-b", WithClock(clock))
	rc.none(150 * time.Millisecond)

	clock.Advance(DefaultTimeout + claimMargin)
	for _, want := range evs[:2] {
		r := rc.next()
		require.NoError(t, r.Err)
		assert.Equal(t, want.ID, r.Header.Get(HeaderID), "the lapsed claim first, then the call's next event")
	}
}

// At start-up a node completes only its own calls from a previous run; a
// live node's calls stay open; a node whose heartbeat stopped gets its
// calls completed as interrupted by another node.
func testDeadNodeCalls(t *testing.T, open sharedStores) {
	sa, sb := open(t)
	rc := newReceiver(t, testSecret)
	ctx := context.Background()
	beat := []OutboxOption{WithHeartbeat(20 * time.Millisecond), WithStaleAfter(time.Second)}

	answered := func(callID string) record.Event {
		ev := callEvents(callID)[2]
		ev.Call.Status, ev.Call.EndedAt, ev.Call.Hangup, ev.Call.DurationS = record.StatusAnswered, time.Time{}, nil, 0
		ev.Call.StartedAt, ev.Call.AnsweredAt = time.Now().Add(-time.Second), time.Now()
		return ev
	}
	a := multiNodeOutbox(t, sa, rc.URL(), "node-a", beat...)
	require.NoError(t, a.Publish(ctx, answered("call-a")))
	rc.next()

	// node-b starts while node-a lives: node-a's call is not node-b's to end.
	b := multiNodeOutbox(t, sb, rc.URL(), "node-b", beat...)
	require.NoError(t, b.Publish(ctx, answered("call-b")))
	rc.next()
	rc.none(1200 * time.Millisecond) // longer than stale-after: node-a's heartbeat keeps its call
	c, err := sb.GetCall(ctx, "call-a")
	require.NoError(t, err)
	assert.False(t, c.Final, "a live node's call is left alone")
	assert.Equal(t, "node-a", c.Node)

	// node-a stops beating (as if killed): node-b completes its call only.
	require.NoError(t, a.Close(ctx))
	r := rc.next()
	got := decodeEvent(t, r.Body)
	assert.Equal(t, record.TypeCompleted, got.Type)
	assert.Equal(t, "call-a", got.Call.CallID)
	assert.Equal(t, record.StatusFailed, got.Call.Status)
	assert.True(t, got.Call.Interrupted)
	require.NotNil(t, got.Call.Hangup)
	assert.Equal(t, record.ByBridge, got.Call.Hangup.By)
	assert.Equal(t, "node-b", r.Header.Get("X-Node"))
	rc.none(200 * time.Millisecond)
	c, err = sb.GetCall(ctx, "call-b")
	require.NoError(t, err)
	assert.False(t, c.Final, "node-b's own live call stays open")
}
