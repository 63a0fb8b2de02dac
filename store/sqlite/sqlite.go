// Package sqlite is the embedded store: one SQLite file through the pure-Go
// modernc.org/sqlite driver, so the bridge needs no database server and no
// cgo. Writes are WAL-journaled with synchronous=FULL: when a method
// returns, the data survives a killed process and a power cut.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/callbridge/callbridge/store"
)

// Store is a store.Store in one SQLite database.
type Store struct {
	db   *sql.DB
	path string      // the database file; "" for :memory:
	file os.FileInfo // the file as opened, to notice it deleted or replaced
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates its
// schema. path may carry the "sqlite://" prefix of store.dsn; ":memory:" is
// a private in-memory database (tests).
func Open(ctx context.Context, path string) (*Store, error) {
	path = strings.TrimPrefix(path, "sqlite://")
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: bad database path %q", path)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and an in-memory
	// database exists per connection.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if path != ":memory:" {
		s.path = path
		if s.file, err = os.Stat(path); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite: %s: %w", path, err)
		}
	}
	return s, nil
}

// Check reports the database file deleted, moved or replaced since Open:
// SQLite would go on writing to the open, unlinked file, and every record
// written from then on would vanish with the process.
func (s *Store) Check(context.Context) error {
	if s.path == "" {
		return nil
	}
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: the database file %s was deleted while open; restart the bridge to create a new one", ErrFileGone, s.path)
	case err != nil:
		return fmt.Errorf("sqlite: %s: %w", s.path, err)
	case !os.SameFile(fi, s.file):
		return fmt.Errorf("%w: the database file %s was replaced while open; restart the bridge to use the new one", ErrFileGone, s.path)
	}
	return nil
}

// ErrFileGone: the database file is no longer the one the store writes to.
var ErrFileGone = errors.New("sqlite: database file gone")

var _ store.Checker = (*Store)(nil)

// SchemaVersion is the number of migrations this build knows.
func SchemaVersion() int { return len(migrations) }

// Version returns the schema version of the open database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cur, err := s.Version(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return store.ApplyMigrations(cur, len(migrations), func(v int) error {
		return s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli())
			return err
		})
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, c store.Call, ev *store.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		updated := c.UpdatedAt
		if updated.IsZero() {
			updated = time.Now()
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO calls (id, seat, status, started_at, ended_at, final, record, updated_at, node)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
	seat = excluded.seat, status = excluded.status, started_at = excluded.started_at,
	ended_at = excluded.ended_at, final = excluded.final, record = excluded.record,
	updated_at = excluded.updated_at, node = excluded.node
WHERE calls.final = 0`,
			c.ID, c.Seat, c.Status, ms(c.StartedAt), ms(c.EndedAt), b2i(c.Final), c.Record, ms(updated), c.Node)
		if err != nil {
			return fmt.Errorf("sqlite: record call %s: %w", c.ID, err)
		}
		if ev == nil {
			return nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE id = ?`, ev.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", store.ErrDuplicate, ev.ID)
		}
		state := store.NewEventState(ev)
		res, err := tx.ExecContext(ctx, `
INSERT INTO events (id, call_id, type, created_at, url, content_type, body, payload, state, attempts, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
			ev.ID, ev.CallID, ev.Type, ms(ev.CreatedAt), ev.URL, ev.ContentType, store.NonNil(ev.Body), store.NonNil(ev.Payload), state, ms(ev.NextAttemptAt))
		if err != nil {
			return fmt.Errorf("sqlite: record event %s: %w", ev.ID, err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		ev.Seq, ev.State = seq, state
		return nil
	})
}

// Touch implements store.Store.
func (s *Store) Touch(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE calls SET updated_at = ? WHERE final = 0`, ms(now))
	return err
}

// TouchNode implements store.Store.
func (s *Store) TouchNode(ctx context.Context, node string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE calls SET updated_at = ? WHERE final = 0 AND node = ?`, ms(now), node)
	return err
}

// AdoptCalls implements store.Store.
func (s *Store) AdoptCalls(ctx context.Context, a store.Adoption) ([]store.Call, error) {
	if a.Node == "" {
		return nil, fmt.Errorf("sqlite: adopt calls: empty node id")
	}
	stale := int64(-1)
	if !a.StaleBefore.IsZero() {
		stale = ms(a.StaleBefore)
	}
	var out []store.Call
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+callCols+` FROM calls
WHERE final = 0 AND ((? AND node IN (?, '')) OR updated_at < ?)
ORDER BY started_at, id`, a.Own, a.Node, stale)
		if err != nil {
			return err
		}
		cs, err := store.CollectRows(rows, func() (store.Call, error) { return scanCall(rows) })
		rows.Close()
		if err != nil {
			return err
		}
		for _, c := range cs {
			if _, err := tx.ExecContext(ctx, `UPDATE calls SET node = ?, updated_at = ? WHERE id = ?`, a.Node, ms(a.Now), c.ID); err != nil {
				return err
			}
		}
		out = cs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: adopt calls: %w", err)
	}
	return out, nil
}

const callCols = `id, seat, status, started_at, ended_at, final, record, updated_at, node`

type scanner interface{ Scan(dest ...any) error }

func scanCall(r scanner) (store.Call, error) {
	var c store.Call
	var started, ended, updated int64
	var final int
	err := r.Scan(&c.ID, &c.Seat, &c.Status, &started, &ended, &final, &c.Record, &updated, &c.Node)
	c.StartedAt, c.EndedAt, c.UpdatedAt, c.Final = fromMS(started), fromMS(ended), fromMS(updated), final != 0
	return c, err
}

// GetCall implements store.Store.
func (s *Store) GetCall(ctx context.Context, id string) (store.Call, error) {
	c, err := scanCall(s.db.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Call{}, store.NotFound("call", id)
	}
	return c, err
}

// ListCalls implements store.Store.
func (s *Store) ListCalls(ctx context.Context, f store.CallFilter) ([]store.Call, string, error) {
	q := `SELECT ` + callCols + ` FROM calls WHERE 1=1`
	var args []any
	if f.Seat != "" {
		q += ` AND seat = ?`
		args = append(args, f.Seat)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if !f.Since.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND started_at < ?`
		args = append(args, ms(f.Until))
	}
	if f.Cursor != "" {
		at, id, err := store.DecodeCallCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (started_at < ? OR (started_at = ? AND id < ?))`
		args = append(args, at, at, id)
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, func() (store.Call, error) { return scanCall(rows) })
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, n, func(last store.Call) string {
		return store.EncodeCallCursor(ms(last.StartedAt), last.ID)
	})
	return out, next, nil
}

// OpenCalls implements store.Store.
func (s *Store) OpenCalls(ctx context.Context) ([]store.Call, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+callCols+` FROM calls WHERE final = 0 ORDER BY started_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Call, error) { return scanCall(rows) })
}

const eventCols = `seq, id, call_id, type, created_at, url, content_type, body, payload, state, attempts, retry_base, next_attempt_at, last_status, last_error, delivered_at, claimed_by, claim_until`

func scanEvent(r scanner) (store.Event, error) {
	var e store.Event
	var created, next, delivered, claim int64
	err := r.Scan(&e.Seq, &e.ID, &e.CallID, &e.Type, &created, &e.URL, &e.ContentType, &e.Body, &e.Payload,
		&e.State, &e.Attempts, &e.RetryBase, &next, &e.LastStatus, &e.LastError, &delivered, &e.ClaimedBy, &claim)
	e.CreatedAt, e.NextAttemptAt, e.DeliveredAt, e.ClaimUntil = fromMS(created), fromMS(next), fromMS(delivered), fromMS(claim)
	return e, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) queryEvents(ctx context.Context, q string, args ...any) ([]store.Event, error) {
	return queryEvents(ctx, s.db, q, args...)
}

func queryEvents(ctx context.Context, db querier, q string, args ...any) ([]store.Event, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Event, error) { return scanEvent(rows) })
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Event{}, store.NotFound("event", id)
	}
	return e, err
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, string, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE 1=1`
	var args []any
	if f.CallID != "" {
		q += ` AND call_id = ?`
		args = append(args, f.CallID)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Cursor != "" {
		seq, err := store.DecodeEventCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND seq > ?`
		args = append(args, seq)
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, n+1)
	out, err := s.queryEvents(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, n, func(last store.Event) string {
		return store.EncodeEventCursor(last.Seq)
	})
	return out, next, nil
}

// Attempts implements store.Store.
func (s *Store) Attempts(ctx context.Context, eventID string) ([]store.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT event_id, n, at, status_code, error, duration_ms FROM attempts WHERE event_id = ? ORDER BY n`, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Attempt, error) {
		var a store.Attempt
		var at, dur int64
		if err := rows.Scan(&a.EventID, &a.N, &at, &a.StatusCode, &a.Error, &dur); err != nil {
			return a, err
		}
		a.At, a.Duration = fromMS(at), time.Duration(dur)*time.Millisecond
		return a, nil
	})
}

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, now time.Time, n int) ([]store.Event, error) {
	n = store.DueLimit(n)
	return s.queryEvents(ctx, dueQuery, ms(now), ms(now), "", n)
}

// dueQuery selects each call's earliest pending event if it is due (?1)
// and unclaimed at ?2 or claimed by node ?3; at most ?4.
const dueQuery = `
SELECT ` + eventCols + ` FROM events e
WHERE e.state = 'pending' AND e.next_attempt_at <= ?
  AND (e.claim_until <= ? OR (e.claimed_by = ? AND e.claimed_by <> ''))
  AND e.seq = (SELECT MIN(seq) FROM events h WHERE h.call_id = e.call_id AND h.state = 'pending')
ORDER BY e.next_attempt_at, e.seq LIMIT ?`

// Claim implements store.Store. The write transaction (BEGIN IMMEDIATE)
// serializes claims, also between processes sharing the file.
func (s *Store) Claim(ctx context.Context, node string, now time.Time, lease time.Duration, n int) ([]store.Event, error) {
	if node == "" {
		return nil, fmt.Errorf("sqlite: claim: empty node id")
	}
	n = store.DueLimit(n)
	var out []store.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		evs, err := queryEvents(ctx, tx, dueQuery, ms(now), ms(now), node, n)
		if err != nil {
			return err
		}
		until := now.Add(lease)
		for i := range evs {
			if _, err := tx.ExecContext(ctx, `UPDATE events SET claimed_by = ?, claim_until = ? WHERE seq = ?`, node, ms(until), evs[i].Seq); err != nil {
				return err
			}
			evs[i].ClaimedBy, evs[i].ClaimUntil = node, fromMS(ms(until))
		}
		out = evs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	return out, nil
}

// NextDue implements store.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `
SELECT MIN(MAX(e.next_attempt_at, e.claim_until)) FROM events e
WHERE e.state = 'pending'
  AND e.seq = (SELECT MIN(seq) FROM events h WHERE h.call_id = e.call_id AND h.state = 'pending')`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(v.Int64).UTC(), true, nil
}

// RecordAttempt implements store.Store.
func (s *Store) RecordAttempt(ctx context.Context, a store.Attempt, u store.EventUpdate) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE events SET state = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = ?,
	claimed_by = '', claim_until = 0
WHERE id = ?`, u.State, u.Attempts, ms(u.NextAttemptAt), u.LastStatus, u.LastError, ms(u.DeliveredAt), a.EventID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.NotFound("event", a.EventID)
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO attempts (event_id, n, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(event_id, n) DO UPDATE SET at = excluded.at, status_code = excluded.status_code,
	error = excluded.error, duration_ms = excluded.duration_ms`,
			a.EventID, a.N, ms(a.At), a.StatusCode, a.Error, a.Duration.Milliseconds())
		return err
	})
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, eventID string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET state = 'pending', next_attempt_at = ?, retry_base = attempts WHERE id = ?`, ms(now), eventID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.NotFound("event", eventID)
	}
	return nil
}

// RequeueDead implements store.Store.
func (s *Store) RequeueDead(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET state = 'pending', next_attempt_at = ?, retry_base = attempts WHERE state = 'dead'`, ms(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DisableEndpoint implements store.Store.
func (s *Store) DisableEndpoint(ctx context.Context, ep store.Endpoint) error {
	_, err := s.db.ExecContext(ctx, `
INSERT INTO endpoints (url, disabled_at, reason) VALUES (?, ?, ?)
ON CONFLICT(url) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
		ep.URL, ms(ep.DisabledAt), ep.Reason)
	return err
}

// EnableEndpoint implements store.Store.
func (s *Store) EnableEndpoint(ctx context.Context, url string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM endpoints WHERE url = ?`, url)
	return err
}

// DisabledEndpoints implements store.Store.
func (s *Store) DisabledEndpoints(ctx context.Context) ([]store.Endpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT url, disabled_at, reason FROM endpoints ORDER BY url`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Endpoint, error) {
		var e store.Endpoint
		var at int64
		if err := rows.Scan(&e.URL, &at, &e.Reason); err != nil {
			return e, err
		}
		e.DisabledAt = fromMS(at)
		return e, nil
	})
}
