package backend

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/postgres"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
	"github.com/callbridge/callbridge/store/sqlite"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		dsn  string
		kind Kind
		err  string
	}{
		{"sqlite:///var/lib/bridge/bridge.db", SQLite, ""},
		{"sqlite://bridge.db", SQLite, ""},
		{"sqlite://", "", "without a file path"},
		{"postgres://bridge:pw@db:5432/bridge", Postgres, ""},
		{"postgresql://bridge@db/bridge?sslmode=verify-full", Postgres, ""},
		{"postgres://db/bridge?sslmode=sometimes", "", "bad postgres DSN"},
		{"mysql://root:hunter2@db/x", "", "want sqlite://PATH"},
		{"", "", "want sqlite://PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			kind, err := Check(tt.dsn)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.kind, kind)
				return
			}
			require.ErrorIs(t, err, ErrBadDSN)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://bridge:s3cret@db:5432/bridge": "postgres://bridge:xxxxx@db:5432/bridge",
		"postgres://bridge@db/bridge":             "postgres://bridge@db/bridge",
		"sqlite:///var/lib/b.db":                  "sqlite:///var/lib/b.db",
		"no scheme":                               "no scheme",
	} {
		assert.Equal(t, want, Redact(in))
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "bridge.db")
	st, err := Open(context.Background(), "sqlite://"+path)
	require.NoError(t, err)
	defer st.Close()
	assert.IsType(t, &sqlite.Store{}, st)
	assert.FileExists(t, path)

	_, err = Open(context.Background(), "redis://x")
	require.ErrorIs(t, err, ErrBadDSN)
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgtest.Start(t).NewDatabase(t)
	for _, d := range []string{dsn, "postgresql" + dsn[len("postgres"):]} {
		st, err := Open(context.Background(), d)
		require.NoError(t, err)
		assert.IsType(t, &postgres.Store{}, st)
		_, err = st.GetCall(context.Background(), "none")
		require.ErrorIs(t, err, store.ErrNotFound, "the schema is there")
		require.NoError(t, st.Close())
	}
}
