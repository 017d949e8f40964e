package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// A check entry on a store without BoundedCounters is read with Peek,
// never incremented, and never taken back: a full one refuses the call.
func TestIncrAllBelowFallbackCheck(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	d := &decrCounting{plainCounters: plainCounters{c: mem}}
	gate := store.BoundedIncr{Key: "gate", Window: time.Hour, Max: 2, Check: true}
	sends := store.BoundedIncr{Key: "sends", Window: time.Minute, Max: 5}

	out, err := store.IncrAllBelow(ctx, d, []store.BoundedIncr{gate, sends}, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, -1, store.FirstFull(out))
	assert.Equal(t, store.BoundedValue{Max: 2}, out[0], "a missing check is read, not created")
	assert.True(t, out[1].Incremented)
	assert.Zero(t, d.decrs)

	for range 2 {
		_, _, err := mem.Incr(ctx, "gate", time.Hour)
		require.NoError(t, err)
	}
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{gate, sends}, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, 0, store.FirstFull(out), "a full check refuses")
	assert.False(t, out[0].Incremented)
	assert.Equal(t, 1, d.decrs, "only the counted entry is taken back")
	for key, want := range map[string]int64{"gate": 2, "sends": 1} {
		n, _, err := mem.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, n, key)
	}
}

// plainStore is a Memory that hides RunBatch, so RunBatch runs one
// operation after another.
type plainStore struct{ store.Store }

// RunBatch on a store without Batcher runs the same operations through
// their own methods, with the same results, and names the interface a
// store lacks for an operation.
func TestRunBatchFallback(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	p := plainStore{mem}
	_, isBatcher := any(p).(store.Batcher)
	require.False(t, isBatcher)
	require.NoError(t, mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "ann", ID: "e1", Method: "totp", CreatedAt: clk.Now()}))
	require.NoError(t, mem.PutState(ctx, "st", []byte("v"), clk.Now().Add(time.Minute)))
	used := clk.Now().Add(time.Second)
	for name, st := range map[string]any{"Batcher": mem, "fallback": p} {
		ops := []store.Op{
			{Kind: store.OpGetState, Key: "st"},
			{Kind: store.OpGetState, Key: "none-" + name},
			{Kind: store.OpListEnrollments, UserID: "ann"},
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c-" + name, Window: time.Minute, Max: 1}}},
			{Kind: store.OpMarkUsed, Key: "m-" + name, Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpMarkUsed, Key: "m-" + name, Time: clk.Now().Add(time.Minute)},
			{Kind: store.OpPeek, Key: "c-" + name},
			{Kind: store.OpResetCounter, Key: "c-" + name},
			{Kind: store.OpTouchEnrollment, UserID: "ann", ID: "e1", Time: used},
		}
		require.NoError(t, store.RunBatch(ctx, st, ops, clk.Now()), name)
		assert.Equal(t, []byte("v"), ops[0].Value, name)
		assert.False(t, ops[1].Found, name)
		assert.Len(t, ops[2].Records, 1, name)
		assert.True(t, ops[3].Bounded[0].Incremented, name)
		assert.True(t, ops[4].First, name)
		assert.False(t, ops[5].First, name)
		assert.Equal(t, int64(1), ops[6].Counter.N, name)
		n, _, err := mem.Peek(ctx, "c-"+name)
		require.NoError(t, err)
		assert.Zero(t, n, name+": reset")
		rec, err := mem.GetEnrollment(ctx, "ann", "e1")
		require.NoError(t, err)
		assert.True(t, rec.LastUsedAt.Equal(used), name+": touched")
	}

	// A touch through the fallback on a store without EnrollmentToucher
	// rewrites only a later time.
	require.NoError(t, store.RunOp(ctx, plainEnrollments{mem}, &store.Op{Kind: store.OpTouchEnrollment, UserID: "ann", ID: "e1", Time: used.Add(-time.Hour)}, clk.Now()))
	rec, err := mem.GetEnrollment(ctx, "ann", "e1")
	require.NoError(t, err)
	assert.True(t, rec.LastUsedAt.Equal(used), "an earlier time is not written")
	require.NoError(t, store.RunOp(ctx, plainEnrollments{mem}, &store.Op{Kind: store.OpTouchEnrollment, UserID: "ann", ID: "e1", Time: used.Add(time.Hour)}, clk.Now()))
	rec, err = mem.GetEnrollment(ctx, "ann", "e1")
	require.NoError(t, err)
	assert.True(t, rec.LastUsedAt.Equal(used.Add(time.Hour)), "a later time is written")
	require.NoError(t, store.RunOp(ctx, plainEnrollments{mem}, &store.Op{Kind: store.OpTouchEnrollment, UserID: "ann", ID: "gone", Time: used}, clk.Now()))
	_, err = mem.GetEnrollment(ctx, "ann", "gone")
	require.ErrorIs(t, err, store.ErrNotFound, "a touch creates nothing")

	err = store.RunBatch(ctx, plainCounters{c: mem}, []store.Op{{Kind: store.OpGetState, Key: "st"}}, clk.Now())
	require.ErrorContains(t, err, "store.States", "a store without the operation's interface")
	err = store.RunBatch(ctx, mem, []store.Op{{Kind: 99}}, clk.Now())
	require.Error(t, err, "an unknown operation")
	assert.Equal(t, "op(99)", store.OpKind(99).String())
	assert.Equal(t, "incr_below", store.OpIncrBelow.String())
}

// plainEnrollments has Enrollments without EnrollmentToucher.
type plainEnrollments struct{ m *store.Memory }

func (p plainEnrollments) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	return p.m.PutEnrollment(ctx, e)
}
func (p plainEnrollments) GetEnrollment(ctx context.Context, u, id string) (store.EnrollmentRecord, error) {
	return p.m.GetEnrollment(ctx, u, id)
}
func (p plainEnrollments) ListEnrollments(ctx context.Context, u string) ([]store.EnrollmentRecord, error) {
	return p.m.ListEnrollments(ctx, u)
}
func (p plainEnrollments) DeleteEnrollment(ctx context.Context, u, id string) error {
	return p.m.DeleteEnrollment(ctx, u, id)
}

// ignoresIf is a Batcher that runs every operation, its If unread.
type ignoresIf struct{ *store.Memory }

func (s ignoresIf) RunBatch(ctx context.Context, ops []store.Op) error {
	for i := range ops {
		if err := store.RunOp(ctx, s.Memory, &ops[i], time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// A conditional operation runs, through RunBatch, on a store without
// batches as on one with them: when its increment admits the call, and
// not when that refuses it. A Batcher that ran one its condition refused
// (one written before Op.If, which ignores it) makes RunBatch an error,
// never a result.
func TestRunBatchIf(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	code := store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute)}
	for name, st := range map[string]any{"Batcher": mem, "fallback": plainStore{mem}, "ignores If": ignoresIf{mem}} {
		require.NoError(t, mem.PutCode(ctx, code))
		ops := []store.Op{
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "full", Window: time.Minute, Max: 0}}},
			{Kind: store.OpConsumeCode, Group: "g", Key: "k", Hash: []byte("h"), If: 1},
		}
		err := store.RunBatch(ctx, st, ops, clk.Now())
		if name == "ignores If" {
			require.ErrorContains(t, err, "must honor Op.If", name)
			continue
		}
		require.NoError(t, err, name)
		assert.True(t, ops[1].Skipped, name)
		ops = []store.Op{
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "c-" + name, Window: time.Minute, Max: 1}}},
			{Kind: store.OpConsumeCode, Group: "g", Key: "k", Hash: []byte("h"), If: 1},
			store.PutCodeOp(code),
		}
		ops[2].If = 1
		require.NoError(t, store.RunBatch(ctx, st, ops, clk.Now()), name)
		assert.False(t, ops[1].Skipped, name)
		assert.Equal(t, store.CodeMatched, ops[1].Status, "%s: the consumption ran", name)
		status, err := mem.ConsumeCode(ctx, "g", "k", []byte("h"))
		require.NoError(t, err)
		assert.Equal(t, store.CodeMatched, status, "%s: the PutCode ran", name)
	}
}

// shortResults is a Batcher that runs a batch and then drops the last
// result of every bounded increment.
type shortResults struct{ *store.Memory }

func (s shortResults) RunBatch(ctx context.Context, ops []store.Op) error {
	if err := s.Memory.RunBatch(ctx, ops); err != nil {
		return err
	}
	for i := range ops {
		if n := len(ops[i].Bounded); n > 0 {
			ops[i].Bounded = ops[i].Bounded[:n-1]
		}
	}
	return nil
}

// RunBatch refuses the results of a Batcher that answered a bounded
// increment with fewer results than entries: the caller would read past
// them.
func TestRunBatchChecksResultCounts(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	ops := []store.Op{{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "a", Window: time.Minute, Max: 5}, {Key: "b", Window: time.Minute, Max: 5}}}}
	require.ErrorContains(t, store.RunBatch(ctx, shortResults{store.NewMemory(clk.Now)}, ops, clk.Now()), "result count")
}

func TestOpKindString(t *testing.T) {
	assert.Equal(t, "put_code", store.OpPutCode.String())
	assert.Equal(t, "consume_code", store.OpConsumeCode.String())
	assert.Equal(t, "op(0)", store.OpKind(0).String())
	assert.Equal(t, "advance", store.OpAdvance.String())
	assert.Equal(t, "op(11)", (store.OpAdvance + 1).String(), "the first kind past the last")
}
