package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callbridge/callbridge/store"
)

// DirectoryVersion implements store.Directory.
func (s *Store) DirectoryVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM directory_version`).Scan(&v)
	return v, err
}

// LoadDirectory implements store.Directory: one REPEATABLE READ
// transaction, so every table is read at one version.
func (s *Store) LoadDirectory(ctx context.Context) (store.Snapshot, error) {
	var snap store.Snapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM directory_version`).Scan(&snap.Version); err != nil {
			return err
		}
		var err error
		if snap.Seats, err = collect(ctx, tx, `SELECT id, disabled, source, settings, created_at, updated_at FROM seats ORDER BY id`,
			func(r pgx.Rows) (store.Seat, error) {
				var x store.Seat
				err := r.Scan(&x.ID, &x.Disabled, &x.Source, &x.Settings, &x.CreatedAt, &x.UpdatedAt)
				x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
				return x, err
			}); err != nil {
			return err
		}
		if snap.DIDs, err = collect(ctx, tx, `SELECT number, seat_id, is_default, created_at FROM dids ORDER BY seat_id, number`,
			func(r pgx.Rows) (store.DID, error) {
				var d store.DID
				err := r.Scan(&d.Number, &d.Seat, &d.Default, &d.CreatedAt)
				d.CreatedAt = d.CreatedAt.UTC()
				return d, err
			}); err != nil {
			return err
		}
		if snap.Trunks, err = collect(ctx, tx, `SELECT name, source, settings, updated_at FROM trunks ORDER BY name`,
			func(r pgx.Rows) (store.Trunk, error) {
				var x store.Trunk
				err := r.Scan(&x.Name, &x.Source, &x.Settings, &x.UpdatedAt)
				x.UpdatedAt = x.UpdatedAt.UTC()
				return x, err
			}); err != nil {
			return err
		}
		snap.Routes, err = collect(ctx, tx, `SELECT id, position, settings, updated_at FROM routes ORDER BY position`,
			func(r pgx.Rows) (store.Route, error) {
				var x store.Route
				err := r.Scan(&x.ID, &x.Position, &x.Settings, &x.UpdatedAt)
				x.UpdatedAt = x.UpdatedAt.UTC()
				return x, err
			})
		return err
	})
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("postgres: load directory: %w", err)
	}
	return snap, nil
}

func collect[T any](ctx context.Context, tx pgx.Tx, q string, scan func(pgx.Rows) (T, error)) ([]T, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (T, error) { return scan(rows) })
}

// change runs fn and records c as the next directory version, in one
// transaction. The version row is locked first, so concurrent changes
// commit in version order.
func (s *Store) change(ctx context.Context, c store.Change, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var v int64
		if err := tx.QueryRow(ctx, `UPDATE directory_version SET version = version + 1 RETURNING version`).Scan(&v); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit (seq, at, actor, action, kind, key, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			v, store.ChangeAt(c), c.Actor, c.Action, c.Kind, c.Key, store.NonNil(c.Detail))
		return err
	})
}

func mustAffect(tag pgconn.CommandTag, err error, kind, id string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.NotFound(kind, id)
	}
	return nil
}

// PutSeat implements store.Directory.
func (s *Store) PutSeat(ctx context.Context, x store.Seat, c store.Change) error {
	at := store.ChangeAt(c)
	return s.change(ctx, c, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
INSERT INTO seats (id, disabled, source, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (id) DO UPDATE SET disabled = excluded.disabled, source = excluded.source,
	settings = excluded.settings, updated_at = excluded.updated_at`,
			x.ID, x.Disabled, x.Source, store.NonNil(x.Settings), at)
		return err
	})
}

// DeleteSeat implements store.Directory.
func (s *Store) DeleteSeat(ctx context.Context, id string, c store.Change) error {
	return s.change(ctx, c, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM seats WHERE id = $1`, id)
		return mustAffect(tag, err, "seat", id)
	})
}

// AssignDID implements store.Directory.
func (s *Store) AssignDID(ctx context.Context, d store.DID, c store.Change) error {
	return s.change(ctx, c, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM seats WHERE id = $1`, d.Seat).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.NotFound("seat", d.Seat)
		}
		var owner string
		err := tx.QueryRow(ctx, `SELECT seat_id FROM dids WHERE number = $1`, d.Number).Scan(&owner)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case owner != d.Seat:
			return fmt.Errorf("%w: %s is assigned to seat %s", store.ErrConflict, d.Number, owner)
		}
		if d.Default {
			if _, err := tx.Exec(ctx, `UPDATE dids SET is_default = false WHERE seat_id = $1`, d.Seat); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
INSERT INTO dids (number, seat_id, is_default, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (number) DO UPDATE SET is_default = excluded.is_default`,
			d.Number, d.Seat, d.Default, store.ChangeAt(c))
		return err
	})
}

// ReleaseDID implements store.Directory.
func (s *Store) ReleaseDID(ctx context.Context, number string, c store.Change) error {
	return s.change(ctx, c, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM dids WHERE number = $1`, number)
		return mustAffect(tag, err, "did", number)
	})
}

// PutTrunk implements store.Directory.
func (s *Store) PutTrunk(ctx context.Context, x store.Trunk, c store.Change) error {
	return s.change(ctx, c, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
INSERT INTO trunks (name, source, settings, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE SET source = excluded.source, settings = excluded.settings, updated_at = excluded.updated_at`,
			x.Name, x.Source, store.NonNil(x.Settings), store.ChangeAt(c))
		return err
	})
}

// DeleteTrunk implements store.Directory.
func (s *Store) DeleteTrunk(ctx context.Context, name string, c store.Change) error {
	return s.change(ctx, c, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM trunks WHERE name = $1`, name)
		return mustAffect(tag, err, "trunk", name)
	})
}

// ReplaceRoutes implements store.Directory.
func (s *Store) ReplaceRoutes(ctx context.Context, routes []store.Route, c store.Change) error {
	at := store.ChangeAt(c)
	return s.change(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM routes`); err != nil {
			return err
		}
		for i, r := range routes {
			if _, err := tx.Exec(ctx, `INSERT INTO routes (position, id, settings, updated_at) VALUES ($1, $2, $3, $4)`,
				i, r.ID, store.NonNil(r.Settings), at); err != nil {
				return fmt.Errorf("route %q: %w", r.ID, err)
			}
		}
		return nil
	})
}

// Audit implements store.Directory.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, string, error) {
	q := `SELECT seq, at, actor, action, kind, key, detail FROM audit WHERE true`
	var a args
	if f.Kind != "" {
		q += ` AND kind = ` + a.add(f.Kind)
	}
	if f.Key != "" {
		q += ` AND key = ` + a.add(f.Key)
	}
	if f.Cursor != "" {
		seq, err := store.DecodeAuditCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND seq < ` + a.add(seq)
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY seq DESC LIMIT ` + a.add(n+1)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, func() (store.AuditEntry, error) {
		var e store.AuditEntry
		err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Detail)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, n, func(last store.AuditEntry) string { return store.EncodeAuditCursor(last.Seq) })
	return out, next, nil
}
