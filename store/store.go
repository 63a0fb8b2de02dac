// Package store is where call records (CDRs) and the webhook outbox live.
//
// Store is the interface; store/sqlite is the embedded implementation,
// store/postgres the one several bridge nodes share, and store/storetest
// the conformance tests every implementation must pass. The store knows
// nothing of the event format: records and bodies are opaque JSON/bytes,
// with the few fields it filters and orders by copied into columns.
//
// Several nodes (bridge processes) may share one store. Each names itself
// with a node id: a call belongs to the node that records it, which keeps
// it fresh with TouchNode; a node takes over (AdoptCalls) only its own
// calls from a previous run, calls nobody owns, and calls whose node has
// stopped touching them. Deliveries are claimed with a lease (Claim), so
// two nodes never attempt one event at once and a dead node's claims
// lapse.
package store

import (
	"context"
	"time"
)

// Event states.
const (
	StatePending   = "pending"   // waiting for its (next) attempt
	StateDelivered = "delivered" // a 2xx was received
	StateDead      = "dead"      // gave up: schedule exhausted, 410, or endpoint disabled
)

// Call is one call record.
type Call struct {
	ID        string
	Seat      string
	Status    string
	StartedAt time.Time
	EndedAt   time.Time // zero while the call is in progress
	// Final is set once the call's last event is recorded; a final record is
	// never overwritten by a non-final one.
	Final bool
	// Record is the call record as JSON (record.CallRecord).
	Record []byte
	// UpdatedAt is the last time the record was written or touched by a
	// live bridge (see Touch); after a crash it bounds when the call died.
	UpdatedAt time.Time
	// Node is the id of the bridge node that owns the call; "" = none.
	Node string
}

// Event is one outbox entry: an event and its delivery state.
type Event struct {
	ID     string
	CallID string
	// Seq orders events; assigned by the store, increasing with each Record.
	Seq       int64
	Type      string
	CreatedAt time.Time
	// URL is the delivery target.
	URL         string
	ContentType string
	// Body is exactly what is sent (signed as is).
	Body []byte
	// Payload is the standard event JSON, kept for operators.
	Payload []byte

	State string
	// Attempts counts every attempt ever made.
	Attempts int
	// RetryBase is Attempts when the event was last requeued by an
	// operator; the retry schedule restarts from there.
	RetryBase     int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	DeliveredAt   time.Time
	// ClaimedBy is the node whose attempt is (or was last) in flight, and
	// ClaimUntil when that claim lapses; both are cleared by RecordAttempt.
	ClaimedBy  string
	ClaimUntil time.Time
}

// Attempt is one delivery attempt of an event.
type Attempt struct {
	EventID    string
	N          int // 1-based
	At         time.Time
	StatusCode int // 0 if no response
	Error      string
	Duration   time.Duration
}

// EventUpdate is an event's state after an attempt.
type EventUpdate struct {
	State string
	// Attempts counts every attempt ever made.
	Attempts int
	// RetryBase is Attempts when the event was last requeued by an
	// operator; the retry schedule restarts from there.
	RetryBase     int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	DeliveredAt   time.Time
}

// CallFilter selects call records, newest first.
type CallFilter struct {
	Seat   string
	Status string
	// Since and Until bound StartedAt: Since <= started < Until; zero = open.
	Since, Until time.Time
	// Limit caps the page (default 50, at most 500).
	Limit int
	// Cursor continues a previous page.
	Cursor string
}

// EventFilter selects outbox entries in Seq order.
type EventFilter struct {
	CallID string
	State  string
	Limit  int
	Cursor string
}

// Endpoint is a webhook URL the store remembers as disabled.
type Endpoint struct {
	URL        string
	DisabledAt time.Time
	Reason     string
}

// Adoption selects the open calls a node takes over (AdoptCalls).
type Adoption struct {
	// Node is the adopting node; the calls become its own.
	Node string
	// Own takes the node's own calls and calls with no node: at start-up,
	// those belong to a previous run of this node, which died with them.
	Own bool
	// StaleBefore takes the calls of any node not touched since then: their
	// node stopped its heartbeat. Zero = none.
	StaleBefore time.Time
	// Now is written as the adopted calls' UpdatedAt, so that no other
	// node adopts them again.
	Now time.Time
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Store keeps call records and the outbox. Implementations are safe for
// concurrent use; every method that writes is atomic and durable when it
// returns.
type Store interface {
	// Directory holds the provisioned seats, DIDs, trunks and routes.
	Directory

	// Record writes the call record (insert or replace, unless the stored one
	// is already Final) and, if ev is not nil, appends ev to the outbox as
	// pending, in one transaction. ev.Seq is assigned.
	Record(ctx context.Context, call Call, ev *Event) error
	// Touch sets UpdatedAt = now on every non-final call.
	Touch(ctx context.Context, now time.Time) error
	// TouchNode sets UpdatedAt = now on the non-final calls of node: its
	// heartbeat, which tells the other nodes it is alive.
	TouchNode(ctx context.Context, node string, now time.Time) error
	// AdoptCalls atomically makes the non-final calls that a selects
	// node a.Node's, with UpdatedAt = a.Now, and returns them as they were
	// before (their old Node and UpdatedAt). A call is adopted by one node
	// only, however many try at once.
	AdoptCalls(ctx context.Context, a Adoption) ([]Call, error)

	GetCall(ctx context.Context, id string) (Call, error)
	// ListCalls returns a page and the cursor of the next ("" at the end).
	ListCalls(ctx context.Context, f CallFilter) ([]Call, string, error)
	// OpenCalls returns every non-final call.
	OpenCalls(ctx context.Context) ([]Call, error)

	GetEvent(ctx context.Context, id string) (Event, error)
	ListEvents(ctx context.Context, f EventFilter) ([]Event, string, error)
	Attempts(ctx context.Context, eventID string) ([]Attempt, error)

	// Due returns up to limit events whose attempt is due at now, at most one
	// per call: the call's earliest pending event, and only if it is due and
	// not claimed (ClaimUntil after now). Later events of a call wait for
	// the earlier ones (per-call order).
	Due(ctx context.Context, now time.Time, limit int) ([]Event, error)
	// Claim is Due for a delivering node: it atomically claims the events
	// it returns for node until now+lease (ClaimedBy, ClaimUntil). Events
	// claimed by another node are skipped until their claim lapses, and
	// their calls' later events wait; node's own claims are taken again.
	// Concurrent Claims never return the same event.
	Claim(ctx context.Context, node string, now time.Time, lease time.Duration, limit int) ([]Event, error)
	// NextDue returns the earliest time a call's earliest pending event
	// becomes claimable: its NextAttemptAt, or its ClaimUntil if later.
	// (Events behind another of their call's wait for it, not for a time.)
	NextDue(ctx context.Context) (time.Time, bool, error)
	// RecordAttempt appends a and applies upd to the event, atomically,
	// and clears the event's claim.
	RecordAttempt(ctx context.Context, a Attempt, upd EventUpdate) error
	// Requeue makes one event pending again, due at now, and restarts its
	// retry schedule (RetryBase = Attempts).
	Requeue(ctx context.Context, eventID string, now time.Time) error
	// RequeueDead makes every dead event pending again, due at now.
	RequeueDead(ctx context.Context, now time.Time) (int, error)

	DisableEndpoint(ctx context.Context, ep Endpoint) error
	EnableEndpoint(ctx context.Context, url string) error
	DisabledEndpoints(ctx context.Context) ([]Endpoint, error)

	Close() error
}
