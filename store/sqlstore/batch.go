package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/twofactorkit/twofactor/store"
)

var _ store.BatchCounters = (*Store)(nil)

// IncrBatch implements store.BatchCounters: every counter of the batch is
// incremented by one multi-row upsert (on MySQL followed by a read of the
// locked rows in the same transaction). A key named n times in the batch is
// incremented by n at once, and its results are the n consecutive counts,
// so each is still seen by exactly one caller. Keys are written in sorted
// order so that concurrent batches lock rows in the same order.
func (s *Store) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	now := s.now()
	nowM := now.UnixMicro()
	type agg struct{ m, reset int64 }
	byKey := make(map[string]*agg, len(incrs))
	keys := make([]string, 0, len(incrs))
	for _, in := range incrs {
		a := byKey[in.Key]
		if a == nil {
			a = &agg{reset: now.Add(in.Window).UnixMicro()}
			byKey[in.Key] = a
			keys = append(keys, in.Key)
		}
		a.m++
	}
	sort.Strings(keys)

	table := s.prefix + "counters"
	var q strings.Builder
	args := make([]any, 0, 3*len(keys)+2)
	if s.dialect == MySQL {
		q.WriteString("INSERT INTO " + table + " (k, n, reset_at) VALUES ")
	} else {
		q.WriteString("INSERT INTO " + table + " AS c (k, n, reset_at) VALUES ")
	}
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?)")
		args = append(args, k, byKey[k].m, byKey[k].reset)
	}
	args = append(args, nowM, nowM)

	final := make(map[string]store.CounterValue, len(keys))
	scan := func(rows *sql.Rows) error {
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
	var err error
	if s.dialect == MySQL {
		q.WriteString(" ON DUPLICATE KEY UPDATE n = IF(reset_at <= ?, VALUES(n), n + VALUES(n)), reset_at = IF(reset_at <= ?, VALUES(reset_at), reset_at)")
		sel := "SELECT k, n, reset_at FROM " + table + " WHERE k IN (?" + strings.Repeat(", ?", len(keys)-1) + ")"
		selArgs := make([]any, len(keys))
		for i, k := range keys {
			selArgs[i] = k
		}
		err = s.tx(ctx, "incr batch", func(tx *sql.Tx) error {
			clear(final)
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, sel, selArgs...)
			if err != nil {
				return err
			}
			return scan(rows)
		})
	} else {
		q.WriteString(" ON CONFLICT (k) DO UPDATE SET n = CASE WHEN c.reset_at <= ? THEN excluded.n ELSE c.n + excluded.n END, " +
			"reset_at = CASE WHEN c.reset_at <= ? THEN excluded.reset_at ELSE c.reset_at END RETURNING k, n, reset_at")
		stmt := q.String()
		if s.dialect == Postgres {
			stmt = numbered(stmt)
		}
		err = s.do(ctx, "incr batch", func() error {
			clear(final)
			rows, err := s.db.QueryContext(ctx, stmt, args...)
			if err != nil {
				return err
			}
			return scan(rows)
		})
	}
	if err != nil {
		return nil, err
	}
	out := make([]store.CounterValue, len(incrs))
	seen := make(map[string]int64, len(keys))
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
