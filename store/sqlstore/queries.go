package sqlstore

import (
	"strconv"
	"strings"
)

// queries holds every statement of a store, built once in New for its
// dialect and table prefix. They are written with ? placeholders and
// {name} table names; PostgreSQL gets $n placeholders.
type queries struct {
	putState, getState, takeState, takeStateLock, deleteState, deleteOwned string

	putCode, lockCode, deleteCode, attemptCode, deleteGroup, countGroup string

	incr, incrRead, peek, decr, resetCounter string

	markUsed, advance, ledgerRead string

	putEnrollment, getEnrollment, listEnrollments, deleteEnrollment, touchEnrollment string

	putDevice, getDevice, listDevices, deleteDevice, touchDevice string

	sweep, sweepSome []string

	runBatch string // PostgreSQL only: one call of the batch function
}

// tables lists the store's tables with their expiry column, for Sweep and
// for tests that drop them.
var tables = []struct{ name, expiry, key string }{
	{"states", "expires_at", "k"},
	{"codes", "expires_at", "grp, k"},
	{"counters", "reset_at", "k"},
	{"ledger", "expires_at", "k"},
	{"enrollments", "", "user_id, id"},
	{"devices", "expires_at", "id"},
}

// buildQueries returns every statement of a store for dialect d, with the
// tables named prefix+name. The statements that every dialect writes alike
// come from sharedQueries and sweepQueries; the upserts, the locking reads
// and the writes that must report whether they won differ between MySQL
// (mysqlQueries) and PostgreSQL and SQLite (upsertQueries).
func buildQueries(d Dialect, prefix string) queries {
	f := queryFormatter(d, prefix)
	var q queries
	sharedQueries(&q, f)
	sweepQueries(&q, d, f)
	if d == MySQL {
		mysqlQueries(&q, f)
	} else {
		upsertQueries(&q, d, f)
	}
	if d == Postgres {
		q.runBatch = `SELECT ` + prefix + `run_batch($1::JSONB, $2)`
	}
	return q
}

// queryFormatter returns the function that turns a statement as written
// here, with {name} tables and ? placeholders, into the one sent to d: the
// tables get prefix, and PostgreSQL gets $n placeholders.
func queryFormatter(d Dialect, prefix string) func(string) string {
	return func(q string) string {
		for _, t := range tables {
			q = strings.ReplaceAll(q, "{"+t.name+"}", prefix+t.name)
		}
		if d == Postgres {
			q = numbered(q)
		}
		return q
	}
}

// sharedQueries sets the statements that are the same in every dialect:
// the plain reads, deletes and single-row updates, which need no syntax of
// one dialect (the updates are atomic through the row lock each takes).
func sharedQueries(q *queries, f func(string) string) {
	q.getState = f(`SELECT v FROM {states} WHERE k = ? AND (expires_at IS NULL OR expires_at > ?)`)
	q.deleteState = f(`DELETE FROM {states} WHERE k = ?`)
	q.deleteOwned = f(`DELETE FROM {states} WHERE owner = ?`)
	q.deleteCode = f(`DELETE FROM {codes} WHERE grp = ? AND k = ?`)
	q.attemptCode = f(`UPDATE {codes} SET attempts = attempts + 1 WHERE grp = ? AND k = ?`)
	q.deleteGroup = f(`DELETE FROM {codes} WHERE grp = ?`)
	q.countGroup = f(`SELECT COUNT(*) FROM {codes} WHERE grp = ? AND (expires_at IS NULL OR expires_at > ?) AND (max_attempts = 0 OR attempts < max_attempts)`)
	q.peek = f(`SELECT n, reset_at FROM {counters} WHERE k = ? AND reset_at > ?`)
	q.resetCounter = f(`DELETE FROM {counters} WHERE k = ?`)
	// One statement: the row lock taken by the UPDATE makes the check and
	// the subtraction one step, and a missing or ended counter matches no
	// row, so nothing is created.
	q.decr = f(`UPDATE {counters} SET n = n - 1 WHERE k = ? AND reset_at > ? AND n > 0`)
	q.getEnrollment = f(`SELECT method, label, data, created_at, last_used_at FROM {enrollments} WHERE user_id = ? AND id = ?`)
	q.listEnrollments = f(`SELECT id, method, label, data, created_at, last_used_at FROM {enrollments} WHERE user_id = ? ORDER BY created_at, id`)
	q.deleteEnrollment = f(`DELETE FROM {enrollments} WHERE user_id = ? AND id = ?`)
	// One statement in every dialect: the UPDATE locks the row and tests
	// the stored time on its latest version (PostgreSQL rechecks the WHERE
	// after waiting for a concurrent writer, MySQL's UPDATE reads the
	// current row, SQLite runs one writer at a time), so of racing touches
	// the latest time stays, and a missing row matches nothing and is not
	// created. Only last_used_at is written.
	q.touchEnrollment = f(`UPDATE {enrollments} SET last_used_at = ? WHERE user_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ?)`)
	q.getDevice = f(`SELECT user_id, label, ip, user_agent, created_at, expires_at, last_seen_at FROM {devices} WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)`)
	q.listDevices = f(`SELECT id, label, ip, user_agent, created_at, expires_at, last_seen_at FROM {devices} WHERE user_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id`)
	q.deleteDevice = f(`DELETE FROM {devices} WHERE id = ?`)
	q.touchDevice = f(`UPDATE {devices} SET last_seen_at = ? WHERE id = ?`)
}

// sweepQueries sets, for each table with an expiry column and in the order
// of tables, the statement that deletes all its expired rows (sweep) and
// the one that deletes a bounded batch of them (sweepSome). Only MySQL has
// DELETE ... LIMIT; the others pick the batch's rows in a subquery, by
// their physical id on PostgreSQL (ctid) and by primary key on SQLite,
// whose tables have no rowid from schema version 4.
func sweepQueries(q *queries, d Dialect, f func(string) string) {
	for _, t := range tables {
		if t.expiry == "" {
			continue
		}
		table, exp := "{"+t.name+"}", t.expiry
		q.sweep = append(q.sweep, f(`DELETE FROM `+table+` WHERE `+exp+` <= ?`))
		// A batch of at most n rows: arguments now, n, now (now, n on
		// MySQL). The outer expiry test is checked again on the row being
		// deleted, so a row put again with a later expiry after the inner
		// SELECT saw it is not deleted.
		switch d {
		case MySQL:
			q.sweepSome = append(q.sweepSome, f(`DELETE FROM `+table+` WHERE `+exp+` <= ? LIMIT ?`))
		case Postgres:
			q.sweepSome = append(q.sweepSome, f(`DELETE FROM `+table+` WHERE ctid = ANY(ARRAY(SELECT ctid FROM `+table+` WHERE `+exp+` <= ? LIMIT ?)) AND `+exp+` <= ?`))
		default:
			key := "(" + t.key + ")"
			q.sweepSome = append(q.sweepSome, f(`DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+t.key+` FROM `+table+` WHERE `+exp+` <= ? LIMIT ?) AND `+exp+` <= ?`))
		}
	}
}

// mysqlQueries sets MySQL's own statements. MySQL has neither ON CONFLICT
// nor RETURNING: puts are REPLACE INTO, upserts ON DUPLICATE KEY UPDATE,
// a state is taken by a locking read (takeStateLock) and a delete in one
// transaction, and what an upsert did is read back afterwards (incrRead,
// ledgerRead).
func mysqlQueries(q *queries, f func(string) string) {
	q.putState = f(`REPLACE INTO {states} (k, v, expires_at, owner) VALUES (?, ?, ?, ?)`)
	q.takeStateLock = f(`SELECT v, expires_at FROM {states} WHERE k = ? FOR UPDATE`)
	q.putCode = f(`REPLACE INTO {codes} (grp, k, hash, expires_at, max_attempts, attempts) VALUES (?, ?, ?, ?, ?, 0)`)
	q.lockCode = f(`SELECT hash, expires_at, max_attempts, attempts FROM {codes} WHERE grp = ? AND k = ? FOR UPDATE`)
	// Assignments run left to right: n is decided on the old reset_at,
	// which is changed after it.
	q.incr = f(`INSERT INTO {counters} (k, n, reset_at) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE ` +
		`n = IF(reset_at <= ?, 1, n + 1), reset_at = IF(reset_at <= ?, VALUES(reset_at), reset_at)`)
	q.incrRead = f(`SELECT n, reset_at FROM {counters} WHERE k = ?`)
	// MySQL reports affected rows in ways that depend on the
	// connection's flags, so a winner writes its own random token and
	// reads it back in the same transaction. tok is decided first, on
	// the old row; the other columns follow it.
	q.markUsed = f(`INSERT INTO {ledger} (k, v, expires_at, tok) VALUES (?, 1, ?, ?) ON DUPLICATE KEY UPDATE ` +
		`tok = IF(expires_at IS NOT NULL AND expires_at <= ?, VALUES(tok), tok), ` +
		`v = IF(tok = VALUES(tok), VALUES(v), v), expires_at = IF(tok = VALUES(tok), VALUES(expires_at), expires_at)`)
	q.advance = f(`INSERT INTO {ledger} (k, v, expires_at, tok) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE ` +
		`tok = IF((expires_at IS NOT NULL AND expires_at <= ?) OR v < VALUES(v), VALUES(tok), tok), ` +
		`v = IF(tok = VALUES(tok), VALUES(v), v), expires_at = IF(tok = VALUES(tok), VALUES(expires_at), expires_at)`)
	q.ledgerRead = f(`SELECT tok FROM {ledger} WHERE k = ?`)
	q.putEnrollment = f(`REPLACE INTO {enrollments} (user_id, id, method, label, data, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	q.putDevice = f(`REPLACE INTO {devices} (id, user_id, label, ip, user_agent, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
}

// upsertQueries sets the statements of PostgreSQL and SQLite (d), which
// share the ON CONFLICT upsert and RETURNING syntax: a state is taken by
// one DELETE ... RETURNING, and an upsert returns or reports what it did
// itself. They differ only in how a code's row is locked (lockCode).
func upsertQueries(q *queries, d Dialect, f func(string) string) {
	q.putState = f(`INSERT INTO {states} (k, v, expires_at, owner) VALUES (?, ?, ?, ?) ` +
		`ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at, owner = excluded.owner`)
	q.takeState = f(`DELETE FROM {states} WHERE k = ? RETURNING v, expires_at`)
	q.putCode = f(`INSERT INTO {codes} (grp, k, hash, expires_at, max_attempts, attempts) VALUES (?, ?, ?, ?, ?, 0) ` +
		`ON CONFLICT (grp, k) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at, max_attempts = excluded.max_attempts, attempts = 0`)
	if d == Postgres {
		q.lockCode = f(`SELECT hash, expires_at, max_attempts, attempts FROM {codes} WHERE grp = ? AND k = ? FOR UPDATE`)
	} else {
		// A write as the first statement takes SQLite's write lock at
		// once (waiting under busy_timeout), so the transaction never
		// has to upgrade a read lock, which SQLite cannot wait for.
		q.lockCode = f(`UPDATE {codes} SET attempts = attempts WHERE grp = ? AND k = ? RETURNING hash, expires_at, max_attempts, attempts`)
	}
	q.incr = f(`INSERT INTO {counters} AS c (k, n, reset_at) VALUES (?, 1, ?) ON CONFLICT (k) DO UPDATE SET ` +
		`n = CASE WHEN c.reset_at <= ? THEN 1 ELSE c.n + 1 END, ` +
		`reset_at = CASE WHEN c.reset_at <= ? THEN excluded.reset_at ELSE c.reset_at END ` +
		`RETURNING n, reset_at`)
	q.markUsed = f(`INSERT INTO {ledger} AS l (k, v, expires_at) VALUES (?, 1, ?) ON CONFLICT (k) DO UPDATE SET ` +
		`v = excluded.v, expires_at = excluded.expires_at WHERE l.expires_at IS NOT NULL AND l.expires_at <= ?`)
	q.advance = f(`INSERT INTO {ledger} AS l (k, v, expires_at) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET ` +
		`v = excluded.v, expires_at = excluded.expires_at WHERE (l.expires_at IS NOT NULL AND l.expires_at <= ?) OR l.v < excluded.v`)
	q.putEnrollment = f(`INSERT INTO {enrollments} (user_id, id, method, label, data, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?) ` +
		`ON CONFLICT (user_id, id) DO UPDATE SET method = excluded.method, label = excluded.label, data = excluded.data, created_at = excluded.created_at, last_used_at = excluded.last_used_at`)
	q.putDevice = f(`INSERT INTO {devices} (id, user_id, label, ip, user_agent, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ` +
		`ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, label = excluded.label, ip = excluded.ip, user_agent = excluded.user_agent, ` +
		`created_at = excluded.created_at, expires_at = excluded.expires_at, last_seen_at = excluded.last_seen_at`)
}

// numbered turns ? placeholders into $1, $2, ... (none of the statements
// has a ? inside a literal).
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
