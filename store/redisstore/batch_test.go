package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// loadScripts caches every script on the server behind rdb.
func loadScripts(t testing.TB, rdb redis.Scripter) {
	t.Helper()
	for _, sc := range []*redis.Script{putCode, consumeCode, deleteCode, incr, incrBelow, resetGated, decr, advance,
		indexDevice, unindex, indexOwned, deleteOwned, sweep, touchEnrollment, touchDevice} {
		require.NoError(t, sc.Load(context.Background(), rdb).Err())
	}
}

// TestRunBatchRoundTrips pins the requests of RunBatch: one transaction
// for every operation on a *redis.Client; on a client that splits by hash
// slot, for the operations that go at once, a transaction per slot that
// has several commands and one plain pipeline for the rest, all sent at
// once (one round trip's time); and for a batch whose IncrBelow spans
// slots, after those, that IncrBelow's own (two when admitted), then, when
// an operation after it names one of its counters, one more pipeline.
func TestRunBatchRoundTrips(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	rs, ring := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	loadScripts(t, rdb)
	var calls, ringCalls atomic.Int64
	rdb.AddHook(countHook{&calls})
	ring.AddHook(countHook{&ringCalls})
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "totp", CreatedAt: clk.Now()}))
	in := func(key string) store.BoundedIncr { return store.BoundedIncr{Key: key, Window: time.Minute, Max: 100} }
	all := func(incrs ...store.BoundedIncr) []store.Op {
		return []store.Op{
			{Kind: store.OpPeek, Key: "{u:1}fail"},
			{Kind: store.OpGetState, Key: "st"},
			{Kind: store.OpListEnrollments, UserID: "u1"},
			{Kind: store.OpIncrBelow, Incrs: incrs},
			{Kind: store.OpMarkUsed, Key: "m", Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpResetCounter, Key: "other"},
			{Kind: store.OpTouchEnrollment, UserID: "u1", ID: "e1", Time: clk.Now()},
		}
	}
	tests := []struct {
		name string
		s    *Store
		n    *atomic.Int64
		want int64
		ops  []store.Op
	}{
		{"client", s, &calls, 1, all(in("a"), in("b"))},
		{"client, one operation", s, &calls, 1, []store.Op{{Kind: store.OpPeek, Key: "a"}}},
		{"client, nothing to send", s, &calls, 0, []store.Op{{Kind: store.OpIncrBelow}, {Kind: store.OpTouchEnrollment, UserID: "u1", ID: "e1"}}},
		// {u:1}: the Peek and the IncrBelow; {u:u1}: the enrollments'
		// read and touch; alone in their slot: the rest.
		{"split, one slot", rs, &ringCalls, 3, all(in("{u:1}a"), in("{u:1}b"))},
		{"split, one slot, each command alone in its slot", rs, &ringCalls, 1, []store.Op{
			{Kind: store.OpPeek, Key: "{u:1}fail"},
			{Kind: store.OpGetState, Key: "st"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{in("{u:2}a"), in("{u:2}b")}},
		}},
		{"split, one slot, one slot of several commands", rs, &ringCalls, 1, []store.Op{
			{Kind: store.OpPeek, Key: "{u:1}fail"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{in("{u:1}a"), in("{u:1}b")}},
		}},
		{"split, two slots", rs, &ringCalls, 4, all(in("{u:1}a"), in("{u:2}b"))},
		{"split, two slots, then a Peek of one", rs, &ringCalls, 5,
			append(all(in("{u:1}a"), in("{u:2}b")), store.Op{Kind: store.OpPeek, Key: "{u:2}b"})},
	}
	for _, tt := range tests {
		before := tt.n.Load()
		require.NoError(t, tt.s.RunBatch(ctx, tt.ops), tt.name)
		assert.Equal(t, tt.want, tt.n.Load()-before, "%s: requests", tt.name)
	}
}

// TestRunBatchOrder: operations on the same keys see each other's writes
// in the order of the batch, on a *redis.Client and on the split path,
// where an IncrBelow across slots runs on its own and the operations on
// its counters after it wait for it.
func TestRunBatchOrder(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, _ := newStore(t, clk.Now)
	rs, _ := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	for name, st := range map[string]*Store{"client": s, "split": rs} {
		p := name + ":"
		for range 2 {
			_, _, err := st.Incr(ctx, p+"a", time.Hour)
			require.NoError(t, err)
		}
		in := func(key string) store.BoundedIncr {
			return store.BoundedIncr{Key: p + key, Window: time.Minute, Max: 10}
		}
		ops := []store.Op{
			{Kind: store.OpPeek, Key: p + "a"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{in("a"), in("b")}},
			{Kind: store.OpPeek, Key: p + "a"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{in("b")}},
			{Kind: store.OpResetCounter, Key: p + "b"},
			{Kind: store.OpPeek, Key: p + "b"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{in("a"), in("c")}},
			{Kind: store.OpMarkUsed, Key: p + "m", Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpPeek, Key: p + "c"},
		}
		require.NoError(t, st.RunBatch(ctx, ops), name)
		assert.Equal(t, int64(2), ops[0].Counter.N, "%s: a Peek before the IncrBelow", name)
		assert.Equal(t, []int64{3, 1}, []int64{ops[1].Bounded[0].N, ops[1].Bounded[1].N}, name)
		assert.Equal(t, int64(3), ops[2].Counter.N, "%s: a Peek after the IncrBelow", name)
		assert.Equal(t, int64(2), ops[3].Bounded[0].N, "%s: an IncrBelow after the IncrBelow", name)
		assert.Zero(t, ops[5].Counter.N, "%s: a Peek after a ResetCounter", name)
		assert.Equal(t, []int64{4, 1}, []int64{ops[6].Bounded[0].N, ops[6].Bounded[1].N}, name)
		assert.True(t, ops[7].First, name)
		assert.Equal(t, int64(1), ops[8].Counter.N, "%s: a Peek after the second IncrBelow", name)
	}
}

// TestRunBatchLoadsScript: a batch sent before its scripts are cached on
// the server (first use, SCRIPT FLUSH) loads them in one more round trip,
// runs each script once, and keeps the order of the batch: the reads and
// the DEL that came after a script refused with NOSCRIPT come after it.
func TestRunBatchLoadsScript(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStoreOn(t, scriptClient(t), clk.Now)
	ctx := context.Background()
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp", CreatedAt: clk.Now()}))
	var calls atomic.Int64
	rdb.AddHook(countHook{&calls})
	used := clk.Now().Add(time.Second)
	for round := range 2 {
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		require.NoError(t, s.ResetCounter(ctx, "c"))
		before := calls.Load()
		ops := []store.Op{
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 5}}},
			{Kind: store.OpPeek, Key: "c"},
			{Kind: store.OpMarkUsed, Key: "m", Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpMarkUsed, Key: "m", Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpTouchEnrollment, UserID: "u", ID: "e", Time: used},
			{Kind: store.OpListEnrollments, UserID: "u"},
			{Kind: store.OpResetCounter, Key: "c"},
			{Kind: store.OpPeek, Key: "c"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 5}}},
		}
		require.NoError(t, s.RunBatch(ctx, ops))
		assert.Equal(t, int64(2), calls.Load()-before, "round %d: the pipeline, and EVAL of what NOSCRIPT refused", round)
		assert.Equal(t, int64(1), ops[0].Bounded[0].N, "round %d", round)
		assert.Equal(t, int64(1), ops[1].Counter.N, "round %d: a Peek after the IncrBelow", round)
		assert.Equal(t, round == 0, ops[2].First, "round %d", round)
		assert.False(t, ops[3].First, "round %d: the second mark", round)
		require.Len(t, ops[5].Records, 1)
		assert.True(t, used.Equal(ops[5].Records[0].LastUsedAt), "round %d: a list after the touch", round)
		assert.Zero(t, ops[7].Counter.N, "round %d: a Peek after the ResetCounter", round)
		assert.Equal(t, int64(1), ops[8].Bounded[0].N, "round %d: an IncrBelow after the ResetCounter", round)
		n, _, err := s.Peek(ctx, "c")
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "round %d: no increment ran twice", round)
	}
}

// TestRunBatchInvalidInput: a batch with an invalid key or id, or one
// that store.CheckOps refuses, is an error wrapping ErrInvalidInput, and
// sends nothing.
func TestRunBatchInvalidInput(t *testing.T) {
	s, _, clk, calls := countedStore(t)
	ctx := context.Background()
	long := strings.Repeat("x", maxID+1)
	mark := store.Op{Kind: store.OpMarkUsed, Key: "m", Time: clk.Now().Add(time.Minute)}
	for name, bad := range map[string]store.Op{
		"unknown kind":           {Kind: 99, Key: "k"},
		"Peek empty key":         {Kind: store.OpPeek},
		"GetState long key":      {Kind: store.OpGetState, Key: long},
		"ListEnrollments no one": {Kind: store.OpListEnrollments},
		"IncrBelow empty key":    {Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "", Window: time.Minute, Max: 1}}},
		"IncrBelow key twice": {Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{
			{Key: "a", Window: time.Minute, Max: 1}, {Key: "a", Window: time.Minute, Max: 1}}},
		"MarkUsed empty key":       {Kind: store.OpMarkUsed},
		"ResetCounter long key":    {Kind: store.OpResetCounter, Key: long},
		"TouchEnrollment no id":    {Kind: store.OpTouchEnrollment, UserID: "u"},
		"TouchEnrollment bad time": {Kind: store.OpTouchEnrollment, UserID: "u", ID: "e", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		err := s.RunBatch(ctx, []store.Op{mark, bad})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, name)
		assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
	}
	assert.Zero(t, calls.Load(), "no command was sent")
}

// TestIncrBelowCheckSplit: on the split path, a Check entry is neither
// counted when the call is refused (CountRefused or not), nor when it is
// admitted, nor taken back when a slot refuses after the check.
func TestIncrBelowCheckSplit(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	rs, ring := newRingStore(t, s, clk.Now)
	ctx := context.Background()
	loadScripts(t, rdb)
	for range 2 {
		_, _, err := s.Incr(ctx, "gate", time.Hour)
		require.NoError(t, err)
	}
	gate := store.BoundedIncr{Key: "gate", Window: time.Hour, Max: 5, Check: true, CountRefused: true}
	own := store.BoundedIncr{Key: "own", Window: time.Minute, Max: 10, CountRefused: true}
	peek := func(key string) int64 {
		n, _, err := s.Peek(ctx, key)
		require.NoError(t, err)
		return n
	}

	out, err := rs.IncrBelow(ctx, []store.BoundedIncr{{Key: "a", Window: time.Minute, Max: 10}, gate})
	require.NoError(t, err)
	assert.Equal(t, -1, store.FirstFull(out), "admitted")
	assert.Equal(t, store.BoundedValue{N: 2, ResetAt: time.UnixMilli(clk.Now().Add(time.Hour).UnixMilli()), Max: 5}, out[1], "the check, read")

	_, err = s.IncrBelow(ctx, []store.BoundedIncr{{Key: "full", Window: time.Minute, Max: 1}})
	require.NoError(t, err)
	out, err = rs.IncrBelow(ctx, []store.BoundedIncr{{Key: "full", Window: time.Minute, Max: 1}, gate, own})
	require.NoError(t, err)
	assert.Equal(t, 0, store.FirstFull(out), "refused")
	assert.False(t, out[1].Incremented, "a refused call does not count a check, even with CountRefused")
	assert.True(t, out[2].Incremented)

	var filled atomic.Bool
	ring.AddHook(fillHook{after: func() {
		if filled.CompareAndSwap(false, true) {
			require.NoError(t, rdb.HSet(ctx, s.counterKey("tight"), "n", 3, "r", clk.Now().Add(time.Hour).UnixMilli()).Err())
		}
	}})
	out, err = rs.IncrBelow(ctx, []store.BoundedIncr{{Key: "loose", Window: time.Minute, Max: 10}, {Key: "tight", Window: time.Minute, Max: 3}, gate})
	require.NoError(t, err)
	require.True(t, filled.Load())
	assert.Equal(t, 1, store.FirstFull(out), "refused after the check")
	assert.False(t, out[2].Incremented)
	assert.Equal(t, int64(2), out[2].N)
	for key, want := range map[string]int64{"gate": 2, "loose": 0, "own": 1} {
		assert.Equal(t, want, peek(key), key)
	}
}

// TestRunBatchConditional: on one server a code's consumption that is
// conditional on a bounded increment goes in the increment's pipeline,
// one round trip for the reads, the count and the consumption; it runs
// exactly once whichever of the two scripts the server had to load
// (NOSCRIPT), even when a script between them had to be loaded; and it
// leaves no gate behind.
func TestRunBatchConditional(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	count := store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 100}}}
	for _, tc := range []struct {
		name   string
		load   func() // what the server has cached when the batch comes
		middle bool   // a MarkUsed between the count and the consumption
		trips  int64
	}{
		{"every script cached", func() {
			_, err := s.ConsumeCode(ctx, "g", "none", []byte("h"))
			require.NoError(t, err)
			_, err = s.IncrBelow(ctx, []store.BoundedIncr{{Key: "other", Window: time.Minute, Max: 1}})
			require.NoError(t, err)
			_, err = s.MarkUsed(ctx, "m-load", clk.Now().Add(time.Minute))
			require.NoError(t, err)
		}, true, 1},
		{"none cached", func() { require.NoError(t, rdb.ScriptFlush(ctx).Err()) }, false, 2},
		{"the consumption's only", func() {
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			_, err := s.ConsumeCode(ctx, "g", "none", []byte("h"))
			require.NoError(t, err)
		}, false, 2},
		{"the count's only", func() {
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			_, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: "other", Window: time.Minute, Max: 1}})
			require.NoError(t, err)
		}, false, 2},
		{"not the script between them", func() {
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			_, err := s.ConsumeCode(ctx, "g", "none", []byte("h"))
			require.NoError(t, err)
			_, err = s.IncrBelow(ctx, []store.BoundedIncr{{Key: "other", Window: time.Minute, Max: 1}})
			require.NoError(t, err)
		}, true, 2},
	} {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("right"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
		require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "w", Hash: []byte("right"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
		tc.load()
		before := calls.Load()
		ops := []store.Op{{Kind: store.OpGetState, Key: "st"}, count}
		if tc.middle {
			ops = append(ops, store.Op{Kind: store.OpMarkUsed, Key: "m-" + tc.name, Time: clk.Now().Add(time.Minute)})
		}
		ops = append(ops, store.Op{Kind: store.OpConsumeCode, Group: "g", Key: "w", Hash: []byte("wrong"), If: 2})
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, tc.trips, calls.Load()-before, "%s: round trips", tc.name)
		last := ops[len(ops)-1]
		assert.False(t, last.Skipped, tc.name)
		assert.Equal(t, store.CodeMismatch, last.Status, tc.name)

		// The wrong answer used exactly one of the code's five attempts.
		for i := range 4 {
			st, err := s.ConsumeCode(ctx, "g", "w", []byte("wrong"))
			require.NoError(t, err)
			require.Equal(t, store.CodeMismatch, st, "%s: attempt %d", tc.name, i+2)
		}
		st, err := s.ConsumeCode(ctx, "g", "w", []byte("right"))
		require.NoError(t, err)
		assert.Equal(t, store.CodeExhausted, st, "%s: the conditional consumption ran once", tc.name)

		ops = []store.Op{count, {Kind: store.OpConsumeCode, Group: "g", Key: "k", Hash: []byte("right"), If: 1}}
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, store.CodeMatched, ops[1].Status, tc.name)
	}

	assertNoGates(t, s, rdb, "gates left behind")
}

// TestRunBatchConditionalRefused: a count that refuses the call skips the
// consumption in the same round trip, and leaves the code and no gate.
func TestRunBatchConditionalRefused(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("right"), ExpiresAt: clk.Now().Add(time.Minute)}))
	before := calls.Load()
	ops := []store.Op{
		{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "full", Window: time.Minute, Max: 0}}},
		{Kind: store.OpConsumeCode, Group: "g", Key: "k", Hash: []byte("right"), If: 1},
	}
	require.NoError(t, s.RunBatch(ctx, ops))
	assert.Equal(t, int64(1), calls.Load()-before, "one round trip")
	assert.True(t, ops[1].Skipped)
	st, err := s.ConsumeCode(ctx, "g", "k", []byte("right"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeMatched, st, "the skipped consumption left the code")

	assertNoGates(t, s, rdb, "gates left behind")
}

// countCase is a batch of a count and a code's check on it: which
// scripts the server has cached, the answer, the count's bound and the
// round trips the batch takes.
type countCase struct {
	name  string
	load  func()
	code  string // the answer: "right" matches
	max   int64  // the count's bound: 0 refuses it
	trips int64
}

// TestRunBatchConditionalChain: on one server, the operations conditional
// on a code's consumption (the challenge's end, the reset of the run of
// wrong answers, the last use) go in the pipeline of the consumption and
// of the count it is conditional on: a code's check with what follows a
// match is one round trip. Each runs exactly once on a match whichever
// scripts the server had to load (NOSCRIPT), none runs on a wrong code or
// a refused count, and no gate is left behind.
func TestRunBatchConditionalChain(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "email", CreatedAt: clk.Now()}))
	load := scriptLoader(t, rdb)
	all := []*redis.Script{incrBelow, consumeCode, resetGated, touchEnrollment}
	for n, tc := range []countCase{
		{"every script cached", load(all...), "right", 100, 1},
		{"none cached", load(), "right", 100, 2},
		{"not the consumption's", load(incrBelow, resetGated, touchEnrollment), "right", 100, 2},
		{"not the counts'", load(consumeCode, resetGated, touchEnrollment), "right", 100, 2},
		{"not the reset's", load(incrBelow, consumeCode, touchEnrollment), "right", 100, 2},
		{"not the last use's", load(incrBelow, consumeCode, resetGated), "right", 100, 2},
		{"a wrong code", load(all...), "wrong", 100, 1},
		{"a refused count", load(all...), "right", 0, 1},
	} {
		key, end, fail := "k"+strconv.Itoa(n), "done"+strconv.Itoa(n), "fail"+strconv.Itoa(n)
		require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: key, Hash: []byte("right"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
		_, _, err := s.Incr(ctx, fail, time.Minute)
		require.NoError(t, err)
		clk.Advance(time.Second)
		used := clk.Now()
		tc.load()
		before := calls.Load()
		ops := []store.Op{
			{Kind: store.OpGetState, Key: "st"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c" + key, Window: time.Minute, Max: tc.max}}},
			{Kind: store.OpConsumeCode, Group: "g", Key: key, Hash: []byte(tc.code), If: 2},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: end, Window: time.Minute, Max: 1}}, If: 3},
			{Kind: store.OpResetCounter, Key: fail, If: 3},
			{Kind: store.OpTouchEnrollment, UserID: "u1", ID: "e1", Time: used, If: 3},
		}
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, tc.trips, calls.Load()-before, "%s: round trips", tc.name)

		matched := tc.code == "right" && tc.max > 0
		assert.Equal(t, tc.max == 0, ops[2].Skipped, "%s: the consumption", tc.name)
		for _, i := range []int{3, 4, 5} {
			assert.Equal(t, !matched, ops[i].Skipped, "%s: operation %d", tc.name, i)
		}
		n, lastUse, ended := chainOutcome(t, s, fail, end)
		st, err := s.ConsumeCode(ctx, "g", key, []byte("right"))
		require.NoError(t, err)
		if matched {
			assert.True(t, ops[3].Bounded[0].Incremented, "%s: the end ran", tc.name)
			assert.True(t, ended, "%s: the end ran once", tc.name)
			assert.Zero(t, n, "%s: the run was reset", tc.name)
			assert.True(t, lastUse.Equal(used), "%s: the last use was written", tc.name)
			assert.Equal(t, store.CodeNotFound, st, "%s: the code was used", tc.name)
		} else {
			assert.False(t, ended, "%s: no end", tc.name)
			assert.Equal(t, int64(1), n, "%s: the run was kept", tc.name)
			assert.False(t, lastUse.Equal(used), "%s: no last use", tc.name)
			assert.Equal(t, store.CodeMatched, st, "%s: the code is still there", tc.name)
		}
		assertNoGates(t, s, rdb, "%s: gates left behind", tc.name)
	}
}

// TestRunBatchAdvanceChain: an advance and the challenge's end, the
// run's reset and the last use on its condition are one round trip (two
// when a script is not cached yet), all run when the mark was raised,
// none when it was not, and no gate is left behind.
func TestRunBatchAdvanceChain(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "totp", CreatedAt: clk.Now()}))
	load := scriptLoader(t, rdb)
	all := []*redis.Script{advance, incrBelow, resetGated, touchEnrollment}
	for n, tc := range []struct {
		name   string
		load   func()
		step   int64
		raised bool // the step is above the mark
		trips  int64
	}{
		{"every script cached", load(all...), 10, true, 1},
		{"a step already taken", load(all...), 10, false, 1},
		{"an earlier step", load(all...), 9, false, 1},
		{"none cached", load(), 1<<35 + 1, true, 2},
		{"not the advance's", load(incrBelow, resetGated, touchEnrollment), 1<<35 + 2, true, 2},
		{"not the end's", load(advance, resetGated, touchEnrollment), 1<<35 + 3, true, 2},
		{"a step taken, none cached", load(), 1<<35 + 3, false, 2},
	} {
		end, fail := "done"+strconv.Itoa(n), "fail"+strconv.Itoa(n)
		_, _, err := s.Incr(ctx, fail, time.Minute)
		require.NoError(t, err)
		clk.Advance(time.Second)
		used := clk.Now()
		tc.load()
		before := calls.Load()
		ops := []store.Op{
			{Kind: store.OpAdvance, Key: "ledger", Mark: tc.step, Time: clk.Now().Add(time.Hour)},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: end, Window: time.Minute, Max: 1}}, If: 1},
			{Kind: store.OpResetCounter, Key: fail, If: 1},
			{Kind: store.OpTouchEnrollment, UserID: "u1", ID: "e1", Time: used, If: 1},
		}
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, tc.trips, calls.Load()-before, "%s: round trips", tc.name)

		raised := tc.raised
		assert.Equal(t, raised, ops[0].First, "%s: the advance", tc.name)
		for _, i := range []int{1, 2, 3} {
			assert.Equal(t, !raised, ops[i].Skipped, "%s: operation %d", tc.name, i)
		}
		assertChainRan(t, s, fail, end, used, raised, tc.name)
		assertNoGates(t, s, rdb, "%s: gates left behind", tc.name)
	}
}

// TestRunBatchAdvanceGatesAdvance: on one server an advance conditional
// on another (a security key's signature counter after its ceremony's
// single-use mark), with the challenge's end, the run's reset and the last
// use conditional on the second, is one round trip (two when a script is
// not cached yet). The second runs only when the first raised its mark,
// the rest only when both did; no gate is left behind.
func TestRunBatchAdvanceGatesAdvance(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "webauthn", CreatedAt: clk.Now()}))
	load := scriptLoader(t, rdb)
	all := []*redis.Script{advance, incrBelow, resetGated, touchEnrollment}
	for n, tc := range []struct {
		name    string
		load    func()
		once    string // the first mark's key
		counter int64
		first   bool // the first mark is new
		raised  bool // the counter is above its mark
		trips   int64
	}{
		{"every script cached", load(all...), "c1", 10, true, true, 1},
		{"the first mark taken", load(all...), "c1", 11, false, false, 1},
		{"the counter not raised", load(all...), "c2", 10, true, false, 1},
		{"none cached", load(), "c3", 1<<35 + 1, true, true, 2},
		{"the first mark taken, none cached", load(), "c3", 1<<35 + 2, false, false, 2},
		{"not the end's", load(advance, resetGated, touchEnrollment), "c4", 1<<35 + 3, true, true, 2},
	} {
		end, fail := "done"+strconv.Itoa(n), "fail"+strconv.Itoa(n)
		_, _, err := s.Incr(ctx, fail, time.Minute)
		require.NoError(t, err)
		clk.Advance(time.Second)
		used := clk.Now()
		tc.load()
		before := calls.Load()
		ops := []store.Op{
			{Kind: store.OpAdvance, Key: tc.once, Mark: 1, Time: clk.Now().Add(time.Hour)},
			{Kind: store.OpAdvance, Key: "counter", Mark: tc.counter, Time: clk.Now().Add(time.Hour), If: 1},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: end, Window: time.Minute, Max: 1}}, If: 2},
			{Kind: store.OpResetCounter, Key: fail, If: 2},
			{Kind: store.OpTouchEnrollment, UserID: "u1", ID: "e1", Time: used, If: 2},
		}
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, tc.trips, calls.Load()-before, "%s: round trips", tc.name)

		assert.Equal(t, tc.first, ops[0].First, "%s: the first mark", tc.name)
		assert.Equal(t, !tc.first, ops[1].Skipped, "%s: the counter ran", tc.name)
		assert.Equal(t, tc.raised, ops[1].First, "%s: the counter", tc.name)
		for _, i := range []int{2, 3, 4} {
			assert.Equal(t, !tc.raised, ops[i].Skipped, "%s: operation %d", tc.name, i)
		}
		assertChainRan(t, s, fail, end, used, tc.raised, tc.name)
		assertNoGates(t, s, rdb, "%s: gates left behind", tc.name)
	}
}

// TestRunBatchCountGatesSeveral: on one server a count that several
// operations are conditional on (a second count, a code's check, a
// counter's reset), with a count conditional on the check, is one round
// trip (two when a script is not cached yet): the count sets a gate for
// each. On an admitted call each runs once, the count on the check only
// on a match; on a refused call none runs; no gate is left behind.
func TestRunBatchCountGatesSeveral(t *testing.T) {
	s, rdb, clk, calls := countedStore(t)
	ctx := context.Background()
	load := scriptLoader(t, rdb)
	all := []*redis.Script{incrBelow, consumeCode, resetGated}
	for n, tc := range []countCase{
		{"every script cached", load(all...), "right", 100, 1},
		{"a wrong code", load(all...), "wrong", 100, 1},
		{"a refused count", load(all...), "right", 0, 1},
		{"none cached", load(), "right", 100, 2},
		{"not the consumption's", load(incrBelow, resetGated), "right", 100, 2},
		{"not the reset's", load(incrBelow, consumeCode), "wrong", 100, 2},
	} {
		key, sub, uses, run := "k"+strconv.Itoa(n), "sub"+strconv.Itoa(n), "uses"+strconv.Itoa(n), "run"+strconv.Itoa(n)
		require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: key, Hash: []byte("right"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
		_, _, err := s.Incr(ctx, run, time.Minute)
		require.NoError(t, err)
		tc.load()
		before := calls.Load()
		incr := func(k string, cond int) store.Op {
			return store.Op{Kind: store.OpIncrBelow, If: cond, Incrs: []store.BoundedIncr{{Key: k, Window: time.Minute, Max: 1 << 40}}}
		}
		ops := []store.Op{
			{Kind: store.OpGetState, Key: "st"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c" + key, Window: time.Minute, Max: tc.max}}},
			incr(sub, 2),
			{Kind: store.OpConsumeCode, Group: "g", Key: key, Hash: []byte(tc.code), If: 2},
			incr(uses, 4),
			{Kind: store.OpResetCounter, Key: run, If: 2},
		}
		require.NoError(t, s.RunBatch(ctx, ops), tc.name)
		assert.Equal(t, tc.trips, calls.Load()-before, "%s: round trips", tc.name)

		admitted, matched := tc.max > 0, tc.code == "right" && tc.max > 0
		for _, i := range []int{2, 3, 5} {
			assert.Equal(t, !admitted, ops[i].Skipped, "%s: operation %d", tc.name, i)
		}
		assert.Equal(t, !matched, ops[4].Skipped, "%s: the count on the check", tc.name)
		peek := func(k string) int64 {
			t.Helper()
			v, _, err := s.Peek(ctx, k)
			require.NoError(t, err)
			return v
		}
		assert.Equal(t, b2i(admitted), peek(sub), "%s: the second count ran once", tc.name)
		assert.Equal(t, b2i(matched), peek(uses), "%s: the count on the check", tc.name)
		assert.Equal(t, b2i(!admitted), peek(run), "%s: the reset", tc.name)
		st, err := s.ConsumeCode(ctx, "g", key, []byte("right"))
		require.NoError(t, err)
		if matched {
			assert.Equal(t, store.CodeNotFound, st, "%s: the code was used", tc.name)
		} else {
			assert.Equal(t, store.CodeMatched, st, "%s: the code is still there", tc.name)
		}
		assertNoGates(t, s, rdb, "%s: gates left behind", tc.name)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// chainOutcome reads what a chain of a challenge's end wrote: the failure
// run's count (fail), the last use of user u1's one enrollment, and
// whether the end counter (end) was taken (a second end is refused).
func chainOutcome(t *testing.T, s *Store, fail, end string) (run int64, lastUse time.Time, ended bool) {
	t.Helper()
	ctx := context.Background()
	run, _, err := s.Peek(ctx, fail)
	require.NoError(t, err)
	recs, err := s.ListEnrollments(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	again, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: end, Window: time.Minute, Max: 1}})
	require.NoError(t, err)
	return run, recs[0].LastUsedAt, again[0].Full
}

// assertChainRan checks that the end of a challenge (the bounded counter
// end), the reset of the run fail and the last use at used of user u1's
// enrollment all ran, or that none did.
func assertChainRan(t *testing.T, s *Store, fail, end string, used time.Time, ran bool, name string) {
	t.Helper()
	run, lastUse, ended := chainOutcome(t, s, fail, end)
	assert.Equal(t, ran, ended, "%s: the end ran", name)
	assert.Equal(t, ran, run == 0, "%s: the run's reset ran", name)
	assert.Equal(t, ran, lastUse.Equal(used), "%s: the last use was written", name)
}

// assertNoGates checks that no gate (gateOp) of s is left on its server.
func assertNoGates(t *testing.T, s *Store, rdb *redis.Client, msgAndArgs ...any) {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), s.prefix+"g:*").Result()
	require.NoError(t, err)
	assert.Empty(t, keys, msgAndArgs...)
}

// scriptLoader returns, for a list of scripts, a function that empties
// the server's script cache and loads those scripts alone.
func scriptLoader(t *testing.T, rdb *redis.Client) func(scripts ...*redis.Script) func() {
	return func(scripts ...*redis.Script) func() {
		return func() {
			ctx := context.Background()
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			for _, sc := range scripts {
				require.NoError(t, sc.Load(ctx, rdb).Err())
			}
		}
	}
}

// TestRunBatchIsolated: on one server a batch's pipeline is a transaction,
// so no other client's command runs between two of its commands: batches
// of many increments of one counter, run at once from two connection
// pools, each see their increments' counts follow one another. (A plain
// pipeline this long reaches the server in several reads, between which
// the server serves the other pool's.)
func TestRunBatchIsolated(t *testing.T) {
	ctx := context.Background()
	a, _ := newStore(t, nil)
	b, err := New(newClient(t), Options{Prefix: a.prefix})
	require.NoError(t, err)
	loadScripts(t, a.rdb)
	const perBatch = 400
	run := func(s *Store) error {
		ops := make([]store.Op, perBatch)
		for i := range ops {
			ops[i] = store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "isolated", Window: time.Hour, Max: 1 << 40}}}
		}
		if err := s.RunBatch(ctx, ops); err != nil {
			return err
		}
		for i := 1; i < perBatch; i++ {
			if got, prev := ops[i].Bounded[0].N, ops[i-1].Bounded[0].N; got != prev+1 {
				return fmt.Errorf("increment %d of a batch counted %d after %d: another batch's ran between", i, got, prev)
			}
		}
		return nil
	}
	raceBatches(t, a, b, 10, run)
	n, _, err := a.Peek(ctx, "isolated")
	require.NoError(t, err)
	assert.Equal(t, int64(2*10*perBatch), n)
}

// raceBatches runs run on a and on b at once, rounds times, and requires
// both to succeed each time.
func raceBatches(t *testing.T, a, b *Store, rounds int, run func(*Store) error) {
	t.Helper()
	for round := range rounds {
		errs := make(chan error, 2)
		for _, s := range []*Store{a, b} {
			go func() { errs <- run(s) }()
		}
		for range 2 {
			require.NoError(t, <-errs, "round %d", round)
		}
	}
}
