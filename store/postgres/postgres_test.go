package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
	"github.com/callbridge/callbridge/store/storetest"
)

// One server for the package's tests; each test gets its own database.
var (
	server    *pgtest.Server
	serverErr error
)

func TestMain(m *testing.M) {
	server, serverErr = pgtest.New()
	code := m.Run()
	if server != nil {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

func newDatabase(t *testing.T) string {
	t.Helper()
	pgtest.Require(t, serverErr)
	return server.NewDatabase(t)
}

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	pgtest.Require(t, serverErr)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, newDatabase(t)) })
}

func TestConformanceShared(t *testing.T) {
	pgtest.Require(t, serverErr)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := newDatabase(t)
		return open(t, dsn), open(t, dsn)
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)

	// Nodes starting together migrate once.
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err)
		v, err := stores[i].Version(ctx)
		require.NoError(t, err)
		assert.Equal(t, SchemaVersion(), v)
	}
	require.NoError(t, stores[0].Record(ctx, store.Call{ID: "c1", Seat: "a", Status: "answered", Record: []byte(`{}`)},
		&store.Event{ID: "e1", CallID: "c1", Type: "call.answered", Body: []byte(`{}`), NextAttemptAt: time.Now()}))
	for _, s := range stores {
		require.NoError(t, s.Close())
	}

	// Reopening applies nothing twice and keeps the data.
	s := open(t, dsn)
	_, err := s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A database from a newer build is refused, not changed.
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, SchemaVersion()+1)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	_, err = Open(ctx, dsn)
	require.ErrorIs(t, err, store.ErrSchemaTooNew)
}

// Times the store cannot hold exactly come back as the same instant in
// UTC, zero as zero.
func TestTimes(t *testing.T) {
	ctx := context.Background()
	s := open(t, newDatabase(t))
	defer s.Close()
	local := time.FixedZone("CET", 3600)
	started := time.Date(2026, 11, 26, 18, 0, 0, 123456789, local)
	require.NoError(t, s.Record(ctx, store.Call{ID: "c1", Seat: "a", Status: "initiated", StartedAt: started, Record: []byte(`{}`)},
		&store.Event{ID: "e1", CallID: "c1", Type: "call.initiated", Body: []byte(`{}`)}))
	c, err := s.GetCall(ctx, "c1")
	require.NoError(t, err)
	assert.True(t, c.StartedAt.Equal(started.Truncate(time.Microsecond)), "got %v", c.StartedAt)
	assert.Equal(t, time.UTC, c.StartedAt.Location())
	assert.True(t, c.EndedAt.IsZero())
	e, err := s.GetEvent(ctx, "e1")
	require.NoError(t, err)
	assert.True(t, e.CreatedAt.IsZero())
	assert.True(t, e.NextAttemptAt.IsZero())
	assert.True(t, e.DeliveredAt.IsZero())
	assert.True(t, e.ClaimUntil.IsZero())
	// A zero NextAttemptAt is due at once.
	due, err := s.Due(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, dsn, want string
	}{
		{"not postgres", "sqlite://x.db", "want postgres://"},
		{"bad url", "postgres://u:secret@[::1/db", "bad postgres DSN"},
		{"bad param", "postgres://127.0.0.1/db?sslmode=sometimes", "bad postgres DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.dsn)
			require.ErrorIs(t, err, ErrBadDSN)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "secret", "the password is not echoed")
		})
	}
	t.Run("nobody listening", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := Open(ctx, "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "secret")
	})
}

func TestIsDSN(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://h/db": true, "sqlite://x.db": false, "": false, "host=h dbname=db": false,
	} {
		assert.Equal(t, want, IsDSN(dsn), dsn)
	}
}
