package postgres

// migrations are applied in order, each once, each in its own transaction,
// under an advisory lock so that nodes starting together migrate once; the
// version of a migration is its index + 1. Append only: never edit a
// migration that has shipped.
var migrations = []string{
	// 1: call records with their owner node, the outbox with the lease of
	// an attempt in flight, delivery attempts, disabled endpoints. Unset
	// optional times are NULL.
	`
CREATE TABLE calls (
	id         TEXT PRIMARY KEY,
	seat       TEXT NOT NULL,
	status     TEXT NOT NULL,
	started_at TIMESTAMPTZ NOT NULL,
	ended_at   TIMESTAMPTZ,
	final      BOOLEAN NOT NULL DEFAULT false,
	record     BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	node       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX calls_by_start ON calls (started_at DESC, id DESC);
CREATE INDEX calls_by_seat ON calls (seat, started_at DESC, id DESC);
CREATE INDEX calls_open ON calls (node, updated_at) WHERE NOT final;

CREATE TABLE events (
	seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	call_id         TEXT NOT NULL,
	type            TEXT NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	url             TEXT NOT NULL,
	content_type    TEXT NOT NULL,
	body            BYTEA NOT NULL,
	payload         BYTEA NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	retry_base      INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TIMESTAMPTZ NOT NULL,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    TIMESTAMPTZ,
	claimed_by      TEXT NOT NULL DEFAULT '',
	claim_until     TIMESTAMPTZ
);
CREATE INDEX events_pending ON events (call_id, seq) WHERE state = 'pending';
CREATE INDEX events_by_call ON events (call_id, seq);
CREATE INDEX events_by_state ON events (state, seq);

CREATE TABLE attempts (
	event_id    TEXT NOT NULL,
	n           INTEGER NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	duration_ms BIGINT NOT NULL,
	PRIMARY KEY (event_id, n)
);

CREATE TABLE endpoints (
	url         TEXT PRIMARY KEY,
	disabled_at TIMESTAMPTZ NOT NULL,
	reason      TEXT NOT NULL
);
`,
	// 2: the directory: seats, their DIDs, trunks, the route table, the
	// audit log, and the one directory version every write bumps (its row
	// lock orders the writers, so versions commit in order).
	`
CREATE TABLE seats (
	id         TEXT PRIMARY KEY,
	disabled   BOOLEAN NOT NULL DEFAULT false,
	source     TEXT NOT NULL,
	settings   BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE dids (
	number     TEXT PRIMARY KEY,
	seat_id    TEXT NOT NULL REFERENCES seats(id) ON DELETE CASCADE,
	is_default BOOLEAN NOT NULL DEFAULT false,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dids_by_seat ON dids (seat_id, number);

CREATE TABLE trunks (
	name       TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	settings   BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE routes (
	position   INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	settings   BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit (
	seq    BIGINT PRIMARY KEY,
	at     TIMESTAMPTZ NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	kind   TEXT NOT NULL,
	key    TEXT NOT NULL,
	detail BYTEA NOT NULL
);
CREATE INDEX audit_by_key ON audit (kind, key, seq);

CREATE TABLE directory_version (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	version BIGINT NOT NULL
);
INSERT INTO directory_version (one, version) VALUES (1, 0);
`,
}
