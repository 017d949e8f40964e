package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// batchRunner is a store that can run batches, with the interfaces whose
// methods a batch names.
type batchRunner interface {
	store.States
	store.Counters
	store.Ledger
	store.Enrollments
	store.Codes
	store.Batcher
}

// batcher checks RunBatch: each operation gives what its own method
// gives (ConsumeCode's in a step of its own), in the order of the batch,
// each seeing the writes of those before it; keys of several hash tags go in one batch; a batch with an
// unknown operation or a bad bounded increment runs none of them; a
// canceled context is an error. Then batches race on one ledger key and
// one bounded counter, from two stores when Options.Shared is set.
func (h *harness) batcher(t *testing.T) {
	s, clk, k, ctx := setup[batchRunner](h, t)
	t0 := clk.Now()
	user := k("{u:ann}")
	require.NoError(t, s.PutState(ctx, k("{u:ann}st"), []byte{0, 'v', 0xff}, t0.Add(time.Minute)))
	for range 3 {
		_, _, err := s.Incr(ctx, k("{u:ann}fail"), time.Hour)
		require.NoError(t, err)
	}
	rec := store.EnrollmentRecord{UserID: user, ID: "e1", Method: "totp", Label: "Phone", Data: []byte{1, 2},
		CreatedAt: t0, LastUsedAt: t0.Add(-time.Hour)}
	require.NoError(t, s.PutEnrollment(ctx, rec))

	ops := []store.Op{
		{Kind: store.OpPeek, Key: k("{u:ann}fail")},
		{Kind: store.OpPeek, Key: k("none")},
		{Kind: store.OpGetState, Key: k("{u:ann}st")},
		{Kind: store.OpGetState, Key: k("none")},
		{Kind: store.OpListEnrollments, UserID: user},
		{Kind: store.OpListEnrollments, UserID: k("nobody")},
		{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{
			{Key: k("{u:ann}att"), Window: time.Minute, Max: 5},
			{Key: k("{u:ann}fail"), Window: time.Hour, Max: 10},
			{Key: k("ip"), Window: time.Minute, Max: 100, CountRefused: true},
		}},
		{Kind: store.OpMarkUsed, Key: k("{u:ann}done"), Time: t0.Add(time.Minute)},
		{Kind: store.OpMarkUsed, Key: k("{u:ann}done"), Time: t0.Add(time.Minute)},
		{Kind: store.OpResetCounter, Key: k("{u:ann}fail")},
		{Kind: store.OpPeek, Key: k("{u:ann}fail")},
		{Kind: store.OpTouchEnrollment, UserID: user, ID: "e1", Time: t0},
		{Kind: store.OpTouchEnrollment, UserID: user, ID: "gone", Time: t0},
	}
	require.NoError(t, s.RunBatch(ctx, ops))
	assert.Equal(t, int64(3), ops[0].Counter.N, "Peek")
	assertTime(t, t0.Add(time.Hour), ops[0].Counter.ResetAt, "Peek's window end")
	assert.Equal(t, store.CounterValue{}, ops[1].Counter, "Peek of a missing counter")
	assert.True(t, ops[2].Found, "GetState")
	assert.Equal(t, []byte{0, 'v', 0xff}, ops[2].Value, "GetState's value, byte for byte")
	assert.False(t, ops[3].Found, "GetState of a missing state")
	assert.Nil(t, ops[3].Value, "GetState of a missing state")
	require.Len(t, ops[4].Records, 1, "ListEnrollments")
	assertEnrollment(t, rec, ops[4].Records[0])
	assert.NotNil(t, ops[5].Records, "ListEnrollments of a user with none is empty, not nil")
	assert.Empty(t, ops[5].Records, "ListEnrollments of a user with none")
	require.Len(t, ops[6].Bounded, 3, "IncrBelow")
	check(t, want{1, t0.Add(time.Minute), 5, false, true}, ops[6].Bounded[0], "IncrBelow, a new counter")
	check(t, want{4, t0.Add(time.Hour), 10, false, true}, ops[6].Bounded[1], "IncrBelow, a live counter")
	check(t, want{1, t0.Add(time.Minute), 100, false, true}, ops[6].Bounded[2], "IncrBelow, another hash tag")
	assert.True(t, ops[7].First, "the first MarkUsed")
	assert.False(t, ops[8].First, "the second MarkUsed of one batch sees the first")
	assert.Zero(t, ops[10].Counter.N, "a Peek after a ResetCounter of the same batch")
	got, err := s.GetEnrollment(ctx, user, "e1")
	require.NoError(t, err)
	assertTime(t, t0, got.LastUsedAt, "TouchEnrollment")
	assert.Equal(t, "Phone", got.Label, "TouchEnrollment keeps the record")
	_, err = s.GetEnrollment(ctx, user, "gone")
	require.ErrorIs(t, err, store.ErrNotFound, "a touch creates no record")

	// A touch with an earlier time changes nothing.
	require.NoError(t, s.RunBatch(ctx, []store.Op{{Kind: store.OpTouchEnrollment, UserID: user, ID: "e1", Time: t0.Add(-time.Minute)}}))
	got, err = s.GetEnrollment(ctx, user, "e1")
	require.NoError(t, err)
	assertTime(t, t0, got.LastUsedAt, "an earlier touch")

	// A refused bounded increment is a result, not an error.
	full := []store.Op{{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: k("{u:ann}att"), Window: time.Minute, Max: 1}}}}
	require.NoError(t, s.RunBatch(ctx, full))
	check(t, want{1, t0.Add(time.Minute), 1, true, false}, full[0].Bounded[0], "a full counter in a batch")

	t.Run("ConsumeCode", func(t *testing.T) { batchCodes(t, s, clk, k, ctx) })
	t.Run("Advance", func(t *testing.T) { batchAdvance(t, s, clk, k, ctx) })
	t.Run("If", func(t *testing.T) { batchIf(t, s, clk, k, ctx) })
	t.Run("Invalid", func(t *testing.T) { h.batchInvalid(t, s, clk, k, ctx) })
	t.Run("Race", func(t *testing.T) { h.raceBatch(t, s, clk, k, ctx) })
	t.Run("RaceIf", func(t *testing.T) { h.raceIf(t, s, clk, k, ctx) })
	t.Run("RaceAdvance", func(t *testing.T) { h.raceAdvance(t, s, clk, k, ctx) })
}

// ifCase holds what the conditional-operation checks share: the store,
// its clock and keys, and the group of the codes they store and check.
type ifCase struct {
	t   *testing.T
	s   batchRunner
	clk *Clock
	k   func(string) string
	ctx context.Context
	g   string
}

// count is a bounded increment of the counter key, bounded by max (a
// check when check is set), with a client network's counter that counts
// refused calls too.
func (c ifCase) count(key string, max int64, check bool) store.Op {
	return store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{
		{Key: c.k("{u:if}" + key), Window: time.Minute, Max: max, Check: check},
		{Key: c.k("{u:if}ip"), Window: time.Minute, Max: 100, CountRefused: true},
	}}
}

// consume checks hash against the code key, on the condition cond.
func (c ifCase) consume(key, hash string, cond int) store.Op {
	return store.Op{Kind: store.OpConsumeCode, Group: c.g, Key: key, Hash: []byte(hash), If: cond}
}

// putIf stores a code on the condition of the batch's first operation.
func (c ifCase) putIf(key, hash string) store.Op {
	op := store.PutCodeOp(store.Code{Group: c.g, Key: key, Hash: []byte(hash), ExpiresAt: c.clk.Now().Add(time.Minute)})
	op.If = 1
	return op
}

// run runs ops, which must succeed.
func (c ifCase) run(ops []store.Op) {
	c.t.Helper()
	require.NoError(c.t, c.s.RunBatch(c.ctx, ops))
}

// check consumes the code key with hash outside any batch.
func (c ifCase) check(key, hash string) store.CodeStatus {
	c.t.Helper()
	st, err := c.s.ConsumeCode(c.ctx, c.g, key, []byte(hash))
	require.NoError(c.t, err)
	return st
}

// marked reports whether the mark key was set already.
func (c ifCase) marked(key string) bool {
	c.t.Helper()
	first, err := c.s.MarkUsed(c.ctx, c.k(key), c.clk.Now().Add(time.Minute))
	require.NoError(c.t, err)
	return !first
}

// batchIf checks conditional operations (Op.If): each runs, as its
// method, when the bounded increment it names refused nothing, and is
// Skipped, having done nothing, when a full counter (one it counts, or a
// check) refused that call or when that call was skipped itself; two may
// name the same increment; one may follow an unconditional operation of
// another key; and an If that names no earlier bounded increment refuses
// the batch.
func batchIf(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	c := ifCase{t: t, s: s, clk: clk, k: k, ctx: ctx, g: k("{u:if}codes")}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: c.g, Key: key, Hash: []byte("h-" + key), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 1}))
	}
	batchIfAdmitted(c)
	batchIfRefused(c)
	batchIfConsumed(c)
	batchIfCounted(c)
	batchIfAdvanced(c)
	batchIfAdvancedTwice(c)
	batchIfInvalid(c)
}

// batchAdvance checks Advance in a batch: it raises a mark, a second
// advance to the same value in the batch sees it and refuses, a higher
// one raises it again, and values past 2^32 compare as 64-bit integers.
func batchAdvance(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	adv := func(key string, v int64) store.Op {
		return store.Op{Kind: store.OpAdvance, Key: k(key), Mark: v, Time: clk.Now().Add(time.Minute)}
	}
	const big = 1<<40 + 5
	ops := []store.Op{adv("adv-a", 5), adv("adv-a", 5), adv("adv-a", 4), adv("adv-a", 6), adv("adv-b", big), adv("adv-b", big-1<<32)}
	require.NoError(t, s.RunBatch(ctx, ops))
	for i, want := range []bool{true, false, false, true, true, false} {
		assert.Equal(t, want, ops[i].First, "advance %d of the batch", i)
	}
	raised, err := s.Advance(ctx, k("adv-a"), 6, clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, raised, "Advance sees the mark a batch raised")
	raised, err = s.Advance(ctx, k("adv-b"), big+1, clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, raised, "a mark past 2^32, one higher")
}

// batchIfAdvanced: operations conditional on an advance (the end of a
// challenge, a counter's reset, a last use) run when it raised its mark,
// and are skipped, having done nothing, when it did not.
func batchIfAdvanced(c ifCase) {
	t := c.t
	user := c.k("{u:if}adv-user")
	t0 := c.clk.Now()
	require.NoError(t, c.s.PutEnrollment(c.ctx, store.EnrollmentRecord{UserID: user, ID: "e", Method: "totp", CreatedAt: t0.Add(-time.Hour)}))
	chain := func(end string, v int64, used time.Time) []store.Op {
		return []store.Op{
			{Kind: store.OpAdvance, Key: c.k("{u:if}adv"), Mark: v, Time: t0.Add(time.Hour)},
			{Kind: store.OpIncrBelow, If: 1, Incrs: []store.BoundedIncr{{Key: c.k("{u:if}" + end), Window: time.Minute, Max: 1}}},
			{Kind: store.OpResetCounter, Key: c.k("{u:if}adv-run"), If: 1},
			{Kind: store.OpTouchEnrollment, UserID: user, ID: "e", Time: used, If: 1},
		}
	}
	run := func() int64 {
		t.Helper()
		n, _, err := c.s.Peek(c.ctx, c.k("{u:if}adv-run"))
		require.NoError(t, err)
		return n
	}
	used := func() time.Time {
		t.Helper()
		rec, err := c.s.GetEnrollment(c.ctx, user, "e")
		require.NoError(t, err)
		return rec.LastUsedAt
	}
	incr := func() {
		t.Helper()
		_, _, err := c.s.Incr(c.ctx, c.k("{u:if}adv-run"), time.Minute)
		require.NoError(t, err)
	}

	incr()
	ops := chain("adv-end-1", 1<<33+7, t0.Add(-time.Minute))
	c.run(ops)
	require.True(t, ops[0].First, "the first advance raises the mark")
	for i := 1; i < len(ops); i++ {
		assert.False(t, ops[i].Skipped, "operation %d on a raised mark runs", i)
	}
	assert.True(t, ops[1].Bounded[0].Incremented, "the end on a raised mark")
	assert.Zero(t, run(), "the reset on a raised mark")
	assertTime(t, t0.Add(-time.Minute), used(), "the last use on a raised mark")

	incr()
	for _, v := range []int64{1<<33 + 7, 1<<33 + 6, 7} {
		ops = chain("adv-end-2", v, t0)
		c.run(ops)
		assert.False(t, ops[0].First, "an advance to %d, not above the mark", v)
		for i := 1; i < len(ops); i++ {
			assert.True(t, ops[i].Skipped, "operation %d on a mark not raised (%d)", i, v)
		}
		assert.Equal(t, int64(1), run(), "the reset on a mark not raised (%d)", v)
		assertTime(t, t0.Add(-time.Minute), used(), "the last use on a mark not raised")
	}
	n, _, err := c.s.Peek(c.ctx, c.k("{u:if}adv-end-2"))
	require.NoError(t, err)
	assert.Zero(t, n, "no skipped end counted")
}

// batchIfAdvancedTwice: an advance conditional on another (a security
// key's signature counter after its ceremony's single-use mark), and the
// end of a challenge and a counter's reset conditional on the second: the
// second runs only when the first raised its mark, and the rest only when
// both did.
func batchIfAdvancedTwice(c ifCase) {
	t := c.t
	t0 := c.clk.Now()
	chain := func(once string, counter int64, end string) []store.Op {
		return []store.Op{
			{Kind: store.OpAdvance, Key: c.k("{u:if}twice-" + once), Mark: 1, Time: t0.Add(time.Hour)},
			{Kind: store.OpAdvance, Key: c.k("{u:if}twice-counter"), Mark: counter, Time: t0.Add(time.Hour), If: 1},
			{Kind: store.OpIncrBelow, If: 2, Incrs: []store.BoundedIncr{{Key: c.k("{u:if}" + end), Window: time.Minute, Max: 1}}},
			{Kind: store.OpResetCounter, Key: c.k("{u:if}twice-run"), If: 2},
		}
	}
	run := func() int64 {
		t.Helper()
		n, _, err := c.s.Peek(c.ctx, c.k("{u:if}twice-run"))
		require.NoError(t, err)
		return n
	}
	incr := func() {
		t.Helper()
		_, _, err := c.s.Incr(c.ctx, c.k("{u:if}twice-run"), time.Minute)
		require.NoError(t, err)
	}
	raised := func(key string, v int64) bool {
		t.Helper()
		ok, err := c.s.Advance(c.ctx, c.k("{u:if}"+key), v, t0.Add(time.Hour))
		require.NoError(t, err)
		return ok
	}

	incr()
	ops := chain("a", 5, "twice-end-1")
	c.run(ops)
	require.True(t, ops[0].First, "the first mark")
	require.True(t, ops[1].First, "the counter, the first mark raised")
	assert.False(t, ops[2].Skipped || ops[3].Skipped, "both raised: the rest runs")
	assert.True(t, ops[2].Bounded[0].Incremented, "the end")
	assert.Zero(t, run(), "the reset")

	incr()
	ops = chain("a", 9, "twice-end-2")
	c.run(ops)
	assert.False(t, ops[0].First, "the first mark, taken")
	for i := 1; i < len(ops); i++ {
		assert.True(t, ops[i].Skipped, "operation %d after a mark taken", i)
	}
	assert.True(t, raised("twice-counter", 6), "the counter skipped: still at 5")

	ops = chain("b", 6, "twice-end-2")
	c.run(ops)
	assert.True(t, ops[0].First, "a new first mark")
	assert.False(t, ops[1].First || ops[1].Skipped, "the counter ran and was not raised")
	assert.True(t, ops[2].Skipped && ops[3].Skipped, "the rest, on a counter not raised")
	assert.Equal(t, int64(1), run(), "the reset, skipped")
	n, _, err := c.s.Peek(c.ctx, c.k("{u:if}twice-end-2"))
	require.NoError(t, err)
	assert.Zero(t, n, "no skipped end counted")
}

// batchIfConsumed: operations conditional on a code's consumption run
// only when it matched: not on a wrong code, nor on a consumption that
// did not run because its own count refused the call, and a chain of
// them (a count, the code's check on it, the challenge's end, a counter's
// reset and a last use on the check) runs whole or not at all.
func batchIfConsumed(c ifCase) {
	t := c.t
	end := func(key string, cond int) store.Op {
		return store.Op{Kind: store.OpIncrBelow, If: cond, Incrs: []store.BoundedIncr{{Key: c.k("{u:if}" + key), Window: time.Minute, Max: 1}}}
	}
	mark := func(key string, cond int) store.Op {
		return store.Op{Kind: store.OpMarkUsed, Key: c.k("{u:if}" + key), Time: c.clk.Now().Add(time.Minute), If: cond}
	}
	_, _, err := c.s.Incr(c.ctx, c.k("{u:if}run"), time.Minute)
	require.NoError(t, err)

	wrong := []store.Op{c.count("w", 5, false), c.consume("e", "wrong", 1), end("end-w", 2), mark("mark-w", 2)}
	c.run(wrong)
	assert.Equal(t, store.CodeMismatch, wrong[1].Status)
	assert.True(t, wrong[2].Skipped, "an end on a wrong code is skipped")
	assert.True(t, wrong[3].Skipped, "a mark on a wrong code is skipped")
	assert.False(t, c.marked("{u:if}mark-w"))

	c.run([]store.Op{c.count("full2", 0, false)})
	refused := []store.Op{c.count("full2", 0, false), c.consume("f", "h-f", 1), end("end-r", 2)}
	c.run(refused)
	assert.True(t, refused[1].Skipped)
	assert.True(t, refused[2].Skipped, "an end on a skipped consumption is skipped")
	assert.Equal(t, store.CodeMatched, c.check("f", "h-f"), "the skipped consumption left the code")

	right := []store.Op{
		c.count("r", 5, false), c.consume("g", "h-g", 1), end("end-ok", 2),
		{Kind: store.OpResetCounter, Key: c.k("{u:if}run"), If: 2}, mark("mark-ok", 2),
	}
	c.run(right)
	assert.Equal(t, store.CodeMatched, right[1].Status)
	require.False(t, right[2].Skipped, "the end on a matched code runs")
	assert.True(t, right[2].Bounded[0].Incremented)
	assert.False(t, right[3].Skipped)
	assert.True(t, right[4].First)
	n, _, err := c.s.Peek(c.ctx, c.k("{u:if}run"))
	require.NoError(t, err)
	assert.Zero(t, n, "the reset on a matched code ran")
	assert.Equal(t, store.CodeNotFound, c.check("g", "h-g"), "the code was consumed")
}

// batchIfCounted: a count on which a second count, a code's check and a
// counter's reset depend, and a count on that check (the shape of a
// check that marks what was submitted and counts a use only on a match):
// on an admitted call the second count and the check run, and the count
// on the check only when the code matched; on a refused call none runs,
// the second counter is not touched and the code keeps its attempts.
func batchIfCounted(c ifCase) {
	t := c.t
	for _, key := range []string{"cnt-a", "cnt-b", "cnt-c"} {
		require.NoError(t, c.s.PutCode(c.ctx, store.Code{Group: c.g, Key: key, Hash: []byte("h-" + key), ExpiresAt: c.clk.Now().Add(time.Minute), MaxAttempts: 2}))
	}
	incr := func(key string, cond int) store.Op {
		return store.Op{Kind: store.OpIncrBelow, If: cond, Incrs: []store.BoundedIncr{{Key: c.k("{u:if}" + key), Window: time.Minute, Max: 1 << 40}}}
	}
	peek := func(key string) int64 {
		t.Helper()
		n, _, err := c.s.Peek(c.ctx, c.k("{u:if}"+key))
		require.NoError(t, err)
		return n
	}
	chain := func(count store.Op, code, hash string) []store.Op {
		return []store.Op{count, incr("cnt-sub-"+code, 1), c.consume(code, hash, 1), incr("cnt-uses", 3),
			{Kind: store.OpResetCounter, Key: c.k("{u:if}cnt-run"), If: 1}}
	}
	_, _, err := c.s.Incr(c.ctx, c.k("{u:if}cnt-run"), time.Minute)
	require.NoError(t, err)

	right := chain(c.count("cnt-n", 5, false), "cnt-a", "h-cnt-a")
	c.run(right)
	for i := 1; i < len(right); i++ {
		assert.False(t, right[i].Skipped, "operation %d on an admitted call and a match", i)
	}
	assert.Equal(t, int64(1), right[1].Bounded[0].N, "the second count on an admitted call")
	assert.Equal(t, store.CodeMatched, right[2].Status)
	assert.Equal(t, int64(1), right[3].Bounded[0].N, "the count on a match")
	assert.Zero(t, peek("cnt-run"), "the reset on an admitted call")

	_, _, err = c.s.Incr(c.ctx, c.k("{u:if}cnt-run"), time.Minute)
	require.NoError(t, err)
	wrong := chain(c.count("cnt-n", 5, false), "cnt-b", "wrong")
	c.run(wrong)
	assert.False(t, wrong[1].Skipped)
	assert.Equal(t, int64(1), wrong[1].Bounded[0].N, "the second count on an admitted call, a wrong code")
	assert.Equal(t, store.CodeMismatch, wrong[2].Status)
	assert.True(t, wrong[3].Skipped, "the count on a wrong code is skipped")
	assert.Equal(t, int64(1), peek("cnt-uses"), "a skipped count counted nothing")
	assert.False(t, wrong[4].Skipped)
	assert.Zero(t, peek("cnt-run"), "the reset on an admitted call, a wrong code")

	_, _, err = c.s.Incr(c.ctx, c.k("{u:if}cnt-run"), time.Minute)
	require.NoError(t, err)
	refused := chain(c.count("cnt-full", 0, false), "cnt-c", "h-cnt-c")
	c.run(refused)
	for i := 1; i < len(refused); i++ {
		assert.True(t, refused[i].Skipped, "operation %d on a refused call", i)
	}
	assert.Zero(t, peek("cnt-sub-cnt-c"), "the second count on a refused call")
	assert.Equal(t, int64(1), peek("cnt-uses"), "the count on a refused call")
	assert.Equal(t, int64(1), peek("cnt-run"), "the reset on a refused call")
	assert.Equal(t, store.CodeMatched, c.check("cnt-c", "h-cnt-c"), "a refused call left the code")
}

// batchIfAdmitted: an admitted call's conditional operations run, among
// them a second on the same increment, and a code stored on the
// condition of a count.
func batchIfAdmitted(c ifCase) {
	t := c.t
	ops := []store.Op{
		{Kind: store.OpGetState, Key: c.k("{u:if}none")},
		c.count("n", 5, false),
		c.consume("a", "h-a", 2),
		{Kind: store.OpMarkUsed, Key: c.k("{u:if}m1"), Time: c.clk.Now().Add(time.Minute), If: 2},
		c.consume("b", "wrong", 2),
		{Kind: store.OpPeek, Key: c.k("{u:if}n"), If: 2},
	}
	c.run(ops)
	assert.False(t, ops[2].Skipped, "an admitted call's consumption is not skipped")
	assert.Equal(t, store.CodeMatched, ops[2].Status, "an admitted call's consumption")
	assert.True(t, ops[3].First, "an admitted call's MarkUsed")
	assert.False(t, ops[3].Skipped)
	assert.Equal(t, store.CodeMismatch, ops[4].Status, "a second conditional consumption of the same call")
	assert.Equal(t, int64(1), ops[5].Counter.N, "a conditional Peek sees the increment it follows")

	ops = []store.Op{c.count("p", 1, false), c.putIf("p", "h-p1")}
	c.run(ops)
	assert.False(t, ops[1].Skipped, "an admitted call's PutCode")
	assert.Equal(t, store.CodeMatched, c.check("p", "h-p1"), "the code an admitted PutCode stored")
}

// batchIfRefused: nothing conditional on a refused call runs, whether a
// counter it counts or a check refused it, nor anything conditional on a
// skipped increment; the counter that counts refused calls still counts,
// and a wrong answer is not counted against the code either.
func batchIfRefused(c ifCase) {
	t := c.t
	ip := func() int64 {
		t.Helper()
		n, _, err := c.s.Peek(c.ctx, c.k("{u:if}ip"))
		require.NoError(t, err)
		return n
	}
	before := ip()
	ops := []store.Op{
		c.count("full", 0, false),
		c.consume("c", "h-c", 1),
		{Kind: store.OpMarkUsed, Key: c.k("{u:if}m2"), Time: c.clk.Now().Add(time.Minute), If: 1},
		{Kind: store.OpMarkUsed, Key: c.k("{u:if}m3"), Time: c.clk.Now().Add(time.Minute)},
	}
	c.run(ops)
	assert.True(t, ops[0].Bounded[0].Full, "the call is refused")
	assert.True(t, ops[1].Skipped, "a refused call's consumption is skipped")
	assert.Equal(t, store.CodeNotFound, ops[1].Status, "a skipped operation has no result")
	assert.True(t, ops[2].Skipped, "a refused call's MarkUsed is skipped")
	assert.False(t, ops[2].First)
	assert.True(t, ops[3].First, "an unconditional operation after a refused call runs")
	assert.False(t, ops[3].Skipped)
	assert.False(t, c.marked("{u:if}m2"), "a skipped MarkUsed marked nothing")

	c.run([]store.Op{c.count("chk", 1, false)})
	ops = []store.Op{c.count("chk", 1, true), c.consume("c", "wrong", 1)}
	c.run(ops)
	assert.True(t, ops[1].Skipped, "a consumption after a full check is skipped")
	assert.Equal(t, store.CodeMatched, c.check("c", "h-c"), "skipped consumptions used none of the code's attempts")
	assert.Equal(t, before+3, ip(), "the CountRefused counter counted every call")

	c.run([]store.Op{c.count("q", 1, false)})
	ops = []store.Op{c.count("q", 1, false), c.putIf("q", "h-q")}
	c.run(ops)
	assert.True(t, ops[1].Skipped, "a refused call's PutCode")
	assert.Equal(t, store.CodeNotFound, c.check("q", "h-q"), "a skipped PutCode stored nothing")

	ops = []store.Op{c.count("full", 0, false), c.count("n", 5, false), c.consume("d", "h-d", 2), c.putIf("d", "h-x")}
	ops[1].If, ops[3].If = 1, 2
	c.run(ops)
	assert.True(t, ops[1].Skipped, "an increment on a refused one")
	assert.True(t, ops[2].Skipped, "a consumption on a skipped increment")
	assert.True(t, ops[3].Skipped, "a PutCode on a skipped increment")
}

// batchIfInvalid: a batch whose If names no earlier bounded increment is
// refused before any of its operations runs.
func batchIfInvalid(c ifCase) {
	t := c.t
	mark := store.Op{Kind: store.OpMarkUsed, Key: c.k("{u:if}inv"), Time: c.clk.Now().Add(time.Minute)}
	for name, bad := range map[string][]store.Op{
		"If names the operation itself":  {mark, c.consume("d", "h-d", 2)},
		"If names a later operation":     {c.consume("d", "h-d", 2), c.count("n", 5, false)},
		"If names no bounded increment":  {mark, c.consume("d", "h-d", 1)},
		"If is negative":                 {c.count("n", 5, false), c.consume("d", "h-d", -1)},
		"If names past the batch's last": {c.count("n", 5, false), c.consume("d", "h-d", 9)},
	} {
		require.Error(t, c.s.RunBatch(c.ctx, bad), name)
	}
	assert.Equal(t, store.CodeMatched, c.check("d", "h-d"), "no refused batch consumed the code")
	assert.False(t, c.marked("{u:if}inv"), "no operation of a refused batch ran")
}

// batchers returns s and, when Options.Shared is set, a second store on
// the same data, for races between two app instances.
func (h *harness) batchers(t *testing.T, s batchRunner, clk *Clock) []store.Batcher {
	stores := []store.Batcher{s}
	if h.opt.Shared {
		other, ok := h.newStore(t, clk.Now).(store.Batcher)
		require.True(t, ok, "the second store does not implement store.Batcher")
		stores = append(stores, other)
	}
	return stores
}

// raceIf races batches that each count one bounded counter and, on that
// condition, consume a code with a wrong hash: exactly as many
// consumptions run as calls are admitted, each using one of the code's
// attempts, and the others are skipped.
func (h *harness) raceIf(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	stores := h.batchers(t, s, clk)
	bound := max(int64(h.opt.Goroutines/4), 1)
	for r := 0; r < h.opt.Rounds/5+1; r++ {
		tag := fmt.Sprintf("{race-if-%d}", r)
		var calls, ran, skipped atomic.Int64
		g := k(tag + "g")
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "c", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: int(bound) + 1}))
		admitted := h.race(t, func() (bool, error) {
			i := calls.Add(1)
			ops := []store.Op{
				{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: k(tag + "c"), Window: time.Minute, Max: bound}}},
				{Kind: store.OpConsumeCode, Group: g, Key: "c", Hash: []byte("wrong"), If: 1},
			}
			if err := stores[int(i)%len(stores)].RunBatch(ctx, ops); err != nil {
				return false, err
			}
			switch {
			case ops[1].Skipped:
				skipped.Add(1)
			case ops[1].Status == store.CodeMismatch:
				ran.Add(1)
			default:
				return false, fmt.Errorf("a conditional consumption gave %v", ops[1].Status)
			}
			if ops[1].Skipped == ops[0].Bounded[0].Incremented {
				return false, fmt.Errorf("a call admitted %v had its consumption skipped %v", ops[0].Bounded[0].Incremented, ops[1].Skipped)
			}
			return ops[0].Bounded[0].Incremented, nil
		})
		require.EqualValues(t, bound, admitted, "round %d: calls admitted", r)
		require.Equal(t, int64(admitted), ran.Load(), "round %d: consumptions that ran", r)
		require.Equal(t, calls.Load()-int64(admitted), skipped.Load(), "round %d: consumptions skipped", r)
		st, err := s.ConsumeCode(ctx, g, "c", []byte("h"))
		require.NoError(t, err)
		require.Equal(t, store.CodeMatched, st, "round %d: one attempt left after %d that ran", r, ran.Load())
	}
}

// batchCodes checks ConsumeCode in a batch: a match takes the code, so a
// second consume of the same batch finds none; a wrong hash uses one
// attempt and leaves the code; a missing code is not found.
func batchCodes(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	g := k("{u:ann}codes")
	for _, key := range []string{"right", "wrong"} {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: key, Hash: []byte("h-" + key), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 3}))
	}
	ops := []store.Op{
		{Kind: store.OpConsumeCode, Group: g, Key: "right", Hash: []byte("h-right")},
		{Kind: store.OpConsumeCode, Group: g, Key: "right", Hash: []byte("h-right")},
		{Kind: store.OpConsumeCode, Group: g, Key: "wrong", Hash: []byte("not it")},
		{Kind: store.OpConsumeCode, Group: g, Key: "none", Hash: []byte("h")},
	}
	require.NoError(t, s.RunBatch(ctx, ops))
	assert.Equal(t, store.CodeMatched, ops[0].Status, "ConsumeCode")
	assert.Equal(t, store.CodeNotFound, ops[1].Status, "a code consumed by the operation before")
	assert.Equal(t, store.CodeMismatch, ops[2].Status, "a wrong hash")
	assert.Equal(t, store.CodeNotFound, ops[3].Status, "no code")
	st, err := s.ConsumeCode(ctx, g, "wrong", []byte("h-wrong"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeMatched, st, "a mismatch in a batch used one attempt, not the code")

	// PutCode stores the code, replacing one of the same key and
	// restarting its attempts; an operation after it sees it.
	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "put", Hash: []byte("old"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 1}))
	st, err = s.ConsumeCode(ctx, g, "put", []byte("not it"))
	require.NoError(t, err)
	require.Equal(t, store.CodeMismatch, st)
	ops = []store.Op{
		store.PutCodeOp(store.Code{Group: g, Key: "put", Hash: []byte("new"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 2}),
		{Kind: store.OpConsumeCode, Group: g, Key: "put", Hash: []byte("old")},
		{Kind: store.OpConsumeCode, Group: g, Key: "put", Hash: []byte("not it")},
	}
	require.NoError(t, s.RunBatch(ctx, ops))
	assert.Equal(t, store.CodeMismatch, ops[1].Status, "the code a PutCode of the batch replaced")
	assert.Equal(t, store.CodeMismatch, ops[2].Status, "a PutCode restarts the attempts")
	st, err = s.ConsumeCode(ctx, g, "put", []byte("new"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeExhausted, st, "the code a batch stored, its two attempts used")
}

// raceAdvance races batches that each advance one ledger key to the same
// value and, on that condition, end a challenge (a bounded increment to
// 1): exactly one raises the mark, and the end runs in exactly that one.
func (h *harness) raceAdvance(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	stores := h.batchers(t, s, clk)
	for r := 0; r < h.opt.Rounds/5+1; r++ {
		tag := fmt.Sprintf("{race-adv-%d}", r)
		var calls, ended atomic.Int64
		raised := h.race(t, func() (bool, error) {
			i := calls.Add(1)
			ops := []store.Op{
				{Kind: store.OpAdvance, Key: k(tag + "l"), Mark: 59_000_000, Time: clk.Now().Add(time.Minute)},
				{Kind: store.OpIncrBelow, If: 1, Incrs: []store.BoundedIncr{{Key: k(tag + "done"), Window: time.Minute, Max: 1}}},
			}
			if err := stores[int(i)%len(stores)].RunBatch(ctx, ops); err != nil {
				return false, err
			}
			if ops[1].Skipped == ops[0].First {
				return false, fmt.Errorf("an advance that raised the mark %v had its end skipped %v", ops[0].First, ops[1].Skipped)
			}
			if !ops[1].Skipped && ops[1].Bounded[0].Incremented {
				ended.Add(1)
			}
			return ops[0].First, nil
		})
		require.Equal(t, 1, raised, "round %d: advances that raised the mark", r)
		require.Equal(t, int64(1), ended.Load(), "round %d: ends that ran", r)
	}
}

// batchInvalid checks that a batch with an unknown operation, or a
// bounded increment naming a key twice, is refused before any operation
// runs, and that a canceled context is an error.
func (h *harness) batchInvalid(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	mark := store.Op{Kind: store.OpMarkUsed, Key: k("inv-mark"), Time: clk.Now().Add(time.Minute)}
	for name, bad := range map[string]store.Op{
		"unknown kind": {Kind: 200, Key: k("x")},
		"zero kind":    {Key: k("x")},
		"key twice": {Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{
			{Key: k("inv-c"), Window: time.Minute, Max: 5}, {Key: k("inv-c"), Window: time.Minute, Max: 5}}},
	} {
		require.Error(t, s.RunBatch(ctx, []store.Op{mark, bad}), name)
		n, _, err := s.Peek(ctx, k("inv-c"))
		require.NoError(t, err)
		assert.Zero(t, n, "%s: nothing counted", name)
	}
	first, err := s.MarkUsed(ctx, k("inv-mark"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first, "no operation of a refused batch ran")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, s.RunBatch(canceled, []store.Op{{Kind: store.OpMarkUsed, Key: k("inv-canceled"), Time: clk.Now().Add(time.Minute)}}))
	require.NoError(t, s.RunBatch(ctx, nil), "an empty batch")
}

// raceBatch races batches that each mark one key used, count one bounded
// counter and consume one code: exactly one gets the mark, exactly one
// the code, and exactly as many are admitted as the bound allows.
func (h *harness) raceBatch(t *testing.T, s batchRunner, clk *Clock, k func(string) string, ctx context.Context) {
	stores := h.batchers(t, s, clk)
	bound := max(int64(h.opt.Goroutines/4), 1)
	for r := 0; r < h.opt.Rounds/5+1; r++ {
		tag := fmt.Sprintf("{race-batch-%d}", r)
		var admitted, calls, consumed atomic.Int64
		require.NoError(t, s.PutCode(ctx, store.Code{Group: k(tag + "g"), Key: "c", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute)}))
		marks := h.race(t, func() (bool, error) {
			i := calls.Add(1)
			ops := []store.Op{
				{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: k(tag + "c"), Window: time.Minute, Max: bound}}},
				{Kind: store.OpMarkUsed, Key: k(tag + "m"), Time: clk.Now().Add(time.Minute)},
				{Kind: store.OpConsumeCode, Group: k(tag + "g"), Key: "c", Hash: []byte("h")},
			}
			if err := stores[int(i)%len(stores)].RunBatch(ctx, ops); err != nil {
				return false, err
			}
			if ops[0].Bounded[0].Incremented {
				admitted.Add(1)
			}
			if ops[2].Status == store.CodeMatched {
				consumed.Add(1)
			}
			return ops[1].First, nil
		})
		require.Equal(t, 1, marks, "round %d: the key was marked used %d times", r, marks)
		require.Equal(t, bound, admitted.Load(), "round %d: calls admitted", r)
		require.EqualValues(t, 1, consumed.Load(), "round %d: the code was consumed %d times", r, consumed.Load())
	}
}
