package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/storetest"
)

func TestConformanceFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "bridge.db"))
		require.NoError(t, err)
		return s
	})
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), ":memory:")
		require.NoError(t, err)
		return s
	})
}

func TestMigrationsAndPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bridge.db")
	s, err := Open(ctx, "sqlite://"+path)
	require.NoError(t, err)
	v, err := s.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, SchemaVersion(), v)
	require.NoError(t, s.Record(ctx, store.Call{ID: "c1", Seat: "a", Status: "answered", Record: []byte(`{}`)},
		&store.Event{ID: "e1", CallID: "c1", Type: "call.answered", Body: []byte(`{}`), NextAttemptAt: time.Now()}))
	require.NoError(t, s.Close())

	// Reopening applies nothing twice and keeps the data.
	s, err = Open(ctx, path)
	require.NoError(t, err)
	v, err = s.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, SchemaVersion(), v)
	_, err = s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A database from a newer build is refused, not corrupted.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO schema_migrations(version, applied_at) VALUES (?, 0)`, SchemaVersion()+1)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = Open(ctx, path)
	require.ErrorIs(t, err, store.ErrSchemaTooNew)
}

func TestOpenErrors(t *testing.T) {
	for _, p := range []string{"", "sqlite://", "a.db?mode=ro", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		t.Run(p, func(t *testing.T) {
			_, err := Open(context.Background(), p)
			require.Error(t, err)
		})
	}
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "bridge.db")
		a, err := Open(context.Background(), path)
		require.NoError(t, err)
		b, err := Open(context.Background(), path)
		require.NoError(t, err)
		return a, b
	})
}
