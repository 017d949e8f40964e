package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

var _ store.BatchCounters = (*Store)(nil)

// IncrBatch implements store.BatchCounters: every counter of the batch is
// incremented by one multi-row upsert (on MySQL followed by a read of the
// locked rows in the same transaction). A key named n times in the batch is
// incremented by n at once, and its results are the n consecutive counts,
// so each is still seen by exactly one caller. Keys are written in sorted
// order so that concurrent batches lock rows in the same order.
//
// The work is in three steps: groupIncrs folds the batch into one
// increment per key, incrBatchLocked or incrBatchReturning runs the upsert
// and reads the counters' final values, and spreadCounts hands each
// increment its own count.
func (s *Store) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	now := s.now()
	keys, byKey := groupIncrs(incrs, now)
	stmt, args := s.batchUpsert(keys, byKey, now.UnixMicro())
	var final map[string]store.CounterValue
	var err error
	if s.dialect == MySQL {
		final, err = s.incrBatchLocked(ctx, stmt, args, keys)
	} else {
		final, err = s.incrBatchReturning(ctx, stmt, args, keys)
	}
	if err != nil {
		return nil, err
	}
	return spreadCounts(incrs, byKey, final)
}

// batchIncr is what a batch does to one counter: m increments, and the
// reset time (Unix microseconds) the counter gets if the batch creates it
// or restarts its window, from the window of the key's first increment.
type batchIncr struct{ m, reset int64 }

// groupIncrs folds incrs into one batchIncr per key, and returns the keys
// sorted, the order in which the upsert writes (and so locks) their rows.
func groupIncrs(incrs []store.CounterIncr, now time.Time) ([]string, map[string]*batchIncr) {
	byKey := make(map[string]*batchIncr, len(incrs))
	keys := make([]string, 0, len(incrs))
	for _, in := range incrs {
		a := byKey[in.Key]
		if a == nil {
			a = &batchIncr{reset: now.Add(in.Window).UnixMicro()}
			byKey[in.Key] = a
			keys = append(keys, in.Key)
		}
		a.m++
	}
	sort.Strings(keys)
	return keys, byKey
}

// Conflict clauses of the batch upsert, each taking now twice: a counter
// whose window has ended (reset_at <= now) starts again at the batch's
// count and reset time, any other adds the batch's count and keeps its
// reset time. On MySQL assignments run left to right, so n is decided on
// the old reset_at; PostgreSQL and SQLite return the rows they wrote.
const (
	batchConflictMySQL = " ON DUPLICATE KEY UPDATE n = IF(reset_at <= ?, VALUES(n), n + VALUES(n)), reset_at = IF(reset_at <= ?, VALUES(reset_at), reset_at)"

	batchConflictReturning = " ON CONFLICT (k) DO UPDATE SET n = CASE WHEN c.reset_at <= ? THEN excluded.n ELSE c.n + excluded.n END, " +
		"reset_at = CASE WHEN c.reset_at <= ? THEN excluded.reset_at ELSE c.reset_at END RETURNING k, n, reset_at"
)

// batchUpsert builds the batch's statement for the store's dialect, one
// row (k, m, reset) per key in the order of keys followed by the conflict
// clause, and its arguments, nowM (now in Unix microseconds) last.
func (s *Store) batchUpsert(keys []string, byKey map[string]*batchIncr, nowM int64) (string, []any) {
	table := s.prefix + "counters"
	head, conflict := "INSERT INTO "+table+" AS c (k, n, reset_at) VALUES ", batchConflictReturning
	if s.dialect == MySQL {
		head, conflict = "INSERT INTO "+table+" (k, n, reset_at) VALUES ", batchConflictMySQL
	}
	var q strings.Builder
	args := make([]any, 0, 3*len(keys)+2)
	q.WriteString(head)
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?)")
		args = append(args, k, byKey[k].m, byKey[k].reset)
	}
	q.WriteString(conflict)
	args = append(args, nowM, nowM)
	if s.dialect == Postgres {
		return numbered(q.String()), args
	}
	return q.String(), args
}

// incrBatchLocked runs the upsert on MySQL, which cannot return the rows
// it wrote, and then reads the counters back in the same transaction,
// while the upsert's row locks keep other writers out, so the values read
// are the ones this batch left.
func (s *Store) incrBatchLocked(ctx context.Context, stmt string, args []any, keys []string) (map[string]store.CounterValue, error) {
	sel := "SELECT k, n, reset_at FROM " + s.prefix + "counters WHERE k IN (?" + strings.Repeat(", ?", len(keys)-1) + ")"
	selArgs := make([]any, len(keys))
	for i, k := range keys {
		selArgs[i] = k
	}
	final := make(map[string]store.CounterValue, len(keys))
	err := s.tx(ctx, "incr batch", func(tx *sql.Tx) error {
		clear(final) // what a failed attempt read before it was retried
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, sel, selArgs...)
		if err != nil {
			return err
		}
		return scanCounters(rows, final)
	})
	return final, err
}

// incrBatchReturning runs the upsert on PostgreSQL or SQLite, whose
// RETURNING clause gives each counter's value as the statement left it.
func (s *Store) incrBatchReturning(ctx context.Context, stmt string, args []any, keys []string) (map[string]store.CounterValue, error) {
	final := make(map[string]store.CounterValue, len(keys))
	err := s.do(ctx, "incr batch", func() error {
		clear(final) // what a failed attempt read before it was retried
		rows, err := s.db.QueryContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		return scanCounters(rows, final)
	})
	return final, err
}

// scanCounters reads rows of (k, n, reset_at) into final, and closes rows.
func scanCounters(rows *sql.Rows, final map[string]store.CounterValue) error {
	defer rows.Close()
	for rows.Next() {
		var k string
		var n, reset int64
		if err := rows.Scan(&k, &n, &reset); err != nil {
			return err
		}
		final[k] = store.CounterValue{N: n, ResetAt: timeMicro(reset)}
	}
	return rows.Err()
}

// spreadCounts returns the result of each increment of incrs, in order.
// A key incremented m times ended at final's count N, so its increments
// get the m consecutive counts up to N, in the order they were asked.
func spreadCounts(incrs []store.CounterIncr, byKey map[string]*batchIncr, final map[string]store.CounterValue) ([]store.CounterValue, error) {
	out := make([]store.CounterValue, len(incrs))
	seen := make(map[string]int64, len(byKey))
	for i, in := range incrs {
		v, ok := final[in.Key]
		if !ok {
			return nil, fmt.Errorf("sqlstore: incr batch: counter %d missing from the result", i)
		}
		a := byKey[in.Key]
		out[i] = store.CounterValue{N: v.N - a.m + 1 + seen[in.Key], ResetAt: v.ResetAt}
		seen[in.Key]++
	}
	return out, nil
}
