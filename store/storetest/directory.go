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

func change(action, kind, key string, at time.Time) store.Change {
	return store.Change{At: at, Actor: "admin", Action: action, Kind: kind, Key: key, Detail: []byte(`{}`)}
}

func seat(id string, disabled bool) store.Seat {
	return store.Seat{ID: id, Disabled: disabled, Source: store.SourceAPI, Settings: []byte(fmt.Sprintf(`{"id":%q}`, id))}
}

func load(t *testing.T, s store.Store) store.Snapshot {
	t.Helper()
	snap, err := s.LoadDirectory(context.Background())
	require.NoError(t, err)
	return snap
}

func testDirectorySeats(t *testing.T, s store.Store) {
	ctx := context.Background()
	v, err := s.DirectoryVersion(ctx)
	require.NoError(t, err)
	assert.Zero(t, v, "an empty directory is at version 0")
	assert.Empty(t, load(t, s).Seats)

	require.NoError(t, s.PutSeat(ctx, seat("b", false), change("create", "seat", "b", t0)))
	require.NoError(t, s.PutSeat(ctx, seat("a", false), change("create", "seat", "a", t0.Add(time.Second))))
	snap := load(t, s)
	assert.EqualValues(t, 2, snap.Version)
	require.Len(t, snap.Seats, 2)
	assert.Equal(t, "a", snap.Seats[0].ID, "seats by id")
	assert.JSONEq(t, `{"id":"a"}`, string(snap.Seats[0].Settings))
	assert.Equal(t, store.SourceAPI, snap.Seats[0].Source)
	assert.True(t, snap.Seats[0].CreatedAt.Equal(t0.Add(time.Second)))

	// Replacing keeps CreatedAt and moves UpdatedAt.
	up := seat("a", true)
	up.Settings = []byte(`{"id":"a","country":"GB"}`)
	require.NoError(t, s.PutSeat(ctx, up, change("disable", "seat", "a", t0.Add(time.Hour))))
	snap = load(t, s)
	assert.EqualValues(t, 3, snap.Version)
	a := snap.Seats[0]
	assert.True(t, a.Disabled)
	assert.JSONEq(t, `{"id":"a","country":"GB"}`, string(a.Settings))
	assert.True(t, a.CreatedAt.Equal(t0.Add(time.Second)), "created %v", a.CreatedAt)
	assert.True(t, a.UpdatedAt.Equal(t0.Add(time.Hour)), "updated %v", a.UpdatedAt)

	require.NoError(t, s.DeleteSeat(ctx, "b", change("delete", "seat", "b", t0)))
	err = s.DeleteSeat(ctx, "b", change("delete", "seat", "b", t0))
	require.ErrorIs(t, err, store.ErrNotFound)
	snap = load(t, s)
	assert.EqualValues(t, 4, snap.Version, "a failed change leaves the version as it was")
	require.Len(t, snap.Seats, 1)
}

func testDirectoryDIDs(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.PutSeat(ctx, seat("a", false), change("create", "seat", "a", t0)))
	require.NoError(t, s.PutSeat(ctx, seat("b", false), change("create", "seat", "b", t0)))

	did := func(n, seat string, def bool) store.DID { return store.DID{Number: n, Seat: seat, Default: def} }
	require.NoError(t, s.AssignDID(ctx, did("+14155550100", "a", true), change("assign", "did", "+14155550100", t0)))
	require.NoError(t, s.AssignDID(ctx, did("+442071838750", "a", false), change("assign", "did", "+442071838750", t0)))

	// A DID belongs to one seat.
	err := s.AssignDID(ctx, did("+14155550100", "b", false), change("assign", "did", "+14155550100", t0))
	require.ErrorIs(t, err, store.ErrConflict)
	err = s.AssignDID(ctx, did("+15550000000", "nobody", false), change("assign", "did", "+15550000000", t0))
	require.ErrorIs(t, err, store.ErrNotFound)

	// A new default takes over from the old one.
	require.NoError(t, s.AssignDID(ctx, did("+442071838750", "a", true), change("assign", "did", "+442071838750", t0)))
	snap := load(t, s)
	require.Len(t, snap.DIDs, 2)
	defaults := map[string]bool{}
	for _, d := range snap.DIDs {
		assert.Equal(t, "a", d.Seat)
		defaults[d.Number] = d.Default
	}
	assert.Equal(t, map[string]bool{"+14155550100": false, "+442071838750": true}, defaults)

	// Released, the number is free for another seat.
	require.NoError(t, s.ReleaseDID(ctx, "+14155550100", change("release", "did", "+14155550100", t0)))
	require.ErrorIs(t, s.ReleaseDID(ctx, "+14155550100", change("release", "did", "+14155550100", t0)), store.ErrNotFound)
	require.NoError(t, s.AssignDID(ctx, did("+14155550100", "b", true), change("assign", "did", "+14155550100", t0)))

	// Deleting a seat releases its DIDs.
	require.NoError(t, s.DeleteSeat(ctx, "a", change("delete", "seat", "a", t0)))
	snap = load(t, s)
	require.Len(t, snap.DIDs, 1)
	assert.Equal(t, store.DID{Number: "+14155550100", Seat: "b", Default: true, CreatedAt: snap.DIDs[0].CreatedAt}, snap.DIDs[0])
}

func testDirectoryTrunksAndRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, n := range []string{"b", "a"} {
		require.NoError(t, s.PutTrunk(ctx, store.Trunk{Name: n, Source: store.SourceAPI, Settings: []byte(`{"address":"sip:` + n + `.example"}`)},
			change("create", "trunk", n, t0)))
	}
	require.NoError(t, s.PutTrunk(ctx, store.Trunk{Name: "a", Source: store.SourceConfig, Settings: []byte(`{"address":"sip:a2.example"}`)},
		change("update", "trunk", "a", t0.Add(time.Minute))))
	require.NoError(t, s.DeleteTrunk(ctx, "b", change("delete", "trunk", "b", t0)))
	require.ErrorIs(t, s.DeleteTrunk(ctx, "b", change("delete", "trunk", "b", t0)), store.ErrNotFound)

	routes := []store.Route{
		{ID: "uk", Settings: []byte(`{"prefix":"+44"}`)},
		{ID: "rest", Settings: []byte(`{"prefix":"+"}`)},
	}
	require.NoError(t, s.ReplaceRoutes(ctx, routes, change("replace", "routes", "", t0)))
	snap := load(t, s)
	require.Len(t, snap.Trunks, 1)
	assert.Equal(t, "a", snap.Trunks[0].Name)
	assert.Equal(t, store.SourceConfig, snap.Trunks[0].Source)
	assert.JSONEq(t, `{"address":"sip:a2.example"}`, string(snap.Trunks[0].Settings))
	require.Len(t, snap.Routes, 2)
	assert.Equal(t, "uk", snap.Routes[0].ID)
	assert.Equal(t, 0, snap.Routes[0].Position)
	assert.Equal(t, "rest", snap.Routes[1].ID)
	assert.Equal(t, 1, snap.Routes[1].Position)

	// Replaced in another order; a table with a duplicate id is refused whole.
	require.NoError(t, s.ReplaceRoutes(ctx, []store.Route{routes[1], routes[0]}, change("replace", "routes", "", t0)))
	v, err := s.DirectoryVersion(ctx)
	require.NoError(t, err)
	require.Error(t, s.ReplaceRoutes(ctx, []store.Route{routes[0], routes[0]}, change("replace", "routes", "", t0)))
	snap = load(t, s)
	assert.Equal(t, v, snap.Version)
	require.Len(t, snap.Routes, 2)
	assert.Equal(t, "rest", snap.Routes[0].ID)
}

func testDirectoryAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 7 {
		id := fmt.Sprintf("s%d", i)
		c := store.Change{At: t0.Add(time.Duration(i) * time.Second), Actor: "crm-backend", Action: "create", Kind: "seat", Key: id,
			Detail: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		require.NoError(t, s.PutSeat(ctx, seat(id, false), c))
	}
	require.NoError(t, s.PutTrunk(ctx, store.Trunk{Name: "a", Source: store.SourceAPI, Settings: []byte(`{}`)}, change("create", "trunk", "a", t0)))

	all, next, err := s.Audit(ctx, store.AuditFilter{})
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, all, 8)
	assert.Equal(t, "trunk", all[0].Kind, "newest first")
	assert.EqualValues(t, 8, all[0].Seq)
	last := all[7]
	assert.EqualValues(t, 1, last.Seq)
	assert.Equal(t, "crm-backend", last.Actor)
	assert.Equal(t, "create", last.Action)
	assert.Equal(t, "s0", last.Key)
	assert.True(t, last.At.Equal(t0), "at %v", last.At)
	assert.JSONEq(t, `{"n":0}`, string(last.Detail))

	one, _, err := s.Audit(ctx, store.AuditFilter{Kind: "seat", Key: "s3"})
	require.NoError(t, err)
	require.Len(t, one, 1)
	assert.EqualValues(t, 4, one[0].Seq)

	// Pages of 3 over the seats: 7, 3 + 3 + 1, no entry twice.
	var seqs []int64
	cur := ""
	for {
		page, next, err := s.Audit(ctx, store.AuditFilter{Kind: "seat", Limit: 3, Cursor: cur})
		require.NoError(t, err)
		for _, e := range page {
			seqs = append(seqs, e.Seq)
		}
		if next == "" {
			break
		}
		cur = next
	}
	assert.Equal(t, []int64{7, 6, 5, 4, 3, 2, 1}, seqs)

	_, _, err = s.Audit(ctx, store.AuditFilter{Cursor: store.EncodeEventCursor(1)})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

// Concurrent changes each get their own version, and the audit log holds
// every one.
func testDirectoryConcurrentChanges(t *testing.T, s store.Store) {
	concurrentChanges(t, s, s)
}

func concurrentChanges(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const n = 20
	base := load(t, a)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := a
			if i%2 == 1 {
				st = b
			}
			id := fmt.Sprintf("s%02d", i)
			assert.NoError(t, st.PutSeat(ctx, seat(id, false), change("create", "seat", id, t0)))
		}()
	}
	wg.Wait()
	for _, st := range []store.Store{a, b} {
		v, err := st.DirectoryVersion(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, base.Version+n, v)
		snap := load(t, st)
		assert.Len(t, snap.Seats, len(base.Seats)+n)
	}
	log, _, err := a.Audit(ctx, store.AuditFilter{Limit: n})
	require.NoError(t, err)
	require.Len(t, log, n)
	keys := map[string]bool{}
	for i, e := range log {
		assert.EqualValues(t, base.Version+int64(n-i), e.Seq)
		keys[e.Key] = true
	}
	assert.Len(t, keys, n)
}

// A change through one handle is seen through the other at once.
func testDirectoryAcrossHandles(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	require.NoError(t, a.PutSeat(ctx, seat("a", false), change("create", "seat", "a", t0)))
	v, err := b.DirectoryVersion(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, v)
	snap := load(t, b)
	require.Len(t, snap.Seats, 1)
	assert.Equal(t, "a", snap.Seats[0].ID)
	require.NoError(t, b.AssignDID(ctx, store.DID{Number: "+442071838750", Seat: "a", Default: true}, change("assign", "did", "+442071838750", t0)))
	require.ErrorIs(t, a.AssignDID(ctx, store.DID{Number: "+442071838750", Seat: "b"}, change("assign", "did", "+442071838750", t0)), store.ErrNotFound)
	assert.Len(t, load(t, a).DIDs, 1)
	concurrentChanges(t, a, b)
}
