package sqlite

// migrations are applied in order, each once, each in its own transaction;
// the version of a migration is its index + 1. Append only: never edit a
// migration that has shipped.
var migrations = []string{
	// 1: call records, outbox, delivery attempts, disabled endpoints.
	// Times are unix milliseconds, 0 = unset.
	`
CREATE TABLE calls (
	id         TEXT PRIMARY KEY,
	seat       TEXT NOT NULL,
	status     TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL DEFAULT 0,
	final      INTEGER NOT NULL DEFAULT 0,
	record     BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX calls_by_start ON calls(started_at DESC, id DESC);
CREATE INDEX calls_by_seat ON calls(seat, started_at DESC);
CREATE INDEX calls_open ON calls(final) WHERE final = 0;

CREATE TABLE events (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT NOT NULL UNIQUE,
	call_id         TEXT NOT NULL,
	type            TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	url             TEXT NOT NULL,
	content_type    TEXT NOT NULL,
	body            BLOB NOT NULL,
	payload         BLOB NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	retry_base      INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_state ON events(state, call_id, seq);
CREATE INDEX events_by_call ON events(call_id, seq);

CREATE TABLE attempts (
	event_id    TEXT NOT NULL,
	n           INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	duration_ms INTEGER NOT NULL,
	PRIMARY KEY (event_id, n)
);

CREATE TABLE endpoints (
	url         TEXT PRIMARY KEY,
	disabled_at INTEGER NOT NULL,
	reason      TEXT NOT NULL
);
`,
	// 2: several nodes on one store: each call's owner node, and the
	// lease of an event's attempt in flight (claim_until 0 = unclaimed).
	`
ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_open_by_node ON calls(node, updated_at) WHERE final = 0;
ALTER TABLE events ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0;
`,
	// 3: the directory: seats, their DIDs, trunks, the route table, the
	// audit log, and the one directory version every write bumps.
	`
CREATE TABLE seats (
	id         TEXT PRIMARY KEY,
	disabled   INTEGER NOT NULL DEFAULT 0,
	source     TEXT NOT NULL,
	settings   BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE dids (
	number     TEXT PRIMARY KEY,
	seat_id    TEXT NOT NULL REFERENCES seats(id) ON DELETE CASCADE,
	is_default INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX dids_by_seat ON dids(seat_id, number);

CREATE TABLE trunks (
	name       TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	settings   BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE routes (
	position   INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	settings   BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	kind   TEXT NOT NULL,
	key    TEXT NOT NULL,
	detail BLOB NOT NULL
);
CREATE INDEX audit_by_key ON audit(kind, key, seq);

CREATE TABLE directory_version (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	version INTEGER NOT NULL
);
INSERT INTO directory_version (one, version) VALUES (1, 0);
`,
}
