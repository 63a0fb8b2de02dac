package store

import (
	"context"
	"time"
)

// The directory is the provisioned data every node reads: seats, the DIDs
// assigned to them, trunks and the route table, with an audit log of every
// change. As with call records, the store keeps each object's settings as
// opaque JSON (its shape belongs to the directory package) and copies into
// columns only what it keys, filters or constrains by: a seat's id and
// whether it is disabled, a DID's number and seat (a DID belongs to one
// seat), a trunk's name, a route's position.
//
// Every write bumps one directory version, in the same transaction as its
// audit entry, whose Seq is that version. Versions are committed in order
// (the counter's row is locked by each writer), so a node that polls
// DirectoryVersion and reloads on a change never misses one.

// Sources of a directory object.
const (
	SourceAPI    = "api"    // created through the provisioning API
	SourceConfig = "config" // written from the configuration file
)

// Seat is a provisioned seat.
type Seat struct {
	ID       string
	Disabled bool
	// Source is SourceAPI or SourceConfig.
	Source string
	// Settings is the seat's JSON, credentials included.
	Settings  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DID is a number assigned to a seat; a number belongs to one seat.
type DID struct {
	// Number is E.164.
	Number string
	Seat   string
	// Default marks the seat's default caller id; at most one per seat.
	Default   bool
	CreatedAt time.Time
}

// Trunk is a provisioned trunk.
type Trunk struct {
	Name      string
	Source    string
	Settings  []byte
	UpdatedAt time.Time
}

// Route is one entry of the route table.
type Route struct {
	ID string
	// Position orders the table (0 first); assigned by ReplaceRoutes.
	Position  int
	Settings  []byte
	UpdatedAt time.Time
}

// Change describes a directory write for its audit entry.
type Change struct {
	// At is when the change was made; zero = now.
	At time.Time
	// Actor is who made it: "admin" (API token), "config", a token's name.
	Actor string
	// Action is create, update, disable, enable, delete, assign, release, replace.
	Action string
	// Kind is seat, did, trunk or routes; Key the object's id.
	Kind, Key string
	// Detail is JSON describing the change, never credentials.
	Detail []byte
}

// AuditEntry is one written change.
type AuditEntry struct {
	Change
	// Seq is the directory version the change made.
	Seq int64
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Kind, Key string
	Limit     int
	Cursor    string
}

// Snapshot is the whole directory as of one version.
type Snapshot struct {
	Version int64
	Seats   []Seat  // by id
	DIDs    []DID   // by seat, then number
	Trunks  []Trunk // by name
	Routes  []Route // by position
}

// Directory is the provisioning half of a Store. Writes fail with
// ErrNotFound for an unknown seat, trunk or DID, and AssignDID with
// ErrConflict for a number another seat holds.
type Directory interface {
	// DirectoryVersion returns the version of the last change, 0 if none.
	DirectoryVersion(ctx context.Context) (int64, error)
	// LoadDirectory reads everything at one version.
	LoadDirectory(ctx context.Context) (Snapshot, error)

	// PutSeat creates or replaces a seat (CreatedAt is kept on replace).
	PutSeat(ctx context.Context, s Seat, c Change) error
	// DeleteSeat deletes a seat and releases its DIDs.
	DeleteSeat(ctx context.Context, id string, c Change) error
	// AssignDID gives a number to a seat (moving it is ErrConflict: release
	// it first); with Default, the seat's other DIDs lose their default.
	AssignDID(ctx context.Context, d DID, c Change) error
	// ReleaseDID takes a number from its seat.
	ReleaseDID(ctx context.Context, number string, c Change) error

	PutTrunk(ctx context.Context, t Trunk, c Change) error
	DeleteTrunk(ctx context.Context, name string, c Change) error
	// ReplaceRoutes replaces the whole route table, in the order given.
	ReplaceRoutes(ctx context.Context, routes []Route, c Change) error

	// Audit returns a page of the audit log and the cursor of the next.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error)
}

// ChangeAt returns c.At, or now when it is zero.
func ChangeAt(c Change) time.Time {
	if c.At.IsZero() {
		return time.Now()
	}
	return c.At
}
