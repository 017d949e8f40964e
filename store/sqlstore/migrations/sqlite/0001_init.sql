-- Version 1: every table the store uses. Times are microseconds since the
-- Unix epoch (INTEGER); NULL means "never expires" or "not set".
CREATE TABLE {{p}}states (
	k          TEXT PRIMARY KEY,
	v          BLOB NOT NULL,
	expires_at INTEGER
);
CREATE INDEX {{p}}states_expires_at ON {{p}}states (expires_at);
CREATE TABLE {{p}}codes (
	grp          TEXT NOT NULL,
	k            TEXT NOT NULL,
	hash         BLOB NOT NULL,
	expires_at   INTEGER,
	max_attempts INTEGER NOT NULL DEFAULT 0,
	attempts     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grp, k)
);
CREATE INDEX {{p}}codes_expires_at ON {{p}}codes (expires_at);
CREATE TABLE {{p}}counters (
	k        TEXT PRIMARY KEY,
	n        INTEGER NOT NULL,
	reset_at INTEGER NOT NULL
);
CREATE INDEX {{p}}counters_reset_at ON {{p}}counters (reset_at);
CREATE TABLE {{p}}ledger (
	k          TEXT PRIMARY KEY,
	v          INTEGER NOT NULL,
	expires_at INTEGER
);
CREATE INDEX {{p}}ledger_expires_at ON {{p}}ledger (expires_at);
CREATE TABLE {{p}}enrollments (
	user_id      TEXT NOT NULL,
	id           TEXT NOT NULL,
	method       TEXT NOT NULL,
	label        TEXT NOT NULL,
	data         BLOB NOT NULL,
	created_at   INTEGER,
	last_used_at INTEGER,
	PRIMARY KEY (user_id, id)
);
CREATE TABLE {{p}}devices (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	label        TEXT NOT NULL,
	ip           TEXT NOT NULL,
	user_agent   TEXT NOT NULL,
	created_at   INTEGER,
	expires_at   INTEGER,
	last_seen_at INTEGER
);
CREATE INDEX {{p}}devices_user_id ON {{p}}devices (user_id);
CREATE INDEX {{p}}devices_expires_at ON {{p}}devices (expires_at);
