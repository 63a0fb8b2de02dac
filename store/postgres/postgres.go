// Package postgres is the store that several bridge nodes share: call
// records and the webhook outbox in one PostgreSQL database, through
// jackc/pgx's connection pool.
//
// What makes it safe for several nodes (see store.Store):
//   - Record locks the call's row before the event takes its sequence
//     number, so a call's events commit in Seq order.
//   - Claim picks each call's earliest pending event with SELECT … FOR
//     UPDATE SKIP LOCKED and leases it to the node (claimed_by,
//     claim_until): concurrent claimers never get the same event, and a
//     claimed event blocks its call's later events until RecordAttempt.
//   - AdoptCalls moves calls to the adopting node in one UPDATE over rows
//     locked with SKIP LOCKED, so each call is adopted once.
//
// Migrations run under an advisory lock, so nodes starting together
// migrate once. Times are TIMESTAMPTZ (microseconds); unset optional times
// are NULL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callbridge/callbridge/store"
)

// Store is a store.Store in one PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// DefaultConnectTimeout bounds one connection attempt when the DSN has no
// connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// migrateLock is the advisory lock key held while migrating ("cbrg").
const migrateLock = 0x63627267

// uniqueViolation is SQLSTATE 23505.
const uniqueViolation = "23505"

// IsDSN reports whether dsn names a PostgreSQL database (postgres:// or
// postgresql://).
func IsDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// ParseDSN checks a postgres:// or postgresql:// URL as pgx reads it
// (libpq's parameters: sslmode, connect_timeout, pool_max_conns, …), without
// connecting.
func ParseDSN(dsn string) (*pgxpool.Config, error) {
	if !IsDSN(dsn) {
		return nil, fmt.Errorf("%w: want postgres://USER:PASSWORD@HOST:PORT/DATABASE", ErrBadDSN)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included: keep only the
		// kind of error.
		return nil, fmt.Errorf("%w: %s", ErrBadDSN, redact(err.Error(), dsn))
	}
	return cfg, nil
}

// redact removes dsn from msg.
func redact(msg, dsn string) string {
	if dsn != "" {
		msg = strings.ReplaceAll(msg, dsn, "(dsn)")
	}
	return msg
}

// Open connects to the database that dsn names and migrates its schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "callbridge"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout a dead host would hold start-up (and each
		// new connection) for the operating system's TCP timeout.
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redact(err.Error(), dsn))
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// SchemaVersion is the number of migrations this build knows.
func SchemaVersion() int { return len(migrations) }

// Version returns the schema version of the open database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	// A session lock: held across the migrations' transactions, released
	// on unlock or when the connection dies.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock); err != nil {
			conn.Conn().Close(context.Background()) // closing the session releases the lock
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return store.ApplyMigrations(cur, len(migrations), func(v int) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v)
			return err
		})
	})
}

// Close closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// nt is an optional time: NULL when zero.
func nt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ot reads an optional time.
func ot(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, c store.Call, ev *store.Event) error {
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = time.Now()
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The upsert locks the call's row (also when it is final and left
		// as is), so the event below takes its seq after any earlier
		// Record of this call has committed.
		_, err := tx.Exec(ctx, `
INSERT INTO calls (id, seat, status, started_at, ended_at, final, record, updated_at, node)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET
	seat = excluded.seat, status = excluded.status, started_at = excluded.started_at,
	ended_at = excluded.ended_at, final = excluded.final, record = excluded.record,
	updated_at = excluded.updated_at, node = excluded.node
WHERE NOT calls.final`,
			c.ID, c.Seat, c.Status, c.StartedAt, nt(c.EndedAt), c.Final, store.NonNil(c.Record), updated, c.Node)
		if err != nil {
			return fmt.Errorf("postgres: record call %s: %w", c.ID, err)
		}
		if ev == nil {
			return nil
		}
		state := store.NewEventState(ev)
		var seq int64
		err = tx.QueryRow(ctx, `
INSERT INTO events (id, call_id, type, created_at, url, content_type, body, payload, state, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq`,
			ev.ID, ev.CallID, ev.Type, ev.CreatedAt, ev.URL, ev.ContentType, store.NonNil(ev.Body), store.NonNil(ev.Payload), state, ev.NextAttemptAt).Scan(&seq)
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == uniqueViolation {
			return fmt.Errorf("%w: %s", store.ErrDuplicate, ev.ID)
		}
		if err != nil {
			return fmt.Errorf("postgres: record event %s: %w", ev.ID, err)
		}
		ev.Seq, ev.State = seq, state
		return nil
	})
}

// Touch implements store.Store.
func (s *Store) Touch(ctx context.Context, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE calls SET updated_at = $1 WHERE NOT final`, now)
	return err
}

// TouchNode implements store.Store.
func (s *Store) TouchNode(ctx context.Context, node string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE calls SET updated_at = $1 WHERE NOT final AND node = $2`, now, node)
	return err
}

// AdoptCalls implements store.Store.
func (s *Store) AdoptCalls(ctx context.Context, a store.Adoption) ([]store.Call, error) {
	if a.Node == "" {
		return nil, fmt.Errorf("postgres: adopt calls: empty node id")
	}
	// The subquery locks what it selects and skips rows another adopter
	// or a heartbeat holds; the outer UPDATE returns the old owner and
	// heartbeat from it.
	rows, err := s.pool.Query(ctx, `
UPDATE calls c SET node = $1, updated_at = $2
FROM (SELECT id, node, updated_at FROM calls
      WHERE NOT final AND (($3 AND node IN ($1, '')) OR updated_at < $4)
      FOR UPDATE SKIP LOCKED) old
WHERE c.id = old.id
RETURNING c.id, c.seat, c.status, c.started_at, c.ended_at, c.final, c.record, old.updated_at, old.node`,
		a.Node, a.Now, a.Own, nt(a.StaleBefore))
	if err != nil {
		return nil, fmt.Errorf("postgres: adopt calls: %w", err)
	}
	out, err := collectCalls(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: adopt calls: %w", err)
	}
	slices.SortFunc(out, func(x, y store.Call) int {
		if c := x.StartedAt.Compare(y.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out, nil
}

const callCols = `id, seat, status, started_at, ended_at, final, record, updated_at, node`

func scanCall(r pgx.Row) (store.Call, error) {
	var c store.Call
	var ended *time.Time
	err := r.Scan(&c.ID, &c.Seat, &c.Status, &c.StartedAt, &ended, &c.Final, &c.Record, &c.UpdatedAt, &c.Node)
	c.StartedAt, c.EndedAt, c.UpdatedAt = c.StartedAt.UTC(), ot(ended), c.UpdatedAt.UTC()
	return c, err
}

func collectCalls(rows pgx.Rows) ([]store.Call, error) {
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Call, error) { return scanCall(rows) })
}

// GetCall implements store.Store.
func (s *Store) GetCall(ctx context.Context, id string) (store.Call, error) {
	c, err := scanCall(s.pool.QueryRow(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Call{}, store.NotFound("call", id)
	}
	return c, err
}

// args builds a query's positional parameters.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// ListCalls implements store.Store.
func (s *Store) ListCalls(ctx context.Context, f store.CallFilter) ([]store.Call, string, error) {
	q := `SELECT ` + callCols + ` FROM calls WHERE true`
	var a args
	if f.Seat != "" {
		q += ` AND seat = ` + a.add(f.Seat)
	}
	if f.Status != "" {
		q += ` AND status = ` + a.add(f.Status)
	}
	if !f.Since.IsZero() {
		q += ` AND started_at >= ` + a.add(f.Since)
	}
	if !f.Until.IsZero() {
		q += ` AND started_at < ` + a.add(f.Until)
	}
	if f.Cursor != "" {
		// Call cursors carry started_at in microseconds, TIMESTAMPTZ's
		// resolution.
		us, id, err := store.DecodeCallCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		at := time.UnixMicro(us).UTC()
		q += ` AND (started_at, id) < (` + a.add(at) + `, ` + a.add(id) + `)`
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY started_at DESC, id DESC LIMIT ` + a.add(n+1)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	out, err := collectCalls(rows)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, n, func(last store.Call) string {
		return store.EncodeCallCursor(last.StartedAt.UnixMicro(), last.ID)
	})
	return out, next, nil
}

// OpenCalls implements store.Store.
func (s *Store) OpenCalls(ctx context.Context) ([]store.Call, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+callCols+` FROM calls WHERE NOT final ORDER BY started_at, id`)
	if err != nil {
		return nil, err
	}
	return collectCalls(rows)
}

const eventCols = `seq, id, call_id, type, created_at, url, content_type, body, payload, state, attempts, retry_base, next_attempt_at, last_status, last_error, delivered_at, claimed_by, claim_until`

func scanEvent(r pgx.Row) (store.Event, error) {
	var e store.Event
	var delivered, claim *time.Time
	err := r.Scan(&e.Seq, &e.ID, &e.CallID, &e.Type, &e.CreatedAt, &e.URL, &e.ContentType, &e.Body, &e.Payload,
		&e.State, &e.Attempts, &e.RetryBase, &e.NextAttemptAt, &e.LastStatus, &e.LastError, &delivered, &e.ClaimedBy, &claim)
	e.CreatedAt, e.NextAttemptAt = e.CreatedAt.UTC(), e.NextAttemptAt.UTC()
	e.DeliveredAt, e.ClaimUntil = ot(delivered), ot(claim)
	return e, err
}

func (s *Store) queryEvents(ctx context.Context, q string, a ...any) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	return collectEvents(rows)
}

func collectEvents(rows pgx.Rows) ([]store.Event, error) {
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Event, error) { return scanEvent(rows) })
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Event{}, store.NotFound("event", id)
	}
	return e, err
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, string, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE true`
	var a args
	if f.CallID != "" {
		q += ` AND call_id = ` + a.add(f.CallID)
	}
	if f.State != "" {
		q += ` AND state = ` + a.add(f.State)
	}
	if f.Cursor != "" {
		seq, err := store.DecodeEventCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND seq > ` + a.add(seq)
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY seq LIMIT ` + a.add(n+1)
	out, err := s.queryEvents(ctx, q, a...)
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
	rows, err := s.pool.Query(ctx, `SELECT event_id, n, at, status_code, error, duration_ms FROM attempts WHERE event_id = $1 ORDER BY n`, eventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Attempt, error) {
		var a store.Attempt
		var dur int64
		if err := rows.Scan(&a.EventID, &a.N, &a.At, &a.StatusCode, &a.Error, &dur); err != nil {
			return a, err
		}
		a.At, a.Duration = a.At.UTC(), time.Duration(dur)*time.Millisecond
		return a, nil
	})
}

// dueWhere selects each call's earliest pending event if it is due at $1
// and unclaimed then or claimed by node $2.
const dueWhere = `
WHERE e.state = 'pending' AND e.next_attempt_at <= $1
  AND (e.claim_until IS NULL OR e.claim_until <= $1 OR (e.claimed_by = $2 AND $2 <> ''))
  AND NOT EXISTS (SELECT 1 FROM events h WHERE h.call_id = e.call_id AND h.state = 'pending' AND h.seq < e.seq)
ORDER BY e.next_attempt_at, e.seq LIMIT $3`

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, now time.Time, n int) ([]store.Event, error) {
	n = store.DueLimit(n)
	return s.queryEvents(ctx, `SELECT `+eventCols+` FROM events e`+dueWhere, now, "", n)
}

// Claim implements store.Store. Under READ COMMITTED, a row another
// claimer has just leased is either locked (skipped) or re-checked against
// its committed claim (and left out), so no event is claimed twice; an
// event's call is blocked as long as the event is pending, claimed or not.
func (s *Store) Claim(ctx context.Context, node string, now time.Time, lease time.Duration, n int) ([]store.Event, error) {
	if node == "" {
		return nil, fmt.Errorf("postgres: claim: empty node id")
	}
	n = store.DueLimit(n)
	evs, err := s.queryEvents(ctx, `
WITH due AS MATERIALIZED (
	SELECT e.seq FROM events e`+dueWhere+`
	FOR UPDATE SKIP LOCKED)
UPDATE events SET claimed_by = $2, claim_until = $4
FROM due WHERE events.seq = due.seq
RETURNING `+qualified("events", eventCols), now, node, n, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	slices.SortFunc(evs, func(a, b store.Event) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	return evs, nil
}

// qualified prefixes each of the comma-separated cols with table.
func qualified(table, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = table + "." + c
	}
	return strings.Join(parts, ", ")
}

// NextDue implements store.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `
SELECT MIN(GREATEST(e.next_attempt_at, e.claim_until)) FROM events e
WHERE e.state = 'pending'
  AND NOT EXISTS (SELECT 1 FROM events h WHERE h.call_id = e.call_id AND h.state = 'pending' AND h.seq < e.seq)`).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, false, err
	}
	return t.UTC(), true, nil
}

// RecordAttempt implements store.Store.
func (s *Store) RecordAttempt(ctx context.Context, a store.Attempt, u store.EventUpdate) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
UPDATE events SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4, last_error = $5, delivered_at = $6,
	claimed_by = '', claim_until = NULL
WHERE id = $7`, u.State, u.Attempts, u.NextAttemptAt, u.LastStatus, u.LastError, nt(u.DeliveredAt), a.EventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.NotFound("event", a.EventID)
		}
		_, err = tx.Exec(ctx, `
INSERT INTO attempts (event_id, n, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id, n) DO UPDATE SET at = excluded.at, status_code = excluded.status_code,
	error = excluded.error, duration_ms = excluded.duration_ms`,
			a.EventID, a.N, a.At, a.StatusCode, a.Error, a.Duration.Milliseconds())
		return err
	})
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, eventID string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE events SET state = 'pending', next_attempt_at = $1, retry_base = attempts WHERE id = $2`, now, eventID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.NotFound("event", eventID)
	}
	return nil
}

// RequeueDead implements store.Store.
func (s *Store) RequeueDead(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE events SET state = 'pending', next_attempt_at = $1, retry_base = attempts WHERE state = 'dead'`, now)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// DisableEndpoint implements store.Store.
func (s *Store) DisableEndpoint(ctx context.Context, ep store.Endpoint) error {
	_, err := s.pool.Exec(ctx, `
INSERT INTO endpoints (url, disabled_at, reason) VALUES ($1, $2, $3)
ON CONFLICT (url) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
		ep.URL, ep.DisabledAt, ep.Reason)
	return err
}

// EnableEndpoint implements store.Store.
func (s *Store) EnableEndpoint(ctx context.Context, url string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM endpoints WHERE url = $1`, url)
	return err
}

// DisabledEndpoints implements store.Store.
func (s *Store) DisabledEndpoints(ctx context.Context) ([]store.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT url, disabled_at, reason FROM endpoints ORDER BY url`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (store.Endpoint, error) {
		var e store.Endpoint
		if err := rows.Scan(&e.URL, &e.DisabledAt, &e.Reason); err != nil {
			return e, err
		}
		e.DisabledAt = e.DisabledAt.UTC()
		return e, nil
	})
}
