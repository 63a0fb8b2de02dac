package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// This file holds what every Store implementation does the same way,
// whatever its SQL dialect: page sizes, pagination cursors, the defaults
// of a newly recorded event, reading result rows, not-found errors and the
// order of schema migrations. The SQL itself stays with each store.
//
// A cursor is the base64url (unpadded) of its parts joined by NUL, the
// first part naming its kind: "c" for call pages, "e" for event pages.
// Cursors are opaque to clients and only ever read by the store that
// issued them.

// Cursor kinds.
const (
	callCursorKind  = "c"
	eventCursorKind = "e"
	auditCursorKind = "a"
)

// PageLimit returns the size of a listed page for a requested limit n:
// DefaultLimit when n <= 0, at most MaxLimit.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// DueLimit returns how many events Due or Claim return at most for a
// requested n: DefaultLimit when n <= 0, n otherwise (no upper cap).
func DueLimit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return n
}

// NextPage cuts out, fetched with a limit of n+1, to the page of n and
// returns the cursor of the next page, made by cursor from the page's last
// element, or "" when out held no more than n (the last page).
func NextPage[T any](out []T, n int, cursor func(last T) string) ([]T, string) {
	if len(out) <= n {
		return out, ""
	}
	out = out[:n]
	return out, cursor(out[n-1])
}

// EncodeCallCursor returns the cursor of the call page that follows a
// call started at at (in the unit of the issuing store's choice: it is the
// only one to read it back) with id id.
func EncodeCallCursor(at int64, id string) string {
	return encodeCursor(callCursorKind, strconv.FormatInt(at, 10), id)
}

// DecodeCallCursor reads a cursor made by EncodeCallCursor; anything else
// is ErrBadCursor.
func DecodeCallCursor(cur string) (at int64, id string, err error) {
	p, err := decodeCursor(cur, callCursorKind, 3)
	if err != nil {
		return 0, "", err
	}
	at, err = strconv.ParseInt(p[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: bad time", ErrBadCursor)
	}
	return at, p[1], nil
}

// EncodeEventCursor returns the cursor of the event page that follows the
// event with sequence number seq.
func EncodeEventCursor(seq int64) string {
	return encodeCursor(eventCursorKind, strconv.FormatInt(seq, 10))
}

// DecodeEventCursor reads a cursor made by EncodeEventCursor; anything
// else is ErrBadCursor.
func DecodeEventCursor(cur string) (seq int64, err error) {
	p, err := decodeCursor(cur, eventCursorKind, 2)
	if err != nil {
		return 0, err
	}
	seq, err = strconv.ParseInt(p[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad seq", ErrBadCursor)
	}
	return seq, nil
}

// EncodeAuditCursor returns the cursor of the audit page that follows
// the entry with sequence number seq (pages run newest first).
func EncodeAuditCursor(seq int64) string {
	return encodeCursor(auditCursorKind, strconv.FormatInt(seq, 10))
}

// DecodeAuditCursor reads a cursor made by EncodeAuditCursor; anything
// else is ErrBadCursor.
func DecodeAuditCursor(cur string) (seq int64, err error) {
	p, err := decodeCursor(cur, auditCursorKind, 2)
	if err != nil {
		return 0, err
	}
	seq, err = strconv.ParseInt(p[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad seq", ErrBadCursor)
	}
	return seq, nil
}

func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

// decodeCursor returns the n-1 parts after the kind of a cursor of that
// kind with n parts.
func decodeCursor(cur, kind string, n int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrBadCursor)
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != n || parts[0] != kind {
		return nil, fmt.Errorf("%w: wrong shape", ErrBadCursor)
	}
	return parts[1:], nil
}

// NewEventState returns the state an event is recorded in: its State, or
// StatePending when that is unset.
func NewEventState(ev *Event) string {
	if ev.State == "" {
		return StatePending
	}
	return ev.State
}

// NonNil returns b, or an empty slice for nil, for NOT NULL blob columns
// (a nil []byte is written as NULL).
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Rows is the part of a driver's result set (database/sql's *sql.Rows,
// pgx's pgx.Rows) that CollectRows needs.
type Rows interface {
	Next() bool
	Err() error
}

// CollectRows reads rows to the end with scan, which scans the current
// row, and returns what it read and the iteration's error (rows.Err). It
// stops at scan's first error and returns nil with it. Closing rows is
// left to the caller.
func CollectRows[T any](rows Rows, scan func() (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// NotFound returns ErrNotFound wrapped with what was not found: kind
// ("call", "event") and id.
func NotFound(kind, id string) error {
	return fmt.Errorf("%w: %s %s", ErrNotFound, kind, id)
}

// ApplyMigrations brings a database at schema version cur up to known, the
// number of migrations the build has: it refuses a database newer than the
// build (ErrSchemaTooNew) and calls apply for each later version in order,
// stopping at the first error. apply runs migration v (1-based) and
// records it, atomically.
func ApplyMigrations(cur, known int, apply func(v int) error) error {
	if cur > known {
		return fmt.Errorf("%w: database at version %d, this build knows %d", ErrSchemaTooNew, cur, known)
	}
	for v := cur + 1; v <= known; v++ {
		if err := apply(v); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}
