package postgres

import "errors"

// ErrBadDSN: store.dsn is not a PostgreSQL URL pgx can use.
var ErrBadDSN = errors.New("bad postgres DSN")
