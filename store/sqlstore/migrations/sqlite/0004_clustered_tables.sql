-- Version 4: every table is stored in its primary key's order (WITHOUT
-- ROWID). A table with a text primary key otherwise keeps two B-trees, its
-- rows by rowid and an index of the key, and each row written is written
-- in both: a page more in the write-ahead log at every commit. Each table
-- is rebuilt under a new name, its rows copied, the old one dropped and
-- the new one renamed, in the migration's transaction; the expiry and
-- owner indexes are made again on the new table.
CREATE TABLE {{p}}states_v4 (
	k          TEXT PRIMARY KEY,
	v          BLOB NOT NULL,
	expires_at INTEGER,
	owner      TEXT
) WITHOUT ROWID;
INSERT INTO {{p}}states_v4 (k, v, expires_at, owner) SELECT k, v, expires_at, owner FROM {{p}}states;
DROP TABLE {{p}}states;
ALTER TABLE {{p}}states_v4 RENAME TO {{p}}states;
CREATE INDEX {{p}}states_expires_at ON {{p}}states (expires_at);
CREATE INDEX {{p}}states_owner ON {{p}}states (owner);

CREATE TABLE {{p}}codes_v4 (
	grp          TEXT NOT NULL,
	k            TEXT NOT NULL,
	hash         BLOB NOT NULL,
	expires_at   INTEGER,
	max_attempts INTEGER NOT NULL DEFAULT 0,
	attempts     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grp, k)
) WITHOUT ROWID;
INSERT INTO {{p}}codes_v4 (grp, k, hash, expires_at, max_attempts, attempts)
	SELECT grp, k, hash, expires_at, max_attempts, attempts FROM {{p}}codes;
DROP TABLE {{p}}codes;
ALTER TABLE {{p}}codes_v4 RENAME TO {{p}}codes;
CREATE INDEX {{p}}codes_expires_at ON {{p}}codes (expires_at);

CREATE TABLE {{p}}counters_v4 (
	k        TEXT PRIMARY KEY,
	n        INTEGER NOT NULL,
	reset_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO {{p}}counters_v4 (k, n, reset_at) SELECT k, n, reset_at FROM {{p}}counters;
DROP TABLE {{p}}counters;
ALTER TABLE {{p}}counters_v4 RENAME TO {{p}}counters;
CREATE INDEX {{p}}counters_reset_at ON {{p}}counters (reset_at);

CREATE TABLE {{p}}ledger_v4 (
	k          TEXT PRIMARY KEY,
	v          INTEGER NOT NULL,
	expires_at INTEGER
) WITHOUT ROWID;
INSERT INTO {{p}}ledger_v4 (k, v, expires_at) SELECT k, v, expires_at FROM {{p}}ledger;
DROP TABLE {{p}}ledger;
ALTER TABLE {{p}}ledger_v4 RENAME TO {{p}}ledger;
CREATE INDEX {{p}}ledger_expires_at ON {{p}}ledger (expires_at);

CREATE TABLE {{p}}enrollments_v4 (
	user_id      TEXT NOT NULL,
	id           TEXT NOT NULL,
	method       TEXT NOT NULL,
	label        TEXT NOT NULL,
	data         BLOB NOT NULL,
	created_at   INTEGER,
	last_used_at INTEGER,
	PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
INSERT INTO {{p}}enrollments_v4 (user_id, id, method, label, data, created_at, last_used_at)
	SELECT user_id, id, method, label, data, created_at, last_used_at FROM {{p}}enrollments;
DROP TABLE {{p}}enrollments;
ALTER TABLE {{p}}enrollments_v4 RENAME TO {{p}}enrollments;

CREATE TABLE {{p}}devices_v4 (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	label        TEXT NOT NULL,
	ip           TEXT NOT NULL,
	user_agent   TEXT NOT NULL,
	created_at   INTEGER,
	expires_at   INTEGER,
	last_seen_at INTEGER
) WITHOUT ROWID;
INSERT INTO {{p}}devices_v4 (id, user_id, label, ip, user_agent, created_at, expires_at, last_seen_at)
	SELECT id, user_id, label, ip, user_agent, created_at, expires_at, last_seen_at FROM {{p}}devices;
DROP TABLE {{p}}devices;
ALTER TABLE {{p}}devices_v4 RENAME TO {{p}}devices;
CREATE INDEX {{p}}devices_user_id ON {{p}}devices (user_id);
CREATE INDEX {{p}}devices_expires_at ON {{p}}devices (expires_at);
