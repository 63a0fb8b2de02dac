package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/callbridge/callbridge/store"
)

// DirectoryVersion implements store.Directory.
func (s *Store) DirectoryVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT version FROM directory_version`).Scan(&v)
	return v, err
}

// LoadDirectory implements store.Directory. One connection and a
// transaction make the reads one version.
func (s *Store) LoadDirectory(ctx context.Context) (store.Snapshot, error) {
	var snap store.Snapshot
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT version FROM directory_version`).Scan(&snap.Version); err != nil {
			return err
		}
		var err error
		if snap.Seats, err = collect(ctx, tx, `SELECT id, disabled, source, settings, created_at, updated_at FROM seats ORDER BY id`,
			func(r scanner) (store.Seat, error) {
				var x store.Seat
				var dis int
				var created, updated int64
				err := r.Scan(&x.ID, &dis, &x.Source, &x.Settings, &created, &updated)
				x.Disabled, x.CreatedAt, x.UpdatedAt = dis != 0, fromMS(created), fromMS(updated)
				return x, err
			}); err != nil {
			return err
		}
		if snap.DIDs, err = collect(ctx, tx, `SELECT number, seat_id, is_default, created_at FROM dids ORDER BY seat_id, number`,
			func(r scanner) (store.DID, error) {
				var d store.DID
				var def int
				var created int64
				err := r.Scan(&d.Number, &d.Seat, &def, &created)
				d.Default, d.CreatedAt = def != 0, fromMS(created)
				return d, err
			}); err != nil {
			return err
		}
		if snap.Trunks, err = collect(ctx, tx, `SELECT name, source, settings, updated_at FROM trunks ORDER BY name`,
			func(r scanner) (store.Trunk, error) {
				var x store.Trunk
				var updated int64
				err := r.Scan(&x.Name, &x.Source, &x.Settings, &updated)
				x.UpdatedAt = fromMS(updated)
				return x, err
			}); err != nil {
			return err
		}
		snap.Routes, err = collect(ctx, tx, `SELECT id, position, settings, updated_at FROM routes ORDER BY position`,
			func(r scanner) (store.Route, error) {
				var x store.Route
				var updated int64
				err := r.Scan(&x.ID, &x.Position, &x.Settings, &updated)
				x.UpdatedAt = fromMS(updated)
				return x, err
			})
		return err
	})
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("sqlite: load directory: %w", err)
	}
	return snap, nil
}

func collect[T any](ctx context.Context, tx *sql.Tx, q string, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRows(rows, func() (T, error) { return scan(rows) })
}

// change runs fn and records c as the next directory version, in one
// transaction.
func (s *Store) change(ctx context.Context, c store.Change, fn func(tx *sql.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var v int64
		if err := tx.QueryRowContext(ctx, `UPDATE directory_version SET version = version + 1 RETURNING version`).Scan(&v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, at, actor, action, kind, key, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			v, ms(store.ChangeAt(c)), c.Actor, c.Action, c.Kind, c.Key, store.NonNil(c.Detail))
		return err
	})
}

// mustAffect turns an UPDATE or DELETE that touched no row into ErrNotFound.
func mustAffect(res sql.Result, err error, kind, id string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.NotFound(kind, id)
	}
	return nil
}

// PutSeat implements store.Directory.
func (s *Store) PutSeat(ctx context.Context, x store.Seat, c store.Change) error {
	at := ms(store.ChangeAt(c))
	return s.change(ctx, c, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO seats (id, disabled, source, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET disabled = excluded.disabled, source = excluded.source,
	settings = excluded.settings, updated_at = excluded.updated_at`,
			x.ID, b2i(x.Disabled), x.Source, store.NonNil(x.Settings), at, at)
		return err
	})
}

// DeleteSeat implements store.Directory.
func (s *Store) DeleteSeat(ctx context.Context, id string, c store.Change) error {
	return s.change(ctx, c, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM seats WHERE id = ?`, id)
		return mustAffect(res, err, "seat", id)
	})
}

// AssignDID implements store.Directory.
func (s *Store) AssignDID(ctx context.Context, d store.DID, c store.Change) error {
	return s.change(ctx, c, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM seats WHERE id = ?`, d.Seat).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.NotFound("seat", d.Seat)
		}
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT seat_id FROM dids WHERE number = ?`, d.Number).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case owner != d.Seat:
			return fmt.Errorf("%w: %s is assigned to seat %s", store.ErrConflict, d.Number, owner)
		}
		if d.Default {
			if _, err := tx.ExecContext(ctx, `UPDATE dids SET is_default = 0 WHERE seat_id = ?`, d.Seat); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO dids (number, seat_id, is_default, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT(number) DO UPDATE SET is_default = excluded.is_default`,
			d.Number, d.Seat, b2i(d.Default), ms(store.ChangeAt(c)))
		return err
	})
}

// ReleaseDID implements store.Directory.
func (s *Store) ReleaseDID(ctx context.Context, number string, c store.Change) error {
	return s.change(ctx, c, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM dids WHERE number = ?`, number)
		return mustAffect(res, err, "did", number)
	})
}

// PutTrunk implements store.Directory.
func (s *Store) PutTrunk(ctx context.Context, x store.Trunk, c store.Change) error {
	return s.change(ctx, c, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO trunks (name, source, settings, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT(name) DO UPDATE SET source = excluded.source, settings = excluded.settings, updated_at = excluded.updated_at`,
			x.Name, x.Source, store.NonNil(x.Settings), ms(store.ChangeAt(c)))
		return err
	})
}

// DeleteTrunk implements store.Directory.
func (s *Store) DeleteTrunk(ctx context.Context, name string, c store.Change) error {
	return s.change(ctx, c, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM trunks WHERE name = ?`, name)
		return mustAffect(res, err, "trunk", name)
	})
}

// ReplaceRoutes implements store.Directory.
func (s *Store) ReplaceRoutes(ctx context.Context, routes []store.Route, c store.Change) error {
	at := ms(store.ChangeAt(c))
	return s.change(ctx, c, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM routes`); err != nil {
			return err
		}
		for i, r := range routes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO routes (position, id, settings, updated_at) VALUES (?, ?, ?, ?)`,
				i, r.ID, store.NonNil(r.Settings), at); err != nil {
				return fmt.Errorf("route %q: %w", r.ID, err)
			}
		}
		return nil
	})
}

// Audit implements store.Directory.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, string, error) {
	q := `SELECT seq, at, actor, action, kind, key, detail FROM audit WHERE 1=1`
	var args []any
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Key != "" {
		q += ` AND key = ?`
		args = append(args, f.Key)
	}
	if f.Cursor != "" {
		seq, err := store.DecodeAuditCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	n := store.PageLimit(f.Limit)
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, func() (store.AuditEntry, error) {
		var e store.AuditEntry
		var at int64
		err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Detail)
		e.At = fromMS(at)
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, n, func(last store.AuditEntry) string { return store.EncodeAuditCursor(last.Seq) })
	return out, next, nil
}
