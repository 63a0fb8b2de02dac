// Package backend opens the store that store.dsn names: "sqlite://PATH"
// for the embedded store (store/sqlite), "postgres://…" or
// "postgresql://…" for the one several bridge nodes share
// (store/postgres).
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/postgres"
	"github.com/callbridge/callbridge/store/sqlite"
)

// ErrBadDSN: store.dsn names no store this build has.
var ErrBadDSN = errors.New("bad store DSN")

// Example DSNs, for messages.
const (
	ExampleSQLite   = "sqlite:///var/lib/bridge/bridge.db"
	ExamplePostgres = "postgres://bridge:PASSWORD@db.example:5432/bridge"
)

// Kind is the kind of store a DSN names.
type Kind string

// Kinds.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Check tells which store dsn names and whether it is well formed, without
// opening anything. Its errors never contain the DSN's password.
func Check(dsn string) (Kind, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		if strings.TrimPrefix(dsn, "sqlite://") == "" {
			return "", fmt.Errorf("%w: sqlite:// without a file path (e.g. %q)", ErrBadDSN, ExampleSQLite)
		}
		return SQLite, nil
	case postgres.IsDSN(dsn):
		if _, err := postgres.ParseDSN(dsn); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadDSN, err)
		}
		return Postgres, nil
	default:
		return "", fmt.Errorf("%w: %q: want sqlite://PATH (e.g. %q) or postgres://… (e.g. %q)", ErrBadDSN, Redact(dsn), ExampleSQLite, ExamplePostgres)
	}
}

// Open opens the store dsn names and migrates its schema. For SQLite it
// creates the file's directory if needed.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	kind, err := Check(dsn)
	if err != nil {
		return nil, err
	}
	switch kind {
	case Postgres:
		return postgres.Open(ctx, dsn)
	default:
		path := strings.TrimPrefix(dsn, "sqlite://")
		if dir := filepath.Dir(path); dir != "." && path != ":memory:" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("store %s: %w", path, err)
			}
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		return st, nil
	}
}

// Redact returns dsn with the password of a URL replaced by "xxxxx", for
// logs and messages.
func Redact(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	auth, host, ok := strings.Cut(rest, "@")
	if !ok || strings.Contains(auth, "/") {
		return dsn
	}
	if user, _, hasPass := strings.Cut(auth, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}
