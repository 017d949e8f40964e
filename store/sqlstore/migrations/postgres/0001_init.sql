-- Version 1: every table the store uses. Times are microseconds since the
-- Unix epoch (BIGINT); NULL means "never expires" or "not set".
CREATE TABLE {{p}}states (
	k          TEXT COLLATE "C" PRIMARY KEY,
	v          BYTEA NOT NULL,
	expires_at BIGINT
);
CREATE INDEX {{p}}states_expires_at ON {{p}}states (expires_at);
CREATE TABLE {{p}}codes (
	grp          TEXT COLLATE "C" NOT NULL,
	k            TEXT COLLATE "C" NOT NULL,
	hash         BYTEA NOT NULL,
	expires_at   BIGINT,
	max_attempts INTEGER NOT NULL DEFAULT 0,
	attempts     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grp, k)
);
CREATE INDEX {{p}}codes_expires_at ON {{p}}codes (expires_at);
CREATE TABLE {{p}}counters (
	k        TEXT COLLATE "C" PRIMARY KEY,
	n        BIGINT NOT NULL,
	reset_at BIGINT NOT NULL
);
CREATE INDEX {{p}}counters_reset_at ON {{p}}counters (reset_at);
CREATE TABLE {{p}}ledger (
	k          TEXT COLLATE "C" PRIMARY KEY,
	v          BIGINT NOT NULL,
	expires_at BIGINT
);
CREATE INDEX {{p}}ledger_expires_at ON {{p}}ledger (expires_at);
CREATE TABLE {{p}}enrollments (
	user_id      TEXT COLLATE "C" NOT NULL,
	id           TEXT COLLATE "C" NOT NULL,
	method       TEXT NOT NULL,
	label        TEXT NOT NULL,
	data         BYTEA NOT NULL,
	created_at   BIGINT,
	last_used_at BIGINT,
	PRIMARY KEY (user_id, id)
);
CREATE TABLE {{p}}devices (
	id           TEXT COLLATE "C" PRIMARY KEY,
	user_id      TEXT COLLATE "C" NOT NULL,
	label        TEXT NOT NULL,
	ip           TEXT NOT NULL,
	user_agent   TEXT NOT NULL,
	created_at   BIGINT,
	expires_at   BIGINT,
	last_seen_at BIGINT
);
CREATE INDEX {{p}}devices_user_id ON {{p}}devices (user_id);
CREATE INDEX {{p}}devices_expires_at ON {{p}}devices (expires_at);
