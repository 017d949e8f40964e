package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

// rowsOf counts the rows of the counters table under key, ended ones too,
// which every read of the store ignores.
func rowsOf(t *testing.T, db *sql.DB, s *sqlstore.Store, key string) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM " + s.TablePrefix() + "counters WHERE k = ?"
	if s.Dialect() == sqlstore.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	require.NoError(t, db.QueryRow(q, key).Scan(&n))
	return n
}

// TestIncrBelowCheckWritesNoRow checks, in the table itself, that a Check
// entry on a missing counter leaves no row, not even an ended one, from
// an admitted call, a refused call that counts a CountRefused entry, and
// a refused call that counts nothing, on its own and in a batch; on
// MySQL an admitted batch leaves it ended, which no read sees and a
// refused call removes.
func TestIncrBelowCheckWritesNoRow(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			s := migrated(t, db, b.dialect, nil)
			ctx := context.Background()
			gate := store.BoundedIncr{Key: "gate", Window: time.Hour, Max: 2, Check: true, CountRefused: true}
			calls := map[string][]store.BoundedIncr{
				"admitted":            {{Key: "sends", Window: time.Minute, Max: 100}, gate},
				"refused, counting":   {{Key: "own", Window: time.Minute, Max: 100, CountRefused: true}, gate, {Key: "never", Window: time.Minute, Max: 0}},
				"refused, counting 0": {gate, {Key: "never", Window: time.Minute, Max: 0}},
			}
			for name, incrs := range calls {
				out, err := s.IncrBelow(ctx, incrs)
				require.NoError(t, err, name)
				assert.False(t, out[slicesIndex(incrs, "gate")].Incremented, name)
				ops := []store.Op{{Kind: store.OpIncrBelow, Incrs: incrs}}
				require.NoError(t, s.RunBatch(ctx, ops), name)
				assert.False(t, ops[0].Bounded[slicesIndex(incrs, "gate")].Incremented, name)
				wantGate := 0
				if b.dialect == sqlstore.MySQL && name == "admitted" {
					wantGate = 1
				}
				assert.Equal(t, wantGate, rowsOf(t, db, s, "gate"), "%s: the check's row", name)
				n, _, err := s.Peek(ctx, "gate")
				require.NoError(t, err)
				assert.Zero(t, n, "%s: the check's count", name)
				assert.Zero(t, rowsOf(t, db, s, "never"), "%s: a full counter's row", name)
			}
			n, _, err := s.Peek(ctx, "sends")
			require.NoError(t, err)
			assert.Equal(t, int64(2), n, "the admitted calls counted")
			n, _, err = s.Peek(ctx, "own")
			require.NoError(t, err)
			assert.Equal(t, int64(2), n, "the CountRefused entries counted")
		})
	}
}

func slicesIndex(incrs []store.BoundedIncr, key string) int {
	for i, in := range incrs {
		if in.Key == key {
			return i
		}
	}
	return -1
}

// TestBatchIsOneTransaction makes the last operation of a batch fail in
// the database (a key PostgreSQL or MySQL refuses): the writes of the
// operations before it are rolled back with it. SQLite accepts every key.
func TestBatchIsOneTransaction(t *testing.T) {
	for _, b := range serverBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t, b.open(t), b.dialect, nil)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			_, _, err := s.Incr(ctx, "c", time.Hour)
			require.NoError(t, err)
			bad := "bad\x00key" // PostgreSQL refuses NUL in text
			if b.dialect == sqlstore.MySQL {
				bad = strings.Repeat("k", 300) // longer than VARBINARY(255)
			}
			err = s.RunBatch(ctx, []store.Op{
				{Kind: store.OpResetCounter, Key: "c"},
				{Kind: store.OpMarkUsed, Key: "m", Time: exp},
				{Kind: store.OpMarkUsed, Key: bad, Time: exp},
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sqlstore: run batch: ")
			if b.dialect != sqlstore.Postgres { // PostgreSQL's batch function fails as a whole
				assert.Contains(t, err.Error(), "(operation 2 of the batch, mark_used)")
			}
			n, _, err := s.Peek(ctx, "c")
			require.NoError(t, err)
			assert.Equal(t, int64(1), n, "the reset of the failed batch was rolled back")
			first, err := s.MarkUsed(ctx, "m", exp)
			require.NoError(t, err)
			assert.True(t, first, "the mark of the failed batch was rolled back")
		})
	}
}

// waitDelete waits until the batch's DELETE on the counters of s is
// running, which it can only finish when it gets the row lock that
// another transaction holds: every operation of the batch before it is
// done. (MariaDB lists the statement, but not its wait, in innodb_trx.)
// On PostgreSQL the batch is one call of its function, which the server
// lists as waiting for a lock: its DELETE, as nothing before it locks.
func waitDelete(t *testing.T, db *sql.DB, s *sqlstore.Store) {
	t.Helper()
	q := "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND (query LIKE $1 OR (query LIKE $2 AND wait_event_type = 'Lock'))"
	args := []any{"DELETE FROM " + s.TablePrefix() + "counters %", "SELECT " + s.TablePrefix() + "run_batch(%"}
	if s.Dialect() == sqlstore.MySQL {
		q, args = "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE ?", args[:1]
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		require.NoError(t, db.QueryRow(q, args...).Scan(&n))
		if n > 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "the batch's DELETE never ran")
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatchReadsLatest stops a batch between its operations (its
// ResetCounter waits for a row lock another transaction holds) while
// another instance changes a counter the batch read before, and marks a
// key the batch marks after: the batch's later read sees the new count,
// and its MarkUsed loses, as the methods run in that order would. On
// MySQL, whose REPEATABLE READ would show the later reads the snapshot of
// the first, the batch runs in READ COMMITTED.
func TestBatchReadsLatest(t *testing.T) {
	for _, b := range serverBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			s := migrated(t, db, b.dialect, nil)
			db2 := samePlace(t, b, db)
			other, err := sqlstore.New(db2, sqlstore.Options{Dialect: b.dialect, TablePrefix: s.TablePrefix()})
			require.NoError(t, err)
			_, _, err = s.Incr(ctx, "lock", time.Hour)
			require.NoError(t, err)
			require.NoError(t, s.PutState(ctx, "st", []byte("v1"), time.Now().Add(time.Hour)))

			holder, err := db2.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = holder.Rollback() }()
			var n int64
			require.NoError(t, holder.QueryRowContext(ctx, "SELECT n FROM "+s.TablePrefix()+"counters WHERE k = 'lock' FOR UPDATE").Scan(&n))

			exp := time.Now().Add(time.Hour)
			ops := []store.Op{
				{Kind: store.OpPeek, Key: "a"},
				{Kind: store.OpGetState, Key: "st"},
				{Kind: store.OpResetCounter, Key: "lock"},
				{Kind: store.OpPeek, Key: "a"},
				{Kind: store.OpGetState, Key: "st"},
				{Kind: store.OpMarkUsed, Key: "m", Time: exp},
			}
			done := make(chan error, 1)
			go func() { done <- s.RunBatch(ctx, ops) }()
			waitDelete(t, db2, s)
			_, _, err = other.Incr(ctx, "a", time.Hour)
			require.NoError(t, err)
			require.NoError(t, other.PutState(ctx, "st", []byte("v2"), time.Now().Add(time.Hour)))
			first, err := other.MarkUsed(ctx, "m", exp)
			require.NoError(t, err)
			require.True(t, first)
			require.NoError(t, holder.Rollback())

			require.NoError(t, <-done)
			assert.Zero(t, ops[0].Counter.N, "the first read, before the other instance counted")
			assert.Equal(t, []byte("v1"), ops[1].Value)
			assert.Equal(t, int64(1), ops[3].Counter.N, "a read after the wait sees the other instance's count")
			assert.Equal(t, []byte("v2"), ops[4].Value, "a read after the wait sees the other instance's state")
			assert.False(t, ops[5].First, "the other instance marked the key first")
			n, _, err = s.Peek(ctx, "lock")
			require.NoError(t, err)
			assert.Zero(t, n, "the batch's reset")
		})
	}
}

// TestBatchDeadlockRetried races batches that lock two counters in
// opposite orders, which deadlock on the servers: the database rolls one
// back, the store runs it again, and in the end every batch counted each
// counter exactly once. PostgreSQL looks for deadlocks after a second of
// waiting (deadlock_timeout), so it runs fewer batches.
func TestBatchDeadlockRetried(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t, b.open(t), b.dialect, nil)
			ctx := context.Background()
			workers, each := 4, 8
			if b.dialect == sqlstore.Postgres {
				workers, each = 2, 2
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Go(func() {
					first, second := "x", "y"
					if w%2 == 1 {
						first, second = second, first
					}
					for range each {
						ops := []store.Op{
							{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: first, Window: time.Hour, Max: 1 << 40}}},
							{Kind: store.OpPeek, Key: "z"},
							{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: second, Window: time.Hour, Max: 1 << 40}}},
						}
						err := s.RunBatch(ctx, ops)
						if err == nil && (!ops[0].Bounded[0].Incremented || !ops[2].Bounded[0].Incremented) {
							err = fmt.Errorf("not counted: %+v %+v", ops[0].Bounded, ops[2].Bounded)
						}
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, k := range []string{"x", "y"} {
				n, _, err := s.Peek(ctx, k)
				require.NoError(t, err)
				assert.Equal(t, int64(workers*each), n, "counter %s", k)
			}
		})
	}
}

func TestNeedsReadCommitted(t *testing.T) {
	const (
		peek  = store.OpPeek
		get   = store.OpGetState
		list  = store.OpListEnrollments
		incr  = store.OpIncrBelow
		mark  = store.OpMarkUsed
		reset = store.OpResetCounter
		touch = store.OpTouchEnrollment
	)
	for _, tt := range []struct {
		kinds []store.OpKind
		want  bool
	}{
		{nil, false},
		{[]store.OpKind{peek, list, get}, false},    // one snapshot, before any write
		{[]store.OpKind{reset, touch, incr}, false}, // no plain read
		{[]store.OpKind{mark}, false},               // its read follows its own write only
		{[]store.OpKind{incr, mark}, false},         // the raceBatch of the suite
		{[]store.OpKind{reset, peek, get}, false},   // the snapshot is taken after the write
		{[]store.OpKind{peek, list, incr}, false},   // writes after the reads
		{[]store.OpKind{mark, peek}, false},         // the snapshot of mark's read, no write since
		{[]store.OpKind{peek, mark}, true},          // mark's read after its write after a read
		{[]store.OpKind{get, reset, peek}, true},    // a read after a write after a read
		{[]store.OpKind{list, touch, incr, get}, true},
		{[]store.OpKind{mark, reset, get}, true},
		{[]store.OpKind{mark, mark}, true},
	} {
		ops := make([]store.Op, len(tt.kinds))
		for i, k := range tt.kinds {
			ops[i].Kind = k
		}
		assert.Equal(t, tt.want, sqlstore.NeedsReadCommitted(ops), "%v", tt.kinds)
	}
}
