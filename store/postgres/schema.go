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
}
