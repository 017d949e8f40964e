-- Version 1: every table the store uses. Times are microseconds since the
-- Unix epoch (BIGINT); NULL means "never expires" or "not set". Keys are
-- VARBINARY so they compare byte for byte, like Go strings. MySQL commits
-- DDL at once, so each statement is written to be safe to run again.
CREATE TABLE IF NOT EXISTS {{p}}states (
	k          VARBINARY(255) NOT NULL PRIMARY KEY,
	v          MEDIUMBLOB NOT NULL,
	expires_at BIGINT NULL,
	INDEX {{p}}states_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {{p}}codes (
	grp          VARBINARY(255) NOT NULL,
	k            VARBINARY(255) NOT NULL,
	hash         VARBINARY(255) NOT NULL,
	expires_at   BIGINT NULL,
	max_attempts INT NOT NULL DEFAULT 0,
	attempts     INT NOT NULL DEFAULT 0,
	PRIMARY KEY (grp, k),
	INDEX {{p}}codes_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {{p}}counters (
	k        VARBINARY(255) NOT NULL PRIMARY KEY,
	n        BIGINT NOT NULL,
	reset_at BIGINT NOT NULL,
	INDEX {{p}}counters_reset_at (reset_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {{p}}ledger (
	k          VARBINARY(255) NOT NULL PRIMARY KEY,
	v          BIGINT NOT NULL,
	expires_at BIGINT NULL,
	tok        BINARY(16) NOT NULL,
	INDEX {{p}}ledger_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {{p}}enrollments (
	user_id      VARBINARY(255) NOT NULL,
	id           VARBINARY(255) NOT NULL,
	method       VARCHAR(64) NOT NULL,
	label        TEXT NOT NULL,
	data         MEDIUMBLOB NOT NULL,
	created_at   BIGINT NULL,
	last_used_at BIGINT NULL,
	PRIMARY KEY (user_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {{p}}devices (
	id           VARBINARY(255) NOT NULL PRIMARY KEY,
	user_id      VARBINARY(255) NOT NULL,
	label        TEXT NOT NULL,
	ip           VARCHAR(64) NOT NULL,
	user_agent   TEXT NOT NULL,
	created_at   BIGINT NULL,
	expires_at   BIGINT NULL,
	last_seen_at BIGINT NULL,
	INDEX {{p}}devices_user_id (user_id),
	INDEX {{p}}devices_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
