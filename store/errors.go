package store

import "errors"

var (
	// ErrNotFound: no call, event or endpoint with that id.
	ErrNotFound = errors.New("store: not found")
	// ErrBadCursor: a pagination cursor that this store did not issue.
	ErrBadCursor = errors.New("store: bad cursor")
	// ErrDuplicate: an event id that is already stored.
	ErrDuplicate = errors.New("store: duplicate event id")
	// ErrConflict: a DID that another seat holds.
	ErrConflict = errors.New("store: conflict")
	// ErrSchemaTooNew: the database was migrated by a newer build.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this build")
)
