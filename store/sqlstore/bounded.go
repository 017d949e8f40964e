package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twofactorkit/twofactor/store"
)

var (
	_ store.BoundedCounters = (*Store)(nil)
	_ store.StateResetter   = (*Store)(nil)
)

// IncrBelow implements store.BoundedCounters in one transaction:
// lockBounded locks the row of every counter of the call, in sorted key
// order as IncrBatch writes them (so that concurrent calls and batches
// lock in the same order and never deadlock each other), creating a
// missing counter as an ended row (on SQLite, whose transactions hold the
// database's write lock, it only reads), and reads them; store.DecideBounded
// decides from what it read; writeBounded writes the counters that the
// call increments, and no other. A Check entry's counter is locked and
// read as the others are, so that no call changes it between this call's
// read and its commit, but never written: the ended row created to lock a
// missing one is removed before the commit, as is that of any counter the
// call does not increment. A call that increments nothing rolls back,
// which also removes the ended rows it created. Round trips: BEGIN, one
// statement to lock and read (two on MySQL, which cannot return what an
// upsert wrote), then ROLLBACK, or one to write and COMMIT (one more when
// a call that increments some counters leaves an ended row it created,
// which it deletes).
func (s *Store) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	if err := store.CheckBounded(incrs); err != nil {
		return nil, wrap("incr below", err)
	}
	s.probeServer(ctx)
	var out []store.BoundedValue
	err := s.tx(ctx, "incr below", func(tx *sql.Tx) (err error) {
		out, err = s.incrBelow(ctx, tx, incrs, nil)
		return err
	})
	if errors.Is(err, errNothingToWrite) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// incrBelow is the work of IncrBelow in the transaction tx, for incrs that
// store.CheckBounded accepted: it locks and reads the counters, decides,
// and writes, and returns the results. When the call increments nothing,
// it returns its results with errNothingToWrite, so that IncrBelow rolls
// the transaction back. In a batch, locks holds what the batch's earlier
// increments locked (see batchLocks): those counters are read there
// rather than locked and read again, and the ended rows created to lock
// missing ones stay until the batch's end.
func (s *Store) incrBelow(ctx context.Context, tx querier, incrs []store.BoundedIncr, locks batchLocks) ([]store.BoundedValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	nowM := s.nowMicro()
	keys := make([]string, 0, len(incrs))
	for _, in := range incrs {
		if _, held := locks[in.Key]; !held {
			keys = append(keys, in.Key)
		}
	}
	rows := map[string]lockedCounter{}
	if len(keys) > 0 {
		sort.Strings(keys)
		var err error
		if rows, err = s.lockBounded(ctx, tx, keys); err != nil {
			return nil, err
		}
	}
	live := make([]store.CounterValue, len(incrs))
	for i, in := range incrs {
		r, ok := rows[in.Key]
		if held, isHeld := locks[in.Key]; isHeld {
			r, ok = held, true
			rows[in.Key] = held
		}
		if !ok {
			return nil, fmt.Errorf("counter %d missing from the locked rows", i)
		}
		if r.reset > nowM {
			live[i] = store.CounterValue{N: r.n, ResetAt: timeMicro(r.reset)}
		}
	}
	out := store.DecideBounded(incrs, live, timeMicro(nowM))
	if err := s.writeBounded(ctx, tx, incrs, out, rows, locks != nil); err != nil {
		return out, err
	}
	if locks != nil {
		for i, in := range incrs {
			if out[i].Incremented {
				locks[in.Key] = lockedCounter{n: out[i].N, reset: out[i].ResetAt.UnixMicro()}
			} else {
				locks[in.Key] = rows[in.Key]
			}
		}
	}
	return out, nil
}

// batchLocks is what a batch's transaction knows of the counters its
// bounded increments locked: each row as the transaction left it, locked
// until the commit (reset zero for an ended row created to lock a missing
// counter, absentReset for a counter SQLite found missing). A later
// increment of the batch on the same counter reads it here, where locking
// and reading it again would cost statements and return the same; a
// counter the batch resets is forgotten, and locked again if a later
// increment names it. The ended rows that no increment wrote are deleted
// once, before the commit (deleteEnded).
type batchLocks map[string]lockedCounter

// ended returns, sorted, the counters whose rows the batch created ended
// to lock them and did not write.
func (l batchLocks) ended() []any {
	var keys []string
	for k, c := range l {
		if c.reset == 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// deleteEnded deletes, in tx, the ended rows of keys, created to lock
// missing counters and not written.
func (s *Store) deleteEnded(ctx context.Context, tx querier, keys []any) error {
	if len(keys) == 0 {
		return nil
	}
	// By key alone: the rows are locked as lockBounded left them, and a
	// test of reset_at could lead the planner to its index, which holds an
	// entry for every ended row deleted since the last vacuum.
	del := "DELETE FROM " + s.prefix + "counters WHERE k IN (?" + strings.Repeat(", ?", len(keys)-1) + ")"
	if s.dialect == Postgres {
		del = numbered(del)
	}
	_, err := tx.ExecContext(ctx, del, keys...)
	return err
}

// errNothingToWrite ends the transaction of an IncrBelow call that
// increments nothing: s.tx rolls it back, and IncrBelow succeeds.
var errNothingToWrite = errors.New("nothing to write")

// lockedCounter is a counter's row as lockBounded read it, reset_at being
// zero for a row that lockBounded created and absentReset for one that
// does not exist (SQLite, where lockBounded creates none).
type lockedCounter struct{ n, reset int64 }

// absentReset is the reset_at of a counter that lockBounded found missing
// and did not create: below every stored value, so never live and never
// equal to a window end.
const absentReset = -1

// lockBounded locks the rows of keys (sorted) and returns them by key.
//
// On PostgreSQL and MySQL it creates each missing one as an ended counter
// (n = 0, reset_at = 0), which every read ignores and Incr restarts: the
// upsert takes each row's lock in the order of keys, and waits for a
// concurrent call that created or changed the row; it then reads the
// row's latest committed values (PostgreSQL and MariaDB return them;
// MySQL, which has no RETURNING, reads them back with a locking read in
// the same transaction).
//
// SQLite runs one writer at a time, and the store's transactions take the
// database's write lock when they begin (BEGIN IMMEDIATE: package sqlite's
// DSN), so a plain SELECT reads what no other writer can change before the
// commit, and a missing counter is reported as absentReset rather than
// created: creating and deleting it again would cost a write of the
// table's and the index's pages in every call. On a database opened with
// deferred transactions, a writer that commits between this read and the
// transaction's first write makes that write fail with SQLITE_BUSY
// (SQLite never lets a transaction write on a stale snapshot), and the
// store runs the transaction again.
func (s *Store) lockBounded(ctx context.Context, tx querier, keys []string) (map[string]lockedCounter, error) {
	table := s.prefix + "counters"
	var q strings.Builder
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	switch s.dialect {
	case SQLite:
		q.WriteString("SELECT k, n, reset_at FROM " + table + " WHERE k IN (?" + strings.Repeat(", ?", len(keys)-1) + ")")
	case MySQL:
		q.WriteString("INSERT INTO " + table + " (k, n, reset_at) VALUES (?, 0, 0)" + strings.Repeat(", (?, 0, 0)", len(keys)-1))
		q.WriteString(" ON DUPLICATE KEY UPDATE n = n")
		if s.returning() {
			q.WriteString(" RETURNING k, n, reset_at")
			break
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return nil, err
		}
		q.Reset()
		q.WriteString("SELECT k, n, reset_at FROM " + table + " WHERE k IN (?" + strings.Repeat(", ?", len(keys)-1) + ") FOR UPDATE")
	default:
		q.WriteString("INSERT INTO " + table + " AS c (k, n, reset_at) VALUES (?, 0, 0)" + strings.Repeat(", (?, 0, 0)", len(keys)-1))
		q.WriteString(" ON CONFLICT (k) DO UPDATE SET n = c.n RETURNING k, n, reset_at")
	}
	stmt := q.String()
	if s.dialect == Postgres {
		stmt = numbered(stmt)
	}
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]lockedCounter, len(keys))
	for rows.Next() {
		var k string
		var c lockedCounter
		if err := rows.Scan(&k, &c.n, &c.reset); err != nil {
			return nil, err
		}
		out[k] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if s.dialect == SQLite {
		for _, k := range keys {
			if _, ok := out[k]; !ok {
				out[k] = lockedCounter{reset: absentReset}
			}
		}
	}
	return out, nil
}

// writeBounded writes, under the locks lockBounded took, the count and
// window end of every counter that out says the call incremented (never a
// Check entry's: store.DecideBounded increments none), with one multi-row
// upsert (each row exists and is locked, so it is an update; on SQLite a
// missing one is inserted), and deletes the ended rows lockBounded created
// that the call did not increment. On SQLite the counters whose window end
// stays as it was are written by a second upsert that sets their count
// alone: SQLite rewrites an index entry of every column an UPDATE sets,
// changed or not, and the entry in reset_at's index is a page written
// to the log at every commit. When the call increments nothing it returns
// errNothingToWrite, so that the transaction rolls back. In a batch
// (inBatch) it deletes nothing: the batch's later increments may write
// the ended rows, and what is left goes at its end (deleteEnded).
func (s *Store) writeBounded(ctx context.Context, tx querier, incrs []store.BoundedIncr, out []store.BoundedValue, rows map[string]lockedCounter, inBatch bool) error {
	var set, counts, created []any
	for i, in := range incrs {
		switch {
		case out[i].Incremented:
			reset := out[i].ResetAt.UnixMicro()
			out[i].ResetAt = timeMicro(reset) // as stored
			if s.dialect == SQLite && rows[in.Key].reset == reset {
				counts = append(counts, in.Key, out[i].N, reset)
				continue
			}
			set = append(set, in.Key, out[i].N, reset)
		case rows[in.Key].reset == 0 && !inBatch:
			created = append(created, in.Key)
		}
	}
	if len(set) == 0 && len(counts) == 0 && !inBatch {
		return errNothingToWrite
	}
	table := s.prefix + "counters"
	if len(set) > 0 {
		if err := s.writeCounters(ctx, tx, table, set, true); err != nil {
			return err
		}
	}
	if len(counts) > 0 {
		if err := s.writeCounters(ctx, tx, table, counts, false); err != nil {
			return err
		}
	}
	return s.deleteEnded(ctx, tx, created)
}

// writeCounters sets the count and, when window, the window end of the
// rows of set, a (key, n, reset_at) triple per row, with one multi-row
// upsert.
func (s *Store) writeCounters(ctx context.Context, tx querier, table string, set []any, window bool) error {
	n := len(set) / 3
	stmt := "INSERT INTO " + table + " AS c (k, n, reset_at) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", n-1) +
		" ON CONFLICT (k) DO UPDATE SET n = excluded.n"
	if window {
		stmt += ", reset_at = excluded.reset_at"
	}
	if s.dialect == MySQL {
		stmt = "INSERT INTO " + table + " (k, n, reset_at) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", n-1) +
			" ON DUPLICATE KEY UPDATE n = VALUES(n), reset_at = VALUES(reset_at)"
	}
	if s.dialect == Postgres {
		stmt = numbered(stmt)
	}
	_, err := tx.ExecContext(ctx, stmt, set...)
	return err
}
