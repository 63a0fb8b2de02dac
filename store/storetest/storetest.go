// Package storetest holds the conformance tests every store.Store
// implementation must pass. An implementation's test calls Run with a
// function that opens a fresh, empty store.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
)

// Opener returns a new empty store; Run closes it.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CallRecord", testCallRecord},
		{"FinalRecordKept", testFinalRecordKept},
		{"EventSeqAndDuplicate", testEventSeqAndDuplicate},
		{"ListCalls", testListCalls},
		{"ListCallsPagination", testListCallsPagination},
		{"OpenCallsAndTouch", testOpenCallsAndTouch},
		{"DuePerCallOrder", testDuePerCallOrder},
		{"AttemptsAndRequeue", testAttemptsAndRequeue},
		{"ListEvents", testListEvents},
		{"Endpoints", testEndpoints},
		{"ConcurrentRecord", testConcurrentRecord},
		{"ClaimLease", testClaimLease},
		{"AdoptCalls", testAdoptCalls},
		{"ConcurrentClaims", testConcurrentClaims},
		{"DirectorySeats", testDirectorySeats},
		{"DirectoryDIDs", testDirectoryDIDs},
		{"DirectoryTrunksAndRoutes", testDirectoryTrunksAndRoutes},
		{"DirectoryAudit", testDirectoryAudit},
		{"DirectoryConcurrentChanges", testDirectoryConcurrentChanges},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)

func call(id, seat, status string, started time.Time) store.Call {
	return store.Call{ID: id, Seat: seat, Status: status, StartedAt: started,
		Record: []byte(fmt.Sprintf(`{"call_id":%q,"status":%q}`, id, status)), UpdatedAt: started}
}

func event(id, callID, typ string, due time.Time) *store.Event {
	return &store.Event{ID: id, CallID: callID, Type: typ, CreatedAt: due, URL: "https://crm.example/h",
		ContentType: "application/json", Body: []byte(`{"id":"` + id + `"}`), Payload: []byte(`{}`), NextAttemptAt: due}
}

func testCallRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetCall(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	c := call("c1", "agent-7", "initiated", t0)
	require.NoError(t, s.Record(ctx, c, nil))
	got, err := s.GetCall(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, "agent-7", got.Seat)
	assert.Equal(t, "initiated", got.Status)
	assert.True(t, got.StartedAt.Equal(t0))
	assert.True(t, got.EndedAt.IsZero())
	assert.False(t, got.Final)
	assert.JSONEq(t, string(c.Record), string(got.Record))

	c.Status, c.EndedAt, c.Final = "completed", t0.Add(time.Minute), true
	c.Record = []byte(`{"call_id":"c1","status":"completed"}`)
	require.NoError(t, s.Record(ctx, c, nil))
	got, err = s.GetCall(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, "completed", got.Status)
	assert.True(t, got.EndedAt.Equal(t0.Add(time.Minute)))
	assert.True(t, got.Final)
}

func testFinalRecordKept(t *testing.T, s store.Store) {
	ctx := context.Background()
	fin := call("c1", "a", "busy", t0)
	fin.Final = true
	require.NoError(t, s.Record(ctx, fin, nil))
	late := call("c1", "a", "ringing", t0)
	require.NoError(t, s.Record(ctx, late, event("e-late", "c1", "call.ringing", t0)))
	got, err := s.GetCall(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, "busy", got.Status, "a final record is never overwritten")
	assert.True(t, got.Final)
}

func testEventSeqAndDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1 := event("e1", "c1", "call.initiated", t0)
	require.NoError(t, s.Record(ctx, call("c1", "a", "initiated", t0), e1))
	e2 := event("e2", "c1", "call.ringing", t0)
	require.NoError(t, s.Record(ctx, call("c1", "a", "ringing", t0), e2))
	assert.Greater(t, e2.Seq, e1.Seq)
	assert.Equal(t, store.StatePending, e1.State)

	got, err := s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	assert.Equal(t, e1.Seq, got.Seq)
	assert.Equal(t, "c1", got.CallID)
	assert.Equal(t, "call.initiated", got.Type)
	assert.Equal(t, `{"id":"e1"}`, string(got.Body))
	assert.Equal(t, "https://crm.example/h", got.URL)
	assert.Equal(t, "application/json", got.ContentType)
	assert.Equal(t, store.StatePending, got.State)
	assert.Zero(t, got.Attempts)
	assert.True(t, got.NextAttemptAt.Equal(t0))

	// A duplicate id fails and the whole Record is rolled back.
	err = s.Record(ctx, call("c1", "a", "answered", t0), event("e1", "c1", "call.answered", t0))
	require.ErrorIs(t, err, store.ErrDuplicate)
	c, err := s.GetCall(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, "ringing", c.Status, "the call update of a failed Record is rolled back")

	_, err = s.GetEvent(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testListCalls(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, c := range []store.Call{
		call("a1", "agent-1", "completed", t0),
		call("a2", "agent-1", "busy", t0.Add(time.Hour)),
		call("b1", "agent-2", "completed", t0.Add(2*time.Hour)),
		call("b2", "agent-2", "failed", t0.Add(3*time.Hour)),
	} {
		c.Final = i%2 == 0
		require.NoError(t, s.Record(ctx, c, nil))
	}
	ids := func(f store.CallFilter) []string {
		t.Helper()
		cs, next, err := s.ListCalls(ctx, f)
		require.NoError(t, err)
		assert.Empty(t, next)
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	assert.Equal(t, []string{"b2", "b1", "a2", "a1"}, ids(store.CallFilter{}), "newest first")
	assert.Equal(t, []string{"a2", "a1"}, ids(store.CallFilter{Seat: "agent-1"}))
	assert.Equal(t, []string{"b1", "a1"}, ids(store.CallFilter{Status: "completed"}))
	assert.Equal(t, []string{"b1", "a2"}, ids(store.CallFilter{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}))
	assert.Empty(t, ids(store.CallFilter{Seat: "nobody"}))

	_, _, err := s.ListCalls(ctx, store.CallFilter{Cursor: "garbage!"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

func testListCallsPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 23
	for i := range n {
		// Pairs share a start time so the cursor must break ties by id.
		require.NoError(t, s.Record(ctx, call(fmt.Sprintf("c%02d", i), "a", "completed", t0.Add(time.Duration(i/2)*time.Second)), nil))
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		cs, next, err := s.ListCalls(ctx, store.CallFilter{Limit: 5, Cursor: cursor})
		require.NoError(t, err)
		pages++
		for _, c := range cs {
			assert.False(t, seen[c.ID], "call %s on two pages", c.ID)
			seen[c.ID] = true
		}
		if next == "" {
			break
		}
		require.Len(t, cs, 5)
		cursor = next
	}
	assert.Len(t, seen, n)
	assert.Equal(t, 5, pages)
}

func testOpenCallsAndTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	open := call("open", "a", "answered", t0)
	done := call("done", "a", "completed", t0)
	done.Final = true
	require.NoError(t, s.Record(ctx, open, nil))
	require.NoError(t, s.Record(ctx, done, nil))
	cs, err := s.OpenCalls(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "open", cs[0].ID)

	later := t0.Add(90 * time.Second)
	require.NoError(t, s.Touch(ctx, later))
	c, err := s.GetCall(ctx, "open")
	require.NoError(t, err)
	assert.True(t, c.UpdatedAt.Equal(later))
	c, err = s.GetCall(ctx, "done")
	require.NoError(t, err)
	assert.True(t, c.UpdatedAt.Equal(t0), "final calls are not touched")
}

func dueIDs(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	evs, err := s.Due(context.Background(), now, 10)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func deliver(t *testing.T, s store.Store, id string, at time.Time) {
	t.Helper()
	require.NoError(t, s.RecordAttempt(context.Background(),
		store.Attempt{EventID: id, N: 1, At: at, StatusCode: 200},
		store.EventUpdate{State: store.StateDelivered, Attempts: 1, LastStatus: 200, DeliveredAt: at}))
}

func testDuePerCallOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, ok, err := s.NextDue(ctx)
	require.NoError(t, err)
	assert.False(t, ok)

	require.NoError(t, s.Record(ctx, call("c1", "a", "initiated", t0), event("c1-1", "c1", "call.initiated", t0)))
	require.NoError(t, s.Record(ctx, call("c1", "a", "ringing", t0), event("c1-2", "c1", "call.ringing", t0)))
	require.NoError(t, s.Record(ctx, call("c2", "a", "initiated", t0), event("c2-1", "c2", "call.initiated", t0.Add(time.Second))))
	require.NoError(t, s.Record(ctx, call("c3", "a", "initiated", t0), event("c3-1", "c3", "call.initiated", t0.Add(time.Hour))))

	next, ok, err := s.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(t0))

	assert.Equal(t, []string{"c1-1"}, dueIDs(t, s, t0), "one per call, only due ones")
	assert.Equal(t, []string{"c1-1", "c2-1"}, dueIDs(t, s, t0.Add(time.Second)))

	// c1's head fails and is rescheduled: c1's later event still waits.
	require.NoError(t, s.RecordAttempt(ctx,
		store.Attempt{EventID: "c1-1", N: 1, At: t0, StatusCode: 500, Error: "HTTP 500"},
		store.EventUpdate{State: store.StatePending, Attempts: 1, NextAttemptAt: t0.Add(time.Minute), LastStatus: 500, LastError: "HTTP 500"}))
	assert.Equal(t, []string{"c2-1"}, dueIDs(t, s, t0.Add(30*time.Second)), "c1-2 waits behind c1-1")

	deliver(t, s, "c1-1", t0.Add(time.Minute))
	assert.Equal(t, []string{"c1-2", "c2-1"}, dueIDs(t, s, t0.Add(time.Minute)))

	// A dead head no longer blocks the call.
	require.NoError(t, s.RecordAttempt(ctx,
		store.Attempt{EventID: "c1-2", N: 1, At: t0},
		store.EventUpdate{State: store.StateDead, Attempts: 1, LastError: "gave up"}))
	require.NoError(t, s.Record(ctx, call("c1", "a", "answered", t0), event("c1-3", "c1", "call.answered", t0)))
	assert.Contains(t, dueIDs(t, s, t0.Add(time.Minute)), "c1-3")
}

func testAttemptsAndRequeue(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.Record(ctx, call("c1", "a", "completed", t0), event("e1", "c1", "call.completed", t0)))
	require.NoError(t, s.Record(ctx, call("c2", "a", "completed", t0), event("e2", "c2", "call.completed", t0)))
	for n := 1; n <= 3; n++ {
		state := store.StatePending
		if n == 3 {
			state = store.StateDead
		}
		require.NoError(t, s.RecordAttempt(ctx,
			store.Attempt{EventID: "e1", N: n, At: t0.Add(time.Duration(n) * time.Second), StatusCode: 503, Error: "HTTP 503", Duration: 1500 * time.Millisecond},
			store.EventUpdate{State: state, Attempts: n, NextAttemptAt: t0.Add(time.Hour), LastStatus: 503, LastError: "HTTP 503"}))
	}
	as, err := s.Attempts(ctx, "e1")
	require.NoError(t, err)
	require.Len(t, as, 3)
	assert.Equal(t, []int{1, 2, 3}, []int{as[0].N, as[1].N, as[2].N})
	assert.Equal(t, 503, as[2].StatusCode)
	assert.Equal(t, "HTTP 503", as[2].Error)
	assert.Equal(t, 1500*time.Millisecond, as[2].Duration)
	assert.True(t, as[0].At.Equal(t0.Add(time.Second)))

	e, err := s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	assert.Equal(t, store.StateDead, e.State)
	assert.Equal(t, 3, e.Attempts)
	assert.Equal(t, "HTTP 503", e.LastError)

	err = s.RecordAttempt(ctx, store.Attempt{EventID: "nope", N: 1}, store.EventUpdate{State: store.StateDead})
	require.ErrorIs(t, err, store.ErrNotFound)

	now := t0.Add(2 * time.Hour)
	require.NoError(t, s.Requeue(ctx, "e1", now))
	e, err = s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	assert.Equal(t, store.StatePending, e.State)
	assert.True(t, e.NextAttemptAt.Equal(now))
	assert.Equal(t, 3, e.RetryBase, "the schedule restarts")
	require.ErrorIs(t, s.Requeue(ctx, "nope", now), store.ErrNotFound)

	// RequeueDead only touches dead events.
	require.NoError(t, s.RecordAttempt(ctx, store.Attempt{EventID: "e1", N: 4, At: now},
		store.EventUpdate{State: store.StateDead, Attempts: 4}))
	deliver(t, s, "e2", now)
	n, err := s.RequeueDead(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e2, err := s.GetEvent(ctx, "e2")
	require.NoError(t, err)
	assert.Equal(t, store.StateDelivered, e2.State)
	assert.True(t, e2.DeliveredAt.Equal(now))
}

func testListEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 7 {
		cid := fmt.Sprintf("c%d", i%2)
		require.NoError(t, s.Record(ctx, call(cid, "a", "x", t0), event(fmt.Sprintf("e%d", i), cid, "call.ringing", t0)))
	}
	deliver(t, s, "e0", t0)
	evs, next, err := s.ListEvents(ctx, store.EventFilter{CallID: "c0"})
	require.NoError(t, err)
	assert.Empty(t, next)
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{"e0", "e2", "e4", "e6"}, ids)

	evs, _, err = s.ListEvents(ctx, store.EventFilter{State: store.StateDelivered})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, "e0", evs[0].ID)

	var all []string
	cursor := ""
	for {
		evs, next, err := s.ListEvents(ctx, store.EventFilter{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		for _, e := range evs {
			all = append(all, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}, all)
	_, _, err = s.ListEvents(ctx, store.EventFilter{Cursor: "x"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

func testEndpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	eps, err := s.DisabledEndpoints(ctx)
	require.NoError(t, err)
	assert.Empty(t, eps)
	require.NoError(t, s.DisableEndpoint(ctx, store.Endpoint{URL: "https://a/h", DisabledAt: t0, Reason: "410 Gone"}))
	require.NoError(t, s.DisableEndpoint(ctx, store.Endpoint{URL: "https://a/h", DisabledAt: t0.Add(time.Second), Reason: "410 Gone again"}))
	eps, err = s.DisabledEndpoints(ctx)
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, "410 Gone again", eps[0].Reason)
	require.NoError(t, s.EnableEndpoint(ctx, "https://a/h"))
	require.NoError(t, s.EnableEndpoint(ctx, "https://never/disabled"))
	eps, err = s.DisabledEndpoints(ctx)
	require.NoError(t, err)
	assert.Empty(t, eps)
}

func testConcurrentRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cid := fmt.Sprintf("c%d", i%4)
			errs <- s.Record(ctx, call(cid, "a", "ringing", t0), event(fmt.Sprintf("e%d", i), cid, "call.ringing", t0))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	evs, _, err := s.ListEvents(ctx, store.EventFilter{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, evs, 40)
}

// SharedOpener returns two handles on one new, empty database, as two
// bridge nodes would open it; RunShared closes them.
type SharedOpener func(t *testing.T) (store.Store, store.Store)

// RunShared runs the cases that need two handles on one database: what
// two nodes do at once must not double-claim an event or double-adopt a
// call.
func RunShared(t *testing.T, open SharedOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"ClaimsAcrossHandles", testClaimsAcrossHandles},
		{"AdoptAcrossHandles", testAdoptAcrossHandles},
		{"DirectoryAcrossHandles", testDirectoryAcrossHandles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
			tt.fn(t, a, b)
		})
	}
}

func claimIDs(t *testing.T, s store.Store, node string, now time.Time) []string {
	t.Helper()
	evs, err := s.Claim(context.Background(), node, now, time.Minute, 10)
	require.NoError(t, err)
	out := []string{}
	for _, e := range evs {
		assert.Equal(t, node, e.ClaimedBy)
		assert.True(t, e.ClaimUntil.Equal(now.Add(time.Minute)), "claimed until %v", e.ClaimUntil)
		out = append(out, e.ID)
	}
	return out
}

func testClaimLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.Record(ctx, call("c1", "a", "initiated", t0), event("c1-1", "c1", "call.initiated", t0)))
	require.NoError(t, s.Record(ctx, call("c1", "a", "ringing", t0), event("c1-2", "c1", "call.ringing", t0)))
	require.NoError(t, s.Record(ctx, call("c2", "a", "initiated", t0), event("c2-1", "c2", "call.initiated", t0)))

	assert.Equal(t, []string{"c1-1", "c2-1"}, claimIDs(t, s, "node-a", t0))
	e, err := s.GetEvent(ctx, "c1-1")
	require.NoError(t, err)
	assert.Equal(t, "node-a", e.ClaimedBy)
	assert.True(t, e.ClaimUntil.Equal(t0.Add(time.Minute)))
	assert.Equal(t, store.StatePending, e.State)

	assert.Empty(t, claimIDs(t, s, "node-b", t0.Add(time.Second)), "claimed heads are skipped and block their calls")
	assert.Empty(t, dueIDs(t, s, t0.Add(time.Second)), "Due skips claimed events too")
	next, ok, err := s.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(t0.Add(time.Minute)), "claimable again when the claims lapse, got %v", next)
	assert.Equal(t, []string{"c1-1", "c2-1"}, claimIDs(t, s, "node-a", t0.Add(time.Second)), "a node takes its own claims again")

	deliver(t, s, "c1-1", t0.Add(2*time.Second))
	e, err = s.GetEvent(ctx, "c1-1")
	require.NoError(t, err)
	assert.Empty(t, e.ClaimedBy, "RecordAttempt clears the claim")
	assert.True(t, e.ClaimUntil.IsZero())
	assert.Equal(t, []string{"c1-2"}, claimIDs(t, s, "node-b", t0.Add(3*time.Second)), "c1's next event; c2-1 is still node-a's")

	// node-a died: its claim on c2-1 lapses and node-b takes it over.
	later := t0.Add(time.Minute + 2*time.Second)
	assert.Equal(t, []string{"c2-1"}, claimIDs(t, s, "node-c", later))
	require.NoError(t, s.RecordAttempt(ctx,
		store.Attempt{EventID: "c2-1", N: 1, At: later, StatusCode: 503},
		store.EventUpdate{State: store.StatePending, Attempts: 1, NextAttemptAt: later.Add(time.Hour), LastStatus: 503}))
	next, ok, err = s.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(t0.Add(time.Minute+3*time.Second)), "c1-2's claim by node-b lapses first, got %v", next)

	_, err = s.Claim(ctx, "", t0, time.Minute, 10)
	require.Error(t, err, "a claim needs a node id")
}

func testAdoptCalls(t *testing.T, s store.Store) {
	ctx := context.Background()
	rec := func(id, node string, started, updated time.Time, final bool) {
		t.Helper()
		c := call(id, "a", "answered", started)
		c.Node, c.UpdatedAt, c.Final = node, updated, final
		require.NoError(t, s.Record(ctx, c, nil))
	}
	fresh := t0.Add(50 * time.Second)
	rec("own", "node-a", t0, fresh, false)
	rec("nobody", "", t0.Add(time.Second), fresh, false)
	rec("other-fresh", "node-b", t0.Add(2*time.Second), fresh, false)
	rec("other-stale", "node-c", t0.Add(3*time.Second), t0, false)
	rec("other-done", "node-c", t0.Add(4*time.Second), t0, true)

	c, err := s.GetCall(ctx, "other-fresh")
	require.NoError(t, err)
	assert.Equal(t, "node-b", c.Node)

	ids := func(cs []store.Call) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	// The heartbeat sweep: only calls whose node stopped touching them.
	now := t0.Add(60 * time.Second)
	got, err := s.AdoptCalls(ctx, store.Adoption{Node: "node-a", StaleBefore: t0.Add(30 * time.Second), Now: now})
	require.NoError(t, err)
	require.Equal(t, []string{"other-stale"}, ids(got))
	assert.Equal(t, "node-c", got[0].Node, "returned as it was before")
	assert.True(t, got[0].UpdatedAt.Equal(t0), "with the last heartbeat of the dead node")
	c, err = s.GetCall(ctx, "other-stale")
	require.NoError(t, err)
	assert.Equal(t, "node-a", c.Node)
	assert.True(t, c.UpdatedAt.Equal(now))
	got, err = s.AdoptCalls(ctx, store.Adoption{Node: "node-b", StaleBefore: t0.Add(30 * time.Second), Now: now})
	require.NoError(t, err)
	assert.Empty(t, got, "an adopted call is fresh: nobody adopts it again")

	// Start-up: the node's own calls and calls nobody owns.
	got, err = s.AdoptCalls(ctx, store.Adoption{Node: "node-a", Own: true, Now: now})
	require.NoError(t, err)
	assert.Equal(t, []string{"own", "nobody", "other-stale"}, ids(got))
	got, err = s.AdoptCalls(ctx, store.Adoption{Node: "node-d", Own: true, Now: now})
	require.NoError(t, err)
	assert.Empty(t, got, "another live node's calls are not taken at start-up")

	// TouchNode is one node's heartbeat.
	beat := t0.Add(70 * time.Second)
	require.NoError(t, s.TouchNode(ctx, "node-b", beat))
	c, err = s.GetCall(ctx, "other-fresh")
	require.NoError(t, err)
	assert.True(t, c.UpdatedAt.Equal(beat))
	c, err = s.GetCall(ctx, "own")
	require.NoError(t, err)
	assert.True(t, c.UpdatedAt.Equal(now), "other nodes' calls are not touched")
	c, err = s.GetCall(ctx, "other-done")
	require.NoError(t, err)
	assert.True(t, c.UpdatedAt.Equal(t0), "final calls are not touched")

	open, err := s.OpenCalls(ctx)
	require.NoError(t, err)
	nodes := map[string]string{}
	for _, c := range open {
		nodes[c.ID] = c.Node
	}
	assert.Equal(t, map[string]string{"own": "node-a", "nobody": "node-a", "other-fresh": "node-b", "other-stale": "node-a"}, nodes)

	_, err = s.AdoptCalls(ctx, store.Adoption{Own: true, Now: now})
	require.Error(t, err, "adoption needs a node id")
}

// claimRace has nodes claim and deliver concurrently, each node through
// its own handle, and checks that no event is claimed while another claim
// on it is live, that each is delivered once, and that each call's events
// are claimed in order.
func claimRace(t *testing.T, handles []store.Store) {
	ctx := context.Background()
	const calls, perCall = 12, 4
	for c := range calls {
		cid := fmt.Sprintf("c%02d", c)
		for i := range perCall {
			require.NoError(t, handles[0].Record(ctx, call(cid, "a", "x", t0), event(fmt.Sprintf("%s-%d", cid, i), cid, "call.ringing", t0)))
		}
	}
	var mu sync.Mutex
	inFlight := map[string]string{} // guarded by mu
	delivered := map[string]int{}   // guarded by mu
	order := map[string][]string{}  // guarded by mu
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for n, h := range handles {
		for g := range 2 {
			node := fmt.Sprintf("node-%d-%d", n, g)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					evs, err := h.Claim(ctx, node, t0, time.Hour, 3)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					done := len(delivered) == calls*perCall
					for _, e := range evs {
						if other, ok := inFlight[e.ID]; ok {
							errs <- fmt.Errorf("%s claimed by %s while %s holds it", e.ID, node, other)
						}
						inFlight[e.ID] = node
						order[e.CallID] = append(order[e.CallID], e.ID)
					}
					mu.Unlock()
					if done {
						return
					}
					for _, e := range evs {
						if err := h.RecordAttempt(ctx, store.Attempt{EventID: e.ID, N: 1, At: t0, StatusCode: 200},
							store.EventUpdate{State: store.StateDelivered, Attempts: 1, LastStatus: 200, DeliveredAt: t0}); err != nil {
							errs <- err
							return
						}
						mu.Lock()
						delete(inFlight, e.ID)
						delivered[e.ID]++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, delivered, calls*perCall)
	for id, n := range delivered {
		assert.Equal(t, 1, n, "%s delivered %d times", id, n)
	}
	for c := range calls {
		cid := fmt.Sprintf("c%02d", c)
		want := make([]string, perCall)
		for i := range want {
			want[i] = fmt.Sprintf("%s-%d", cid, i)
		}
		assert.Equal(t, want, order[cid], "per-call order")
	}
}

func testConcurrentClaims(t *testing.T, s store.Store) {
	claimRace(t, []store.Store{s, s})
}

func testClaimsAcrossHandles(t *testing.T, a, b store.Store) {
	claimRace(t, []store.Store{a, b})
}

func testAdoptAcrossHandles(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const n = 30
	for i := range n {
		c := call(fmt.Sprintf("c%02d", i), "a", "answered", t0)
		c.Node = "dead-node"
		require.NoError(t, a.Record(ctx, c, nil))
	}
	var mu sync.Mutex
	adopted := map[string]int{} // guarded by mu
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i, h := range []store.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := h.AdoptCalls(ctx, store.Adoption{Node: fmt.Sprintf("node-%d", i), StaleBefore: t0.Add(time.Minute), Now: t0.Add(2 * time.Minute)})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				adopted[c.ID]++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, adopted, n)
	for id, k := range adopted {
		assert.Equal(t, 1, k, "%s adopted %d times", id, k)
	}
}
