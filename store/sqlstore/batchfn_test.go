package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// TestBatchFunctionUsed: on PostgreSQL a batch with a write, or of more
// than one read, is one call of the batch function, and a single read is
// its own statement: without the function the first fail and the second
// still works.
func TestBatchFunctionUsed(t *testing.T) {
	ctx := context.Background()
	db := openPostgres(t)
	s := migrated(t, db, sqlstore.Postgres, nil)
	require.NoError(t, s.RunBatch(ctx, []store.Op{{Kind: store.OpResetCounter, Key: "c"}}))
	_, err := db.ExecContext(ctx, `DROP FUNCTION `+s.TablePrefix()+`run_batch(JSONB, BIGINT)`)
	require.NoError(t, err)

	err = s.RunBatch(ctx, []store.Op{{Kind: store.OpResetCounter, Key: "c"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run_batch")
	err = s.RunBatch(ctx, []store.Op{{Kind: store.OpPeek, Key: "a"}, {Kind: store.OpGetState, Key: "b"}})
	require.Error(t, err, "two reads are one call too")
	require.NoError(t, s.RunBatch(ctx, []store.Op{{Kind: store.OpPeek, Key: "a"}}))
}

// TestBatchFunctionMatchesStatements runs the same random batches on two
// sets of tables, one through PostgreSQL's batch function and one
// statement by statement, on one clock: every result and every row must
// be the same. The batches mix every kind of operation over a few keys,
// with bounded increments of every form (checks, counted refusals, steps,
// conditions), codes right, wrong, spent and expired, and the clock moves
// across windows between them.
func TestBatchFunctionMatchesStatements(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	fn := migrated(t, openPostgres(t), sqlstore.Postgres, clock.Now)
	st := migrated(t, openPostgres(t), sqlstore.Postgres, clock.Now)
	st.UseStatementBatches()
	matchBatches(t, st, fn, clock)
}

// TestPipelineMatchesStatements is TestBatchFunctionMatchesStatements on
// MySQL, for the transactions whose statements go in as few requests as
// their results allow (multiStatements) against those sent one by one.
func TestPipelineMatchesStatements(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	pipe := migrated(t, openMySQL(t), sqlstore.MySQL, clock.Now)
	st := migrated(t, openMySQL(t), sqlstore.MySQL, clock.Now)
	st.UseStatementBatches()
	require.True(t, pipe.Pipelines(ctx), "the test pool takes several statements in one request")
	require.False(t, st.Pipelines(ctx))
	matchBatches(t, st, pipe, clock)
}

// TestPipelineReadBackMatchesStatements is TestPipelineMatchesStatements
// with the pipelined store reading back what its upserts locked and
// marked, as on MySQL, whose upserts return no rows: there a code's
// locking read follows the counters' locking read in its request.
func TestPipelineReadBackMatchesStatements(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	pipe := migrated(t, openMySQL(t), sqlstore.MySQL, clock.Now)
	pipe.UseReadBack()
	st := migrated(t, openMySQL(t), sqlstore.MySQL, clock.Now)
	st.UseStatementBatches()
	require.True(t, pipe.Pipelines(ctx))
	require.False(t, pipe.Returning(ctx))
	matchBatches(t, st, pipe, clock)
}

// matchBatches runs the same 600 random batches on want and got, which
// share clock, and requires the same results and the same rows of every
// table the batches write after each.
func matchBatches(t *testing.T, want, got *sqlstore.Store, clock *storetest.Clock) {
	t.Helper()
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TWOFACTOR_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (TWOFACTOR_SEED runs it again)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, s := range []*sqlstore.Store{want, got} {
		for u := range 2 {
			for id := range 2 {
				require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: fmt.Sprint("u", u), ID: fmt.Sprint("e", id),
					Method: "totp", Label: "Phone ✓", Data: []byte{0, byte(id), 0xff}, CreatedAt: clock.Now().Add(-time.Duration(id) * time.Second)}))
			}
		}
		require.NoError(t, s.PutState(ctx, "s0", []byte("v"), clock.Now().Add(time.Minute)))
		require.NoError(t, s.PutState(ctx, "s1", []byte{}, time.Time{}))
	}
	statuses, skipped, raised := map[store.CodeStatus]int{}, 0, map[bool]int{}
	for round := range 600 {
		ops := randomBatch(rng, clock.Now())
		a, b := cloneOps(ops), cloneOps(ops)
		errA, errB := got.RunBatch(ctx, a), want.RunBatch(ctx, b)
		require.NoError(t, errA, "round %d", round)
		require.NoError(t, errB, "round %d", round)
		require.Equal(t, b, a, "round %d: the results (actual) against the statements' (expected)", round)
		for _, op := range b {
			if op.Kind == store.OpConsumeCode && !op.Skipped {
				statuses[op.Status]++
			}
			if op.Kind == store.OpAdvance && !op.Skipped {
				raised[op.First]++
			}
			if op.Skipped {
				skipped++
			}
		}
		for _, table := range []string{"counters", "codes", "ledger", "enrollments"} {
			require.Equal(t, tableRows(t, want, table), tableRows(t, got, table), "round %d: %s", round, table)
		}
		// On a grid of a quarter second, as the windows, the steps and
		// the expiries are, so that bounds are met exactly.
		clock.Advance(time.Duration(rng.IntN(7)) * 250 * time.Millisecond)
	}
	t.Logf("codes: %v; advances that raised their mark: %v; operations skipped: %d", statuses, raised, skipped)
	assert.Positive(t, raised[true], "no advance raised its mark")
	assert.Positive(t, raised[false], "every advance raised its mark")
	for c := store.CodeNotFound; c <= store.CodeExhausted; c++ {
		assert.Positive(t, statuses[c], "the batches reached no %s code", c)
	}
	assert.Positive(t, skipped, "the batches skipped no operation")
}

// randomBatch returns one to six operations over a few keys, some of
// them conditional on an earlier increment, consumption or advance.
func randomBatch(rng *rand.Rand, now time.Time) []store.Op {
	keys := []string{"a", "b", "c", "d"}
	var ops []store.Op
	lastCond := 0
	for range 1 + rng.IntN(6) {
		op := store.Op{}
		switch rng.IntN(16) {
		case 0:
			op = store.Op{Kind: store.OpPeek, Key: keys[rng.IntN(4)]}
		case 1:
			op = store.Op{Kind: store.OpGetState, Key: fmt.Sprint("s", rng.IntN(3))}
		case 2:
			op = store.Op{Kind: store.OpListEnrollments, UserID: fmt.Sprint("u", rng.IntN(3))}
		case 3, 4:
			op = store.Op{Kind: store.OpIncrBelow, Incrs: randomIncrs(rng, keys)}
		case 5, 13:
			op = store.Op{Kind: store.OpMarkUsed, Key: fmt.Sprint("m", rng.IntN(2)), Time: now.Add(time.Duration(rng.IntN(4)) * 250 * time.Millisecond)}
			if rng.IntN(4) == 0 {
				// A mark that never expires, on a key of its own: on m0 and
				// m1 it would refuse every later mark, and the marks that
				// expire, exactly at a later batch's time among them,
				// would go untested.
				op.Key, op.Time = "m-never", time.Time{}
			}
		case 6:
			op = store.Op{Kind: store.OpResetCounter, Key: keys[rng.IntN(4)]}
		case 14, 15:
			// Steps around one another on two keys, so that marks are
			// raised, refused and expire.
			op = store.Op{Kind: store.OpAdvance, Key: fmt.Sprint("v", rng.IntN(2)), Mark: int64(rng.IntN(6)) << (32 * rng.IntN(2)),
				Time: now.Add(time.Duration(rng.IntN(4)) * 250 * time.Millisecond)}
		case 7, 10, 11:
			op = store.Op{Kind: store.OpConsumeCode, Group: "g", Key: fmt.Sprint("k", rng.IntN(2)), Hash: []byte{byte(rng.IntN(2))}}
		case 8, 12:
			op = store.PutCodeOp(store.Code{Group: "g", Key: fmt.Sprint("k", rng.IntN(2)), Hash: []byte{byte(rng.IntN(2))},
				ExpiresAt: now.Add(time.Duration(rng.IntN(12)) * 250 * time.Millisecond), MaxAttempts: []int{0, 1, 1, 2}[rng.IntN(4)]})
		default:
			op = store.Op{Kind: store.OpTouchEnrollment, UserID: fmt.Sprint("u", rng.IntN(2)), ID: fmt.Sprint("e", rng.IntN(3)),
				Time: now.Add(-time.Duration(rng.IntN(40)) * 250 * time.Millisecond)} // often older than the last use
		}
		if lastCond > 0 && rng.IntN(2) == 0 {
			op.If = lastCond
		}
		ops = append(ops, op)
		if op.Kind == store.OpIncrBelow || op.Kind == store.OpConsumeCode || op.Kind == store.OpAdvance {
			lastCond = len(ops)
		}
	}
	return ops
}

// randomIncrs returns one to four entries of a bounded increment, on
// distinct keys, with windows and bounds small enough that counters fill
// and end within the test.
func randomIncrs(rng *rand.Rand, keys []string) []store.BoundedIncr {
	var out []store.BoundedIncr
	for _, i := range rng.Perm(len(keys))[:1+rng.IntN(len(keys))] {
		in := store.BoundedIncr{Key: keys[i], Window: time.Duration(1+rng.IntN(32)) * 250 * time.Millisecond, Max: int64(rng.IntN(4)),
			CountRefused: rng.IntN(3) == 0, Check: rng.IntN(4) == 0}
		switch rng.IntN(6) {
		case 0, 1:
			in.Steps = []store.BoundStep{{After: time.Second, Max: in.Max + 1}, {After: 2500 * time.Millisecond, Max: in.Max + 3}}
		case 2: // out of order, and one after twice: the last that applies wins
			in.Steps = []store.BoundStep{{After: 2500 * time.Millisecond, Max: in.Max + 3}, {After: time.Second, Max: in.Max + 1},
				{After: 1500 * time.Millisecond, Max: in.Max + 4}, {After: time.Second, Max: in.Max + 2}}
		}
		out = append(out, in)
	}
	return out
}

func cloneOps(ops []store.Op) []store.Op {
	out := make([]store.Op, len(ops))
	copy(out, ops)
	return out
}

// tableRows returns every row of one of s's tables, as text, in order,
// without MySQL's ledger tokens (random, so never the same in two sets of
// tables).
func tableRows(t *testing.T, s *sqlstore.Store, table string) []string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT * FROM ` + s.TablePrefix() + table)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var row []string
		for i, v := range vals {
			if cols[i] == "tok" {
				continue
			}
			row = append(row, fmt.Sprintf("%s=%q/%v", cols[i], v.String, v.Valid))
		}
		out = append(out, strings.Join(row, " "))
	}
	require.NoError(t, rows.Err())
	sort.Strings(out)
	return out
}
