package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
// increments locked and did (see batchLocks): those counters are read
// there rather than locked and read again, and what this call decides is
// kept there too, written once at the batch's end.
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
			r, ok = held.lockedCounter, true
		}
		if !ok {
			return nil, fmt.Errorf("counter %d missing from the locked rows", i)
		}
		if r.reset > nowM {
			live[i] = store.CounterValue{N: r.n, ResetAt: timeMicro(r.reset)}
		}
	}
	out := store.DecideBounded(incrs, live, timeMicro(nowM))
	for i := range out {
		if out[i].Incremented {
			out[i].ResetAt = timeMicro(out[i].ResetAt.UnixMicro()) // as stored
		}
	}
	if locks == nil {
		return out, s.writeBounded(ctx, tx, incrs, out, rows)
	}
	for k, r := range rows {
		locks[k] = &heldCounter{lockedCounter: r, stored: r.reset}
	}
	admitted := !slices.ContainsFunc(out, func(v store.BoundedValue) bool { return v.Full })
	for i, in := range incrs {
		h := locks[in.Key]
		h.keep = h.keep || admitted
		if out[i].Incremented {
			h.lockedCounter, h.dirty = lockedCounter{n: out[i].N, reset: out[i].ResetAt.UnixMicro()}, true
		}
	}
	return out, nil
}

// batchLocks is what a batch's transaction holds of the counters its
// bounded increments locked: each row as it was locked, and as the batch
// has changed it since. The rows stay locked until the commit, so nothing
// else can change them meanwhile, and the batch's later operations on
// them need no statement: a later increment reads the counter here, a
// reset forgets its count here, and what the batch changed is written
// once, just before the commit (flush), where each increment writing its
// own counters would cost a statement per increment and a reset of a
// counter the batch incremented two. A Peek of a counter, the only other
// operation that reads one, flushes first (see runOp).
//
// On MySQL the ended rows of counters that an admitted increment named
// (one that refused nothing) stay, and a reset of such a counter ends its
// row in the upsert rather than deleting it: every read ignores an ended
// row, the next increment restarts it, and the sweeper removes it once
// nobody does. The counters a step names are those the next step names
// again (a challenge's answers and end, the user's run of wrong answers),
// so an ended row is soon written or reused, and a DELETE, on MySQL a
// statement parsed and run on its own, is saved on every login step. A
// refused call still leaves no row: what it locked and did not write is
// deleted.
type batchLocks map[string]*heldCounter

// heldCounter is a counter a batch holds locked.
type heldCounter struct {
	lockedCounter       // as the batch has it now
	stored        int64 // reset_at of its row as locked: 0 for an ended row created to lock it, absentReset for none
	dirty         bool  // the batch changed its count or window, not yet written
	gone          bool  // the batch reset it, its row not yet deleted or ended
	keep          bool  // an admitted increment named it: on MySQL its row may stay ended
}

// endsInPlace reports whether h's row, ended or reset, stays as an ended
// row rather than being deleted (see batchLocks).
func (s *Store) endsInPlace(h *heldCounter) bool { return s.dialect == MySQL && h.keep }

// forget is a reset of the held counter key: its count is gone, and its
// row, if it has one, is deleted at the flush. It reports whether key was
// held; one that was not is reset by a statement of its own.
func (l batchLocks) forget(key string) bool {
	h, ok := l[key]
	if ok {
		h.lockedCounter, h.dirty, h.gone = lockedCounter{}, false, true
	}
	return ok
}

// flush writes, in tx, what the batch changed in the counters it holds:
// one multi-row upsert of those it incremented (on SQLite a second for
// those whose window end did not move, see counterWrites), and one
// DELETE of the rows it reset and of the ended rows created to lock
// counters it never wrote. The held counters then match their rows.
func (s *Store) flush(ctx context.Context, tx querier, locks batchLocks) error {
	keys := make([]string, 0, len(locks))
	for k := range locks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var w counterWrites
	for _, k := range keys {
		h := locks[k]
		switch {
		case h.dirty:
			w.write(s, k, h.n, h.reset, h.stored)
			h.stored = h.reset
		case h.stored == absentReset || !h.gone && h.stored != 0:
		case s.endsInPlace(h):
			if h.stored != 0 {
				w.write(s, k, 0, 0, h.stored)
				h.stored = 0
			}
		default:
			w.del = append(w.del, k)
			h.stored = absentReset
		}
		h.dirty, h.gone = false, false
	}
	return s.writeCounterSet(ctx, tx, &w)
}

// pending reports whether the batch holds a change it has not written.
func (s *Store) pending(l batchLocks) bool {
	for _, h := range l {
		if h.dirty || h.gone || h.stored == 0 && !s.endsInPlace(h) {
			return true
		}
	}
	return false
}

// counterWrites is what a transaction writes to counters it holds locked:
// (key, n, reset_at) triples to upsert with their window end (set) or,
// on SQLite, with their count alone (counts), and keys to delete (del).
type counterWrites struct{ set, counts, del []any }

// write adds the write of key's count n and window end reset, its row's
// window end being stored. SQLite rewrites an index entry of every column
// an UPDATE sets, changed or not, and the entry in reset_at's index is a
// page written to the log at every commit, so there a counter whose window
// end stays as it was has its count written alone.
func (w *counterWrites) write(s *Store, key string, n, reset, stored int64) {
	if s.dialect == SQLite && stored == reset {
		w.counts = append(w.counts, key, n, reset)
		return
	}
	w.set = append(w.set, key, n, reset)
}

// writeCounterSet runs w's statements in tx.
func (s *Store) writeCounterSet(ctx context.Context, tx querier, w *counterWrites) error {
	table := s.prefix + "counters"
	if len(w.set) > 0 {
		if err := s.writeCounters(ctx, tx, table, w.set, true); err != nil {
			return err
		}
	}
	if len(w.counts) > 0 {
		if err := s.writeCounters(ctx, tx, table, w.counts, false); err != nil {
			return err
		}
	}
	return s.deleteEnded(ctx, tx, w.del)
}

// deleteEnded deletes, in tx, the rows of keys, which the transaction
// holds locked: ended rows created to lock missing counters and not
// written, and counters it reset.
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
	out := make(map[string]lockedCounter, len(keys))
	err := query(ctx, tx, stmt, args, func(rows *sql.Rows) error {
		for rows.Next() {
			var k string
			var c lockedCounter
			if err := rows.Scan(&k, &c.n, &c.reset); err != nil {
				return err
			}
			out[k] = c
		}
		return rows.Err()
	})
	if err != nil {
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
// missing one is inserted, and see counterWrites.set), and deletes the
// ended rows lockBounded created that the call did not increment. When
// the call increments nothing it returns errNothingToWrite, so that the
// transaction rolls back.
func (s *Store) writeBounded(ctx context.Context, tx querier, incrs []store.BoundedIncr, out []store.BoundedValue, rows map[string]lockedCounter) error {
	var w counterWrites
	for i, in := range incrs {
		switch {
		case out[i].Incremented:
			w.write(s, in.Key, out[i].N, out[i].ResetAt.UnixMicro(), rows[in.Key].reset)
		case rows[in.Key].reset == 0:
			w.del = append(w.del, in.Key)
		}
	}
	if len(w.set) == 0 && len(w.counts) == 0 {
		return errNothingToWrite
	}
	return s.writeCounterSet(ctx, tx, &w)
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
